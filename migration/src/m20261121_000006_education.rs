//! Education (Azora, seed 004, which names the models without fields): the course catalogue and
//! its modules, enrollments, a user's assessments, and the ordered courses of curated learning
//! paths.
//!
//! Statuses and levels are text in SCREAMING_CASE like the other seeds. Course prices are an
//! integer count of the currency's smallest unit (0 = free). Module and path order is an explicit
//! `position`, not unique, so that reordering never trips over itself mid-update.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, boolean_null, integer, integer_null, json_binary, json_binary_null, string,
    string_null, text, text_null, timestamp_with_time_zone_null,
};

use crate::ddl::{
    create_indexes, drop_tables, foreign_key, index, named_index, pk_text, timestamp_now, unique,
};
use crate::m20261121_000001_identity::Users;
use crate::m20261121_000002_workspace::LearningPaths;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Courses::Table)
                    .col(pk_text(Courses::Id))
                    .col(string(Courses::Slug))
                    .col(string(Courses::Title))
                    .col(text(Courses::Description))
                    .col(string(Courses::Level).default("BEGINNER"))
                    .col(string_null(Courses::Category))
                    .col(json_binary(Courses::Tags).default("[]"))
                    .col(string(Courses::Language).default("en"))
                    .col(string_null(Courses::InstructorId))
                    .col(string_null(Courses::ThumbnailUrl))
                    .col(integer_null(Courses::DurationMinutes))
                    .col(big_integer(Courses::Price).default(0))
                    .col(string(Courses::Currency).default("AZR"))
                    .col(string(Courses::Status).default("DRAFT"))
                    .col(timestamp_with_time_zone_null(Courses::PublishedAt))
                    .col(timestamp_now(Courses::CreatedAt))
                    .col(timestamp_now(Courses::UpdatedAt))
                    // The catalogue outlives the educator who wrote a course.
                    .foreign_key(&mut foreign_key(
                        Courses::Table,
                        Courses::InstructorId,
                        Users::Table,
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(CourseModules::Table)
                    .col(pk_text(CourseModules::Id))
                    .col(string(CourseModules::CourseId))
                    .col(string(CourseModules::Title))
                    .col(text_null(CourseModules::Description))
                    .col(text_null(CourseModules::Content))
                    .col(string_null(CourseModules::VideoUrl))
                    .col(integer(CourseModules::Position))
                    .col(integer_null(CourseModules::DurationMinutes))
                    .col(timestamp_now(CourseModules::CreatedAt))
                    .col(timestamp_now(CourseModules::UpdatedAt))
                    .foreign_key(&mut foreign_key(
                        CourseModules::Table,
                        CourseModules::CourseId,
                        Courses::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Enrollments::Table)
                    .col(pk_text(Enrollments::Id))
                    .col(string(Enrollments::UserId))
                    .col(string(Enrollments::CourseId))
                    .col(string(Enrollments::Status).default("ACTIVE"))
                    .col(integer(Enrollments::Progress).default(0))
                    .col(timestamp_with_time_zone_null(Enrollments::CompletedAt))
                    .col(timestamp_with_time_zone_null(Enrollments::LastAccessedAt))
                    .col(timestamp_now(Enrollments::CreatedAt))
                    .col(timestamp_now(Enrollments::UpdatedAt))
                    .foreign_key(&mut foreign_key(
                        Enrollments::Table,
                        Enrollments::UserId,
                        Users::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut foreign_key(
                        Enrollments::Table,
                        Enrollments::CourseId,
                        Courses::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Assessments::Table)
                    .col(pk_text(Assessments::Id))
                    .col(string(Assessments::UserId))
                    .col(string(Assessments::CourseId))
                    .col(string_null(Assessments::ModuleId))
                    .col(string(Assessments::Type))
                    .col(string(Assessments::Title))
                    .col(json_binary(Assessments::Questions).default("[]"))
                    .col(json_binary_null(Assessments::Answers))
                    .col(integer_null(Assessments::Score))
                    .col(integer_null(Assessments::MaxScore))
                    .col(boolean_null(Assessments::Passed))
                    .col(string(Assessments::Status).default("PENDING"))
                    .col(text_null(Assessments::Feedback))
                    .col(timestamp_with_time_zone_null(Assessments::SubmittedAt))
                    .col(timestamp_with_time_zone_null(Assessments::GradedAt))
                    .col(timestamp_now(Assessments::CreatedAt))
                    .col(timestamp_now(Assessments::UpdatedAt))
                    .foreign_key(&mut foreign_key(
                        Assessments::Table,
                        Assessments::UserId,
                        Users::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut foreign_key(
                        Assessments::Table,
                        Assessments::CourseId,
                        Courses::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut foreign_key(
                        Assessments::Table,
                        Assessments::ModuleId,
                        CourseModules::Table,
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(LearningPathCourses::Table)
                    .col(string(LearningPathCourses::LearningPathId))
                    .col(string(LearningPathCourses::CourseId))
                    .col(integer(LearningPathCourses::Position))
                    .col(timestamp_now(LearningPathCourses::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(LearningPathCourses::LearningPathId)
                            .col(LearningPathCourses::CourseId),
                    )
                    .foreign_key(&mut foreign_key(
                        LearningPathCourses::Table,
                        LearningPathCourses::LearningPathId,
                        LearningPaths::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut foreign_key(
                        LearningPathCourses::Table,
                        LearningPathCourses::CourseId,
                        Courses::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;

        create_indexes(
            manager,
            [
                unique(Courses::Table, [Courses::Slug]),
                index(Courses::Table, [Courses::InstructorId]),
                index(Courses::Table, [Courses::Status, Courses::CreatedAt]),
                index(
                    CourseModules::Table,
                    [CourseModules::CourseId, CourseModules::Position],
                ),
                unique(
                    Enrollments::Table,
                    [Enrollments::UserId, Enrollments::CourseId],
                ),
                index(Enrollments::Table, [Enrollments::CourseId]),
                named_index(
                    "idx_assessments_user_created",
                    Assessments::Table,
                    [Assessments::UserId, Assessments::CreatedAt, Assessments::Id],
                ),
                index(Assessments::Table, [Assessments::CourseId]),
                index(Assessments::Table, [Assessments::ModuleId]),
                index(LearningPathCourses::Table, [LearningPathCourses::CourseId]),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(
            manager,
            [
                LearningPathCourses::Table.into_iden(),
                Assessments::Table.into_iden(),
                Enrollments::Table.into_iden(),
                CourseModules::Table.into_iden(),
                Courses::Table.into_iden(),
            ],
        )
        .await
    }
}

#[derive(DeriveIden)]
pub(crate) enum Courses {
    Table,
    Id,
    Slug,
    Title,
    Description,
    Level,
    Category,
    Tags,
    Language,
    InstructorId,
    ThumbnailUrl,
    DurationMinutes,
    Price,
    Currency,
    Status,
    PublishedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum CourseModules {
    Table,
    Id,
    CourseId,
    Title,
    Description,
    Content,
    VideoUrl,
    Position,
    DurationMinutes,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Enrollments {
    Table,
    Id,
    UserId,
    CourseId,
    Status,
    Progress,
    CompletedAt,
    LastAccessedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
pub(crate) enum Assessments {
    Table,
    Id,
    UserId,
    CourseId,
    ModuleId,
    Type,
    Title,
    Questions,
    Answers,
    Score,
    MaxScore,
    Passed,
    Status,
    Feedback,
    SubmittedAt,
    GradedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum LearningPathCourses {
    Table,
    LearningPathId,
    CourseId,
    Position,
    CreatedAt,
}
