//! Infrastructure (Azora, seed 004, fields designed here): user notifications, the system event
//! log, and safety incidents for moderators.
//!
//! A safety incident is a record moderators must keep: everything it points at (reporter,
//! subject, conversation, message, assignee) is SET NULL rather than deleting the incident.
//! System events are analytics-like and keep their rows when their user goes.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    json_binary, json_binary_null, string, string_null, text, text_null,
    timestamp_with_time_zone_null,
};

use crate::ddl::{
    create_indexes, drop_tables, foreign_key, index, named_index, pk_text, timestamp_now,
};
use crate::m20261121_000001_identity::Users;
use crate::m20261121_000004_conversations::{Conversations, Messages};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Notifications::Table)
                    .col(pk_text(Notifications::Id))
                    .col(string(Notifications::UserId))
                    .col(string(Notifications::Type))
                    .col(string(Notifications::Title))
                    .col(text(Notifications::Body))
                    .col(json_binary_null(Notifications::Data))
                    .col(timestamp_with_time_zone_null(Notifications::ReadAt))
                    .col(timestamp_now(Notifications::CreatedAt))
                    .foreign_key(&mut foreign_key(
                        Notifications::Table,
                        Notifications::UserId,
                        Users::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Events::Table)
                    .col(pk_text(Events::Id))
                    .col(string(Events::Type))
                    .col(string(Events::Source))
                    .col(string_null(Events::UserId))
                    .col(json_binary(Events::Payload).default("{}"))
                    .col(timestamp_with_time_zone_null(Events::ProcessedAt))
                    .col(timestamp_now(Events::CreatedAt))
                    .foreign_key(&mut foreign_key(
                        Events::Table,
                        Events::UserId,
                        Users::Table,
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(SafetyIncidents::Table)
                    .col(pk_text(SafetyIncidents::Id))
                    .col(string_null(SafetyIncidents::ReporterId))
                    .col(string_null(SafetyIncidents::SubjectUserId))
                    .col(string_null(SafetyIncidents::ConversationId))
                    .col(string_null(SafetyIncidents::MessageId))
                    .col(string_null(SafetyIncidents::AssignedToId))
                    .col(string(SafetyIncidents::Category))
                    .col(string(SafetyIncidents::Severity).default("MEDIUM"))
                    .col(string(SafetyIncidents::Status).default("OPEN"))
                    .col(text(SafetyIncidents::Description))
                    .col(text_null(SafetyIncidents::Resolution))
                    .col(json_binary_null(SafetyIncidents::Metadata))
                    .col(timestamp_with_time_zone_null(SafetyIncidents::ResolvedAt))
                    .col(timestamp_now(SafetyIncidents::CreatedAt))
                    .col(timestamp_now(SafetyIncidents::UpdatedAt))
                    .foreign_key(&mut foreign_key(
                        SafetyIncidents::Table,
                        SafetyIncidents::ReporterId,
                        Users::Table,
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut foreign_key(
                        SafetyIncidents::Table,
                        SafetyIncidents::SubjectUserId,
                        Users::Table,
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut foreign_key(
                        SafetyIncidents::Table,
                        SafetyIncidents::ConversationId,
                        Conversations::Table,
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut foreign_key(
                        SafetyIncidents::Table,
                        SafetyIncidents::MessageId,
                        Messages::Table,
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut foreign_key(
                        SafetyIncidents::Table,
                        SafetyIncidents::AssignedToId,
                        Users::Table,
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;

        create_indexes(
            manager,
            [
                named_index(
                    "idx_notifications_user_created",
                    Notifications::Table,
                    [
                        Notifications::UserId,
                        Notifications::CreatedAt,
                        Notifications::Id,
                    ],
                ),
                // Unread counts touch only the unread rows.
                Index::create()
                    .name("idx_notifications_user_unread")
                    .table(Notifications::Table)
                    .col(Notifications::UserId)
                    .and_where(Expr::col(Notifications::ReadAt).is_null())
                    .to_owned(),
                index(Events::Table, [Events::Type, Events::CreatedAt]),
                index(Events::Table, [Events::CreatedAt]),
                index(Events::Table, [Events::UserId]),
                index(
                    SafetyIncidents::Table,
                    [SafetyIncidents::Status, SafetyIncidents::CreatedAt],
                ),
                index(SafetyIncidents::Table, [SafetyIncidents::ReporterId]),
                index(SafetyIncidents::Table, [SafetyIncidents::SubjectUserId]),
                index(SafetyIncidents::Table, [SafetyIncidents::ConversationId]),
                index(SafetyIncidents::Table, [SafetyIncidents::MessageId]),
                index(SafetyIncidents::Table, [SafetyIncidents::AssignedToId]),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(
            manager,
            [
                SafetyIncidents::Table.into_iden(),
                Events::Table.into_iden(),
                Notifications::Table.into_iden(),
            ],
        )
        .await
    }
}

#[derive(DeriveIden)]
enum Notifications {
    Table,
    Id,
    UserId,
    Type,
    Title,
    Body,
    Data,
    ReadAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Events {
    Table,
    Id,
    Type,
    Source,
    UserId,
    Payload,
    ProcessedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum SafetyIncidents {
    Table,
    Id,
    ReporterId,
    SubjectUserId,
    ConversationId,
    MessageId,
    AssignedToId,
    Category,
    Severity,
    Status,
    Description,
    Resolution,
    Metadata,
    ResolvedAt,
    CreatedAt,
    UpdatedAt,
}
