//! The job marketplace (Azora, seed 004, fields designed here): job listings, applications, the
//! skills catalogue, and which skills users have and jobs require (two join tables).
//!
//! Salaries are integer amounts in the currency's smallest unit. A job stays listed when the
//! account that posted it is deleted (applicants' applications hang off it), so its poster is
//! SET NULL; seeded jobs have no poster at all.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer_null, boolean, integer_null, string, string_null, text, text_null,
    timestamp_with_time_zone_null,
};

use crate::ddl::{
    create_indexes, drop_tables, foreign_key, index, named_index, pk_text, timestamp_now, unique,
};
use crate::m20261121_000001_identity::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Jobs::Table)
                    .col(pk_text(Jobs::Id))
                    .col(string(Jobs::Title))
                    .col(text(Jobs::Description))
                    .col(string(Jobs::Company))
                    .col(string_null(Jobs::Location))
                    .col(string(Jobs::EmploymentType).default("FULL_TIME"))
                    .col(boolean(Jobs::IsRemote).default(false))
                    .col(big_integer_null(Jobs::SalaryMin))
                    .col(big_integer_null(Jobs::SalaryMax))
                    .col(string_null(Jobs::SalaryCurrency))
                    .col(string(Jobs::Status).default("OPEN"))
                    .col(string_null(Jobs::PostedById))
                    .col(timestamp_with_time_zone_null(Jobs::ExpiresAt))
                    .col(timestamp_now(Jobs::CreatedAt))
                    .col(timestamp_now(Jobs::UpdatedAt))
                    .foreign_key(&mut foreign_key(
                        Jobs::Table,
                        Jobs::PostedById,
                        Users::Table,
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(JobApplications::Table)
                    .col(pk_text(JobApplications::Id))
                    .col(string(JobApplications::JobId))
                    .col(string(JobApplications::UserId))
                    .col(text_null(JobApplications::CoverLetter))
                    .col(string_null(JobApplications::ResumeUrl))
                    .col(string(JobApplications::Status).default("SUBMITTED"))
                    .col(timestamp_with_time_zone_null(JobApplications::ReviewedAt))
                    .col(timestamp_now(JobApplications::CreatedAt))
                    .col(timestamp_now(JobApplications::UpdatedAt))
                    .foreign_key(&mut foreign_key(
                        JobApplications::Table,
                        JobApplications::JobId,
                        Jobs::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut foreign_key(
                        JobApplications::Table,
                        JobApplications::UserId,
                        Users::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Skills::Table)
                    .col(pk_text(Skills::Id))
                    .col(string(Skills::Name))
                    .col(string_null(Skills::Category))
                    .col(text_null(Skills::Description))
                    .col(timestamp_now(Skills::CreatedAt))
                    .col(timestamp_now(Skills::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(UserSkills::Table)
                    .col(string(UserSkills::UserId))
                    .col(string(UserSkills::SkillId))
                    .col(string(UserSkills::Level).default("BEGINNER"))
                    .col(integer_null(UserSkills::YearsExperience))
                    .col(boolean(UserSkills::Verified).default(false))
                    .col(timestamp_now(UserSkills::CreatedAt))
                    .col(timestamp_now(UserSkills::UpdatedAt))
                    .primary_key(
                        Index::create()
                            .col(UserSkills::UserId)
                            .col(UserSkills::SkillId),
                    )
                    .foreign_key(&mut foreign_key(
                        UserSkills::Table,
                        UserSkills::UserId,
                        Users::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut foreign_key(
                        UserSkills::Table,
                        UserSkills::SkillId,
                        Skills::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(JobSkills::Table)
                    .col(string(JobSkills::JobId))
                    .col(string(JobSkills::SkillId))
                    .col(boolean(JobSkills::IsRequired).default(true))
                    .col(string_null(JobSkills::MinLevel))
                    .col(timestamp_now(JobSkills::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(JobSkills::JobId)
                            .col(JobSkills::SkillId),
                    )
                    .foreign_key(&mut foreign_key(
                        JobSkills::Table,
                        JobSkills::JobId,
                        Jobs::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut foreign_key(
                        JobSkills::Table,
                        JobSkills::SkillId,
                        Skills::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;

        create_indexes(
            manager,
            [
                index(Jobs::Table, [Jobs::PostedById]),
                index(Jobs::Table, [Jobs::Status, Jobs::CreatedAt]),
                unique(
                    JobApplications::Table,
                    [JobApplications::JobId, JobApplications::UserId],
                ),
                named_index(
                    "idx_job_applications_user_created",
                    JobApplications::Table,
                    [
                        JobApplications::UserId,
                        JobApplications::CreatedAt,
                        JobApplications::Id,
                    ],
                ),
                unique(Skills::Table, [Skills::Name]),
                index(UserSkills::Table, [UserSkills::SkillId]),
                index(JobSkills::Table, [JobSkills::SkillId]),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(
            manager,
            [
                JobSkills::Table.into_iden(),
                UserSkills::Table.into_iden(),
                Skills::Table.into_iden(),
                JobApplications::Table.into_iden(),
                Jobs::Table.into_iden(),
            ],
        )
        .await
    }
}

#[derive(DeriveIden)]
enum Jobs {
    Table,
    Id,
    Title,
    Description,
    Company,
    Location,
    EmploymentType,
    IsRemote,
    SalaryMin,
    SalaryMax,
    SalaryCurrency,
    Status,
    PostedById,
    ExpiresAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum JobApplications {
    Table,
    Id,
    JobId,
    UserId,
    CoverLetter,
    ResumeUrl,
    Status,
    ReviewedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Skills {
    Table,
    Id,
    Name,
    Category,
    Description,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum UserSkills {
    Table,
    UserId,
    SkillId,
    Level,
    YearsExperience,
    Verified,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum JobSkills {
    Table,
    JobId,
    SkillId,
    IsRequired,
    MinLevel,
    CreatedAt,
}
