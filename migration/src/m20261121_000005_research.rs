//! Research data of the practice programmes (seed 002): researchers' observation notes and
//! product telemetry.
//!
//! Notes belong to their invitation (deleted with it) and keep their author with `RESTRICT`, like
//! invitations do. Telemetry is analytics: its references SET NULL so events outlive what they
//! describe. The seed's integer `sessionId` columns are `conversation_id` here.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{json_binary, string, string_null, text};

use crate::ddl::{create_indexes, drop_tables, foreign_key, index, pk_text, timestamp_now};
use crate::m20261121_000001_identity::Users;
use crate::m20261121_000003_programmes::Invitations;
use crate::m20261121_000004_conversations::Conversations;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ObservationNotes::Table)
                    .col(pk_text(ObservationNotes::Id))
                    .col(string(ObservationNotes::InvitationId))
                    .col(string_null(ObservationNotes::ConversationId))
                    .col(string(ObservationNotes::ResearcherId))
                    .col(text(ObservationNotes::Content))
                    .col(timestamp_now(ObservationNotes::CreatedAt))
                    .foreign_key(&mut foreign_key(
                        ObservationNotes::Table,
                        ObservationNotes::InvitationId,
                        Invitations::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut foreign_key(
                        ObservationNotes::Table,
                        ObservationNotes::ConversationId,
                        Conversations::Table,
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut foreign_key(
                        ObservationNotes::Table,
                        ObservationNotes::ResearcherId,
                        Users::Table,
                        ForeignKeyAction::Restrict,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(TelemetryEvents::Table)
                    .col(pk_text(TelemetryEvents::Id))
                    .col(string(TelemetryEvents::Name))
                    .col(json_binary(TelemetryEvents::Properties).default("{}"))
                    .col(string_null(TelemetryEvents::UserId))
                    .col(string_null(TelemetryEvents::ConversationId))
                    .col(timestamp_now(TelemetryEvents::CreatedAt))
                    .foreign_key(&mut foreign_key(
                        TelemetryEvents::Table,
                        TelemetryEvents::UserId,
                        Users::Table,
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut foreign_key(
                        TelemetryEvents::Table,
                        TelemetryEvents::ConversationId,
                        Conversations::Table,
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;

        create_indexes(
            manager,
            [
                index(
                    ObservationNotes::Table,
                    [ObservationNotes::InvitationId, ObservationNotes::CreatedAt],
                ),
                index(ObservationNotes::Table, [ObservationNotes::ConversationId]),
                index(ObservationNotes::Table, [ObservationNotes::ResearcherId]),
                // Also serves look-ups by name alone (the seed's separate `name` index).
                index(
                    TelemetryEvents::Table,
                    [TelemetryEvents::Name, TelemetryEvents::CreatedAt],
                ),
                index(TelemetryEvents::Table, [TelemetryEvents::CreatedAt]),
                index(TelemetryEvents::Table, [TelemetryEvents::UserId]),
                index(TelemetryEvents::Table, [TelemetryEvents::ConversationId]),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(
            manager,
            [
                TelemetryEvents::Table.into_iden(),
                ObservationNotes::Table.into_iden(),
            ],
        )
        .await
    }
}

#[derive(DeriveIden)]
enum ObservationNotes {
    Table,
    Id,
    InvitationId,
    ConversationId,
    ResearcherId,
    Content,
    CreatedAt,
}

#[derive(DeriveIden)]
enum TelemetryEvents {
    Table,
    Id,
    Name,
    Properties,
    UserId,
    ConversationId,
    CreatedAt,
}
