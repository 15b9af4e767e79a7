//! Practice programmes (seed 002): role-play scenarios, quota presets, and invitation links that
//! carry a token quota and what has been used of it.
//!
//! `invitations.quota` and `usage` are JSON objects in the seed's shape
//! (`{ "tokens": 25000, "label": "Short conversation" }`). An invitation's creator is kept with
//! `RESTRICT`: it is research data that must not vanish with a staff account (users are
//! soft-deleted; a hard delete must hand the invitations over first).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    boolean, integer, json_binary, string, string_null, text, text_null, timestamp_with_time_zone,
    timestamp_with_time_zone_null,
};

use crate::ddl::{create_indexes, drop_tables, foreign_key, index, pk_text, timestamp_now, unique};
use crate::m20261121_000001_identity::Users;

/// The seed's default model for both the partner and the coach.
const DEFAULT_SCENARIO_MODEL: &str = "claude-sonnet-4-20250514";

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Scenarios::Table)
                    .col(pk_text(Scenarios::Id))
                    .col(string(Scenarios::Name))
                    .col(text(Scenarios::Description))
                    .col(string(Scenarios::Slug))
                    .col(string(Scenarios::PartnerPersona))
                    .col(text(Scenarios::PartnerSystemPrompt))
                    .col(text(Scenarios::CoachSystemPrompt))
                    .col(string(Scenarios::PartnerModel).default(DEFAULT_SCENARIO_MODEL))
                    .col(string(Scenarios::CoachModel).default(DEFAULT_SCENARIO_MODEL))
                    .col(boolean(Scenarios::IsActive).default(true))
                    .col(timestamp_now(Scenarios::CreatedAt))
                    .col(timestamp_now(Scenarios::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(QuotaPresets::Table)
                    .col(pk_text(QuotaPresets::Id))
                    .col(string(QuotaPresets::Name))
                    .col(string(QuotaPresets::Label))
                    .col(text_null(QuotaPresets::Description))
                    .col(json_binary(QuotaPresets::Quota))
                    .col(boolean(QuotaPresets::IsDefault).default(false))
                    .col(integer(QuotaPresets::SortOrder).default(0))
                    .col(timestamp_now(QuotaPresets::CreatedAt))
                    .col(timestamp_now(QuotaPresets::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Invitations::Table)
                    .col(pk_text(Invitations::Id))
                    .col(string(Invitations::Token))
                    .col(string_null(Invitations::Label))
                    .col(string_null(Invitations::ScenarioId))
                    .col(json_binary(Invitations::Quota))
                    .col(json_binary(Invitations::Usage).default("{}"))
                    .col(timestamp_with_time_zone(Invitations::ExpiresAt))
                    .col(timestamp_with_time_zone_null(Invitations::ClaimedAt))
                    .col(string_null(Invitations::LinkedUserId))
                    .col(string(Invitations::CreatedById))
                    .col(timestamp_now(Invitations::CreatedAt))
                    .foreign_key(&mut foreign_key(
                        Invitations::Table,
                        Invitations::ScenarioId,
                        Scenarios::Table,
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut foreign_key(
                        Invitations::Table,
                        Invitations::LinkedUserId,
                        Users::Table,
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut foreign_key(
                        Invitations::Table,
                        Invitations::CreatedById,
                        Users::Table,
                        ForeignKeyAction::Restrict,
                    ))
                    .to_owned(),
            )
            .await?;

        create_indexes(
            manager,
            [
                unique(Scenarios::Table, [Scenarios::Slug]),
                unique(QuotaPresets::Table, [QuotaPresets::Name]),
                unique(Invitations::Table, [Invitations::Token]),
                index(Invitations::Table, [Invitations::ScenarioId]),
                index(Invitations::Table, [Invitations::ExpiresAt]),
                index(Invitations::Table, [Invitations::LinkedUserId]),
                index(Invitations::Table, [Invitations::CreatedById]),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(
            manager,
            [
                Invitations::Table.into_iden(),
                QuotaPresets::Table.into_iden(),
                Scenarios::Table.into_iden(),
            ],
        )
        .await
    }
}

#[derive(DeriveIden)]
pub(crate) enum Scenarios {
    Table,
    Id,
    Name,
    Description,
    Slug,
    PartnerPersona,
    PartnerSystemPrompt,
    CoachSystemPrompt,
    PartnerModel,
    CoachModel,
    IsActive,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum QuotaPresets {
    Table,
    Id,
    Name,
    Label,
    Description,
    Quota,
    IsDefault,
    SortOrder,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
pub(crate) enum Invitations {
    Table,
    Id,
    Token,
    Label,
    ScenarioId,
    Quota,
    Usage,
    ExpiresAt,
    ClaimedAt,
    LinkedUserId,
    CreatedById,
    CreatedAt,
}
