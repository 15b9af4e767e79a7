//! Conversations and AI: personas, rooms and which personas a room supports, conversations of
//! every app (VibeBot and OptiMind chats, Azora chat sessions, 002's scenario sessions, Numira
//! reflections), their messages (a tree through `parent_id`, for branching), saved journal
//! entries, and one usage row per AI call.
//!
//! `usage_logs` is analytics: it outlives what it describes, so all its references SET NULL.
//! `cost_micros` is in millionths of a US dollar, NULL when the cost is unknown.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer_null, boolean, integer, integer_null, json_binary, json_binary_null, string,
    string_null, text, text_null, timestamp_with_time_zone_null,
};

use crate::ddl::{
    create_indexes, drop_tables, foreign_key, index, named_index, pk_text, timestamp_now,
};
use crate::m20261121_000001_identity::Users;
use crate::m20261121_000002_workspace::Projects;
use crate::m20261121_000003_programmes::{Invitations, Scenarios};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Personas::Table)
                    .col(pk_text(Personas::Id))
                    .col(string(Personas::Name))
                    .col(string(Personas::Tone))
                    .col(string(Personas::Voice))
                    .col(text(Personas::Description))
                    .col(text(Personas::SystemPrompt))
                    .col(json_binary(Personas::Tags).default("[]"))
                    .col(string_null(Personas::DefaultModel))
                    .col(string_null(Personas::AvatarUrl))
                    .col(timestamp_now(Personas::CreatedAt))
                    .col(timestamp_now(Personas::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Rooms::Table)
                    .col(pk_text(Rooms::Id))
                    .col(string(Rooms::Name))
                    .col(text(Rooms::Description))
                    .col(text(Rooms::Purpose))
                    .col(text(Rooms::SamplePrompt))
                    .col(json_binary(Rooms::Tags).default("[]"))
                    .col(string(Rooms::PromptType))
                    .col(json_binary(Rooms::Features).default("{}"))
                    .col(timestamp_now(Rooms::CreatedAt))
                    .col(timestamp_now(Rooms::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(PersonaRooms::Table)
                    .col(string(PersonaRooms::PersonaId))
                    .col(string(PersonaRooms::RoomId))
                    .col(boolean(PersonaRooms::IsDefault).default(false))
                    .col(timestamp_now(PersonaRooms::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(PersonaRooms::PersonaId)
                            .col(PersonaRooms::RoomId),
                    )
                    .foreign_key(&mut foreign_key(
                        PersonaRooms::Table,
                        PersonaRooms::PersonaId,
                        Personas::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut foreign_key(
                        PersonaRooms::Table,
                        PersonaRooms::RoomId,
                        Rooms::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Conversations::Table)
                    .col(pk_text(Conversations::Id))
                    .col(string_null(Conversations::UserId))
                    .col(string_null(Conversations::InvitationId))
                    .col(string_null(Conversations::ScenarioId))
                    .col(string_null(Conversations::PersonaId))
                    .col(string_null(Conversations::RoomId))
                    .col(string_null(Conversations::ProjectId))
                    .col(string(Conversations::Title).default("New Conversation"))
                    .col(boolean(Conversations::TitleIsCustom).default(false))
                    .col(string_null(Conversations::Model))
                    .col(text_null(Conversations::SystemPrompt))
                    .col(string(Conversations::Status).default("ACTIVE"))
                    .col(timestamp_now(Conversations::StartedAt))
                    .col(timestamp_with_time_zone_null(Conversations::EndedAt))
                    .col(integer(Conversations::TotalMessages).default(0))
                    .col(integer_null(Conversations::DurationSeconds))
                    .col(json_binary_null(Conversations::Metadata))
                    .col(timestamp_now(Conversations::CreatedAt))
                    .col(timestamp_now(Conversations::UpdatedAt))
                    .col(timestamp_with_time_zone_null(Conversations::DeletedAt))
                    .foreign_key(&mut foreign_key(
                        Conversations::Table,
                        Conversations::UserId,
                        Users::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut foreign_key(
                        Conversations::Table,
                        Conversations::InvitationId,
                        Invitations::Table,
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut foreign_key(
                        Conversations::Table,
                        Conversations::ScenarioId,
                        Scenarios::Table,
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut foreign_key(
                        Conversations::Table,
                        Conversations::PersonaId,
                        Personas::Table,
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut foreign_key(
                        Conversations::Table,
                        Conversations::RoomId,
                        Rooms::Table,
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut foreign_key(
                        Conversations::Table,
                        Conversations::ProjectId,
                        Projects::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Messages::Table)
                    .col(pk_text(Messages::Id))
                    .col(string(Messages::ConversationId))
                    .col(string_null(Messages::UserId))
                    .col(string_null(Messages::ParentId))
                    .col(string(Messages::Role))
                    .col(text(Messages::Content))
                    .col(string(Messages::Status).default("COMPLETE"))
                    .col(text_null(Messages::Error))
                    .col(string_null(Messages::Model))
                    .col(string_null(Messages::Provider))
                    .col(integer_null(Messages::InputTokens))
                    .col(integer_null(Messages::OutputTokens))
                    .col(string_null(Messages::AudioUrl))
                    .col(json_binary_null(Messages::Metadata))
                    .col(timestamp_now(Messages::CreatedAt))
                    .col(timestamp_now(Messages::UpdatedAt))
                    .foreign_key(&mut foreign_key(
                        Messages::Table,
                        Messages::ConversationId,
                        Conversations::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut foreign_key(
                        Messages::Table,
                        Messages::UserId,
                        Users::Table,
                        ForeignKeyAction::SetNull,
                    ))
                    // Deleting a message removes the branches that grew from it.
                    .foreign_key(&mut foreign_key(
                        Messages::Table,
                        Messages::ParentId,
                        Messages::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Journals::Table)
                    .col(pk_text(Journals::Id))
                    .col(string(Journals::UserId))
                    .col(string(Journals::PersonaId))
                    .col(string(Journals::RoomId))
                    .col(text(Journals::Prompt))
                    .col(text(Journals::Response))
                    .col(string_null(Journals::ConversationId))
                    .col(string_null(Journals::PromptMessageId))
                    .col(string_null(Journals::ResponseMessageId))
                    .col(timestamp_now(Journals::CreatedAt))
                    .col(timestamp_now(Journals::UpdatedAt))
                    .foreign_key(&mut foreign_key(
                        Journals::Table,
                        Journals::UserId,
                        Users::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    // A journal entry keeps its prompt and response as text, but the persona and
                    // room it names must stay: catalogue rows in use cannot be deleted.
                    .foreign_key(&mut foreign_key(
                        Journals::Table,
                        Journals::PersonaId,
                        Personas::Table,
                        ForeignKeyAction::Restrict,
                    ))
                    .foreign_key(&mut foreign_key(
                        Journals::Table,
                        Journals::RoomId,
                        Rooms::Table,
                        ForeignKeyAction::Restrict,
                    ))
                    .foreign_key(&mut foreign_key(
                        Journals::Table,
                        Journals::ConversationId,
                        Conversations::Table,
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut foreign_key(
                        Journals::Table,
                        Journals::PromptMessageId,
                        Messages::Table,
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut foreign_key(
                        Journals::Table,
                        Journals::ResponseMessageId,
                        Messages::Table,
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(UsageLogs::Table)
                    .col(pk_text(UsageLogs::Id))
                    .col(string_null(UsageLogs::UserId))
                    .col(string_null(UsageLogs::InvitationId))
                    .col(string_null(UsageLogs::ConversationId))
                    .col(string_null(UsageLogs::MessageId))
                    .col(string(UsageLogs::Provider))
                    .col(string(UsageLogs::Model))
                    .col(string(UsageLogs::StreamType))
                    .col(integer(UsageLogs::InputTokens))
                    .col(integer(UsageLogs::OutputTokens))
                    .col(big_integer_null(UsageLogs::CostMicros))
                    .col(integer_null(UsageLogs::LatencyMs))
                    .col(timestamp_now(UsageLogs::CreatedAt))
                    .foreign_key(&mut foreign_key(
                        UsageLogs::Table,
                        UsageLogs::UserId,
                        Users::Table,
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut foreign_key(
                        UsageLogs::Table,
                        UsageLogs::InvitationId,
                        Invitations::Table,
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut foreign_key(
                        UsageLogs::Table,
                        UsageLogs::ConversationId,
                        Conversations::Table,
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut foreign_key(
                        UsageLogs::Table,
                        UsageLogs::MessageId,
                        Messages::Table,
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;

        create_indexes(
            manager,
            [
                index(PersonaRooms::Table, [PersonaRooms::RoomId]),
                named_index(
                    "idx_conversations_user_created",
                    Conversations::Table,
                    [
                        Conversations::UserId,
                        Conversations::CreatedAt,
                        Conversations::Id,
                    ],
                ),
                named_index(
                    "idx_conversations_user_updated",
                    Conversations::Table,
                    [
                        Conversations::UserId,
                        Conversations::UpdatedAt,
                        Conversations::Id,
                    ],
                ),
                index(Conversations::Table, [Conversations::InvitationId]),
                index(Conversations::Table, [Conversations::ScenarioId]),
                index(Conversations::Table, [Conversations::PersonaId]),
                index(Conversations::Table, [Conversations::RoomId]),
                index(Conversations::Table, [Conversations::ProjectId]),
                index(Conversations::Table, [Conversations::Status]),
                named_index(
                    "idx_messages_conversation_created",
                    Messages::Table,
                    [Messages::ConversationId, Messages::CreatedAt, Messages::Id],
                ),
                index(Messages::Table, [Messages::ParentId]),
                index(Messages::Table, [Messages::UserId]),
                named_index(
                    "idx_journals_user_created",
                    Journals::Table,
                    [Journals::UserId, Journals::CreatedAt, Journals::Id],
                ),
                index(Journals::Table, [Journals::PersonaId]),
                index(Journals::Table, [Journals::RoomId]),
                index(Journals::Table, [Journals::ConversationId]),
                index(Journals::Table, [Journals::PromptMessageId]),
                index(Journals::Table, [Journals::ResponseMessageId]),
                index(UsageLogs::Table, [UsageLogs::UserId, UsageLogs::CreatedAt]),
                index(
                    UsageLogs::Table,
                    [UsageLogs::InvitationId, UsageLogs::CreatedAt],
                ),
                index(UsageLogs::Table, [UsageLogs::CreatedAt]),
                index(UsageLogs::Table, [UsageLogs::ConversationId]),
                index(UsageLogs::Table, [UsageLogs::MessageId]),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(
            manager,
            [
                UsageLogs::Table.into_iden(),
                Journals::Table.into_iden(),
                Messages::Table.into_iden(),
                Conversations::Table.into_iden(),
                PersonaRooms::Table.into_iden(),
                Rooms::Table.into_iden(),
                Personas::Table.into_iden(),
            ],
        )
        .await
    }
}

#[derive(DeriveIden)]
enum Personas {
    Table,
    Id,
    Name,
    Tone,
    Voice,
    Description,
    SystemPrompt,
    Tags,
    DefaultModel,
    AvatarUrl,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Rooms {
    Table,
    Id,
    Name,
    Description,
    Purpose,
    SamplePrompt,
    Tags,
    PromptType,
    Features,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum PersonaRooms {
    Table,
    PersonaId,
    RoomId,
    IsDefault,
    CreatedAt,
}

#[derive(DeriveIden)]
pub(crate) enum Conversations {
    Table,
    Id,
    UserId,
    InvitationId,
    ScenarioId,
    PersonaId,
    RoomId,
    ProjectId,
    Title,
    TitleIsCustom,
    Model,
    SystemPrompt,
    Status,
    StartedAt,
    EndedAt,
    TotalMessages,
    DurationSeconds,
    Metadata,
    CreatedAt,
    UpdatedAt,
    DeletedAt,
}

#[derive(DeriveIden)]
pub(crate) enum Messages {
    Table,
    Id,
    ConversationId,
    UserId,
    ParentId,
    Role,
    Content,
    Status,
    Error,
    Model,
    Provider,
    InputTokens,
    OutputTokens,
    AudioUrl,
    Metadata,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Journals {
    Table,
    Id,
    UserId,
    PersonaId,
    RoomId,
    Prompt,
    Response,
    ConversationId,
    PromptMessageId,
    ResponseMessageId,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum UsageLogs {
    Table,
    Id,
    UserId,
    InvitationId,
    ConversationId,
    MessageId,
    Provider,
    Model,
    StreamType,
    InputTokens,
    OutputTokens,
    CostMicros,
    LatencyMs,
    CreatedAt,
}
