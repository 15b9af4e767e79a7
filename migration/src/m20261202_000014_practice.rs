//! The practice coach's session clock: `conversations.active_since` is when the current active
//! stretch of a session began (set when it starts and when it resumes, cleared when it pauses or
//! ends), so `duration_seconds` can count active time only, pauses excluded. An index on
//! (`status`, `updated_at`) lets the idle sweep find open sessions that went quiet.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::timestamp_with_time_zone_null;

#[derive(DeriveMigrationName)]
pub struct Migration;

const INDEX: &str = "idx_conversations_status_updated";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Conversations::Table)
                    .add_column(timestamp_with_time_zone_null(Conversations::ActiveSince))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(INDEX)
                    .table(Conversations::Table)
                    .col(Conversations::Status)
                    .col(Conversations::UpdatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(INDEX)
                    .table(Conversations::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Conversations::Table)
                    .drop_column(Conversations::ActiveSince)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Conversations {
    Table,
    ActiveSince,
    Status,
    UpdatedAt,
}
