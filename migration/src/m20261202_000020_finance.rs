//! Azora's finance and education, made usable: what the first migrations' tables lacked.
//!
//! - `idempotency_keys`: one row per (user, key) of every money mutation (transfer, payment,
//!   refund), written first in the mutation's transaction. The unique index decides races: the
//!   loser waits for the winner, finds its row and answers the winner's result (`result_id`);
//!   `fingerprint` recognises a key reused for a different request (CONFLICT).
//! - `assessments` are an educator's definitions (`user_id` is their author) with a pass mark
//!   (percent) and a difficulty, which with the score decides the mining reward;
//!   `assessment_submissions` are learners' attempts, graded automatically (quizzes, exams) or by
//!   an educator (assignments).
//! - `course_modules.required`: completion needs every required module; `module_progress` records
//!   which modules an enrolment has completed.
//! - `mining_activities`: at most one per (user, assessment), so a reward is minted once.
//! - `payments.purpose`: TOP_UP (credits the wallet) or WITHDRAWAL (debits it).
//! - `learning_paths.curated`: Azora's curated paths, told apart from SkillPath runs.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    boolean, boolean_null, integer, integer_null, json_binary_null, string, string_null, text,
    text_null, timestamp_with_time_zone, timestamp_with_time_zone_null,
};

use crate::ddl::{
    create_indexes, drop_tables, foreign_key, index, named_index, pk_text, timestamp_now, unique,
};
use crate::m20261121_000001_identity::Users;
use crate::m20261121_000006_education::Assessments;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(IdempotencyKeys::Table)
                    .col(pk_text(IdempotencyKeys::Id))
                    .col(string(IdempotencyKeys::UserId))
                    .col(string(IdempotencyKeys::Key))
                    .col(string(IdempotencyKeys::Operation))
                    .col(text(IdempotencyKeys::Fingerprint))
                    .col(string_null(IdempotencyKeys::ResultId))
                    .col(timestamp_now(IdempotencyKeys::CreatedAt))
                    .foreign_key(&mut foreign_key(
                        IdempotencyKeys::Table,
                        IdempotencyKeys::UserId,
                        Users::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AssessmentSubmissions::Table)
                    .col(pk_text(AssessmentSubmissions::Id))
                    .col(string(AssessmentSubmissions::AssessmentId))
                    .col(string(AssessmentSubmissions::UserId))
                    .col(json_binary_null(AssessmentSubmissions::Answers))
                    .col(integer_null(AssessmentSubmissions::Score))
                    .col(integer_null(AssessmentSubmissions::MaxScore))
                    .col(boolean_null(AssessmentSubmissions::Passed))
                    .col(string(AssessmentSubmissions::Status).default("SUBMITTED"))
                    .col(text_null(AssessmentSubmissions::Feedback))
                    .col(string_null(AssessmentSubmissions::GradedBy))
                    .col(timestamp_with_time_zone(AssessmentSubmissions::SubmittedAt))
                    .col(timestamp_with_time_zone_null(
                        AssessmentSubmissions::GradedAt,
                    ))
                    .col(timestamp_now(AssessmentSubmissions::CreatedAt))
                    .col(timestamp_now(AssessmentSubmissions::UpdatedAt))
                    .foreign_key(&mut foreign_key(
                        AssessmentSubmissions::Table,
                        AssessmentSubmissions::AssessmentId,
                        Assessments::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut foreign_key(
                        AssessmentSubmissions::Table,
                        AssessmentSubmissions::UserId,
                        Users::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut foreign_key(
                        AssessmentSubmissions::Table,
                        AssessmentSubmissions::GradedBy,
                        Users::Table,
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ModuleProgress::Table)
                    .col(string(ModuleProgress::EnrollmentId))
                    .col(string(ModuleProgress::ModuleId))
                    .col(timestamp_with_time_zone(ModuleProgress::CompletedAt))
                    .primary_key(
                        Index::create()
                            .col(ModuleProgress::EnrollmentId)
                            .col(ModuleProgress::ModuleId),
                    )
                    .foreign_key(&mut foreign_key(
                        ModuleProgress::Table,
                        ModuleProgress::EnrollmentId,
                        Enrollments::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut foreign_key(
                        ModuleProgress::Table,
                        ModuleProgress::ModuleId,
                        CourseModules::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;

        // SQLite takes one column per ALTER TABLE.
        let columns: Vec<(DynIden, ColumnDef)> = vec![
            (
                Assessments::Table.into_iden(),
                integer(AssessmentsMore::PassMark).default(60).take(),
            ),
            (
                Assessments::Table.into_iden(),
                string(AssessmentsMore::Difficulty)
                    .default("BEGINNER")
                    .take(),
            ),
            (
                CourseModules::Table.into_iden(),
                boolean(CourseModules::Required).default(true).take(),
            ),
            (
                Payments::Table.into_iden(),
                string(Payments::Purpose).default("TOP_UP").take(),
            ),
            (
                LearningPaths::Table.into_iden(),
                boolean(LearningPaths::Curated).default(false).take(),
            ),
        ];
        for (table, mut column) in columns {
            manager
                .alter_table(
                    Table::alter()
                        .table(table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }

        create_indexes(manager, indexes()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for stmt in [
            unique(
                MiningActivities::Table,
                [MiningActivities::UserId, MiningActivities::AssessmentId],
            ),
            index(LearningPaths::Table, [LearningPaths::Curated]),
        ] {
            let name = stmt
                .get_index_spec()
                .get_name()
                .unwrap_or_default()
                .to_owned();
            manager
                .drop_index(Index::drop().name(name).to_owned())
                .await?;
        }
        let columns: Vec<(DynIden, DynIden)> = vec![
            (
                Assessments::Table.into_iden(),
                AssessmentsMore::PassMark.into_iden(),
            ),
            (
                Assessments::Table.into_iden(),
                AssessmentsMore::Difficulty.into_iden(),
            ),
            (
                CourseModules::Table.into_iden(),
                CourseModules::Required.into_iden(),
            ),
            (Payments::Table.into_iden(), Payments::Purpose.into_iden()),
            (
                LearningPaths::Table.into_iden(),
                LearningPaths::Curated.into_iden(),
            ),
        ];
        for (table, column) in columns {
            manager
                .alter_table(Table::alter().table(table).drop_column(column).to_owned())
                .await?;
        }
        drop_tables(
            manager,
            [
                ModuleProgress::Table.into_iden(),
                AssessmentSubmissions::Table.into_iden(),
                IdempotencyKeys::Table.into_iden(),
            ],
        )
        .await
    }
}

fn indexes() -> Vec<IndexCreateStatement> {
    vec![
        unique(
            IdempotencyKeys::Table,
            [IdempotencyKeys::UserId, IdempotencyKeys::Key],
        ),
        index(
            AssessmentSubmissions::Table,
            [
                AssessmentSubmissions::AssessmentId,
                AssessmentSubmissions::CreatedAt,
            ],
        ),
        named_index(
            "idx_assessment_submissions_user_created",
            AssessmentSubmissions::Table,
            [
                AssessmentSubmissions::UserId,
                AssessmentSubmissions::CreatedAt,
                AssessmentSubmissions::Id,
            ],
        ),
        index(
            AssessmentSubmissions::Table,
            [AssessmentSubmissions::GradedBy],
        ),
        index(ModuleProgress::Table, [ModuleProgress::ModuleId]),
        unique(
            MiningActivities::Table,
            [MiningActivities::UserId, MiningActivities::AssessmentId],
        ),
        index(LearningPaths::Table, [LearningPaths::Curated]),
    ]
}

#[derive(DeriveIden)]
enum IdempotencyKeys {
    Table,
    Id,
    UserId,
    Key,
    Operation,
    Fingerprint,
    ResultId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum AssessmentSubmissions {
    Table,
    Id,
    AssessmentId,
    UserId,
    Answers,
    Score,
    MaxScore,
    Passed,
    Status,
    Feedback,
    GradedBy,
    SubmittedAt,
    GradedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ModuleProgress {
    Table,
    EnrollmentId,
    ModuleId,
    CompletedAt,
}

#[derive(DeriveIden)]
enum AssessmentsMore {
    PassMark,
    Difficulty,
}

#[derive(DeriveIden)]
enum Enrollments {
    Table,
}

#[derive(DeriveIden)]
enum CourseModules {
    Table,
    Required,
}

#[derive(DeriveIden)]
enum Payments {
    Table,
    Purpose,
}

#[derive(DeriveIden)]
enum LearningPaths {
    Table,
    Curated,
}

#[derive(DeriveIden)]
enum MiningActivities {
    Table,
    UserId,
    AssessmentId,
}
