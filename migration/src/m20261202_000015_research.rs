//! Research access and telemetry: an observation note may point at one message of the session it
//! is about (`observation_notes.message_id`, SET NULL when the message goes), and the lists the
//! research API pages through get indexes that serve their order: a research session list per
//! invitation, a session's usage rows and notes, and telemetry by time.
//!
//! The column is added with an inline `REFERENCES` (the one form of `ALTER TABLE ... ADD COLUMN`
//! with a foreign key that SQLite and PostgreSQL both accept), named like every other foreign key.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::string_null;

use crate::ddl::{create_indexes, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

fn indexes() -> Vec<IndexCreateStatement> {
    vec![
        index(ObservationNotes::Table, [ObservationNotes::MessageId]),
        index(
            Conversations::Table,
            [
                Conversations::InvitationId,
                Conversations::CreatedAt,
                Conversations::Id,
            ],
        ),
        index(
            UsageLogs::Table,
            [
                UsageLogs::ConversationId,
                UsageLogs::CreatedAt,
                UsageLogs::Id,
            ],
        ),
        index(
            ObservationNotes::Table,
            [
                ObservationNotes::ConversationId,
                ObservationNotes::CreatedAt,
                ObservationNotes::Id,
            ],
        ),
        index(
            TelemetryEvents::Table,
            [TelemetryEvents::CreatedAt, TelemetryEvents::Id],
        ),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(ObservationNotes::Table)
                    .add_column(string_null(ObservationNotes::MessageId).extra(
                        "CONSTRAINT fk_observation_notes_message_id REFERENCES messages (id) \
                         ON DELETE SET NULL",
                    ))
                    .to_owned(),
            )
            .await?;
        create_indexes(manager, indexes()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for stmt in indexes() {
            let name = stmt
                .get_index_spec()
                .get_name()
                .unwrap_or_default()
                .to_owned();
            manager
                .drop_index(Index::drop().name(name).to_owned())
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(ObservationNotes::Table)
                    .drop_column(ObservationNotes::MessageId)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum ObservationNotes {
    Table,
    MessageId,
    ConversationId,
    CreatedAt,
    Id,
}

#[derive(DeriveIden)]
enum Conversations {
    Table,
    InvitationId,
    CreatedAt,
    Id,
}

#[derive(DeriveIden)]
enum UsageLogs {
    Table,
    ConversationId,
    CreatedAt,
    Id,
}

#[derive(DeriveIden)]
enum TelemetryEvents {
    Table,
    CreatedAt,
    Id,
}
