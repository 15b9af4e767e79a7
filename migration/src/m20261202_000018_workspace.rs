//! Durable AI work for the workspace (issue 12): `ai_jobs`, one row per queued run of an
//! analysis or a business solution. A job outlives the request that queued it and the server
//! that ran it: a worker claims it by taking a lease (`lease_owner`, `lease_until`), renews the
//! lease while it runs, and writes its result only while it still holds it; a job whose lease
//! expired (its server died) is claimed again. `run_at` is when it may next run (later after a
//! provider failure: exponential backoff); `attempts` counts claims, up to `max_attempts`.
//!
//! `kind` names the handler (`analysis`, `contract_analysis`, ...), `subject_id` the row it
//! fills; `status` is PENDING, RUNNING, DONE, FAILED or CANCELLED.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    integer, string, string_null, text_null, timestamp_with_time_zone,
    timestamp_with_time_zone_null,
};

use crate::ddl::{create_indexes, drop_tables, index, pk_text, timestamp_now};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AiJobs::Table)
                    .col(pk_text(AiJobs::Id))
                    .col(string(AiJobs::Kind))
                    .col(string(AiJobs::SubjectId))
                    .col(string_null(AiJobs::UserId))
                    .col(string(AiJobs::Status).default("PENDING"))
                    .col(integer(AiJobs::Attempts).default(0))
                    .col(integer(AiJobs::MaxAttempts).default(3))
                    .col(timestamp_with_time_zone(AiJobs::RunAt))
                    .col(string_null(AiJobs::LeaseOwner))
                    .col(timestamp_with_time_zone_null(AiJobs::LeaseUntil))
                    .col(text_null(AiJobs::LastError))
                    .col(timestamp_now(AiJobs::CreatedAt))
                    .col(timestamp_now(AiJobs::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            [
                index(AiJobs::Table, [AiJobs::Status, AiJobs::RunAt]),
                index(AiJobs::Table, [AiJobs::SubjectId]),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, [AiJobs::Table.into_iden()]).await
    }
}

#[derive(DeriveIden)]
pub(crate) enum AiJobs {
    Table,
    Id,
    Kind,
    SubjectId,
    UserId,
    Status,
    Attempts,
    MaxAttempts,
    RunAt,
    LeaseOwner,
    LeaseUntil,
    LastError,
    CreatedAt,
    UpdatedAt,
}
