//! Analytics and operations: a daily rollup of `usage_logs` kept current in the transaction that
//! writes each usage row (`usage_daily`, one row per UTC day and provider, model, stream type,
//! user and invitation; absent users and invitations are stored as `''` so the key can be a
//! primary key on both databases), the instances' heartbeats (`instances`, for `serverStatus`),
//! and the indexes the analytics range scans need (messages, conversations and users by time).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, string, timestamp_with_time_zone};

use crate::ddl::{create_indexes, drop_tables, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(UsageDaily::Table)
                    .col(string(UsageDaily::Day))
                    .col(string(UsageDaily::Provider))
                    .col(string(UsageDaily::Model))
                    .col(string(UsageDaily::StreamType))
                    .col(string(UsageDaily::UserKey))
                    .col(string(UsageDaily::InvitationKey))
                    .col(big_integer(UsageDaily::Calls))
                    .col(big_integer(UsageDaily::InputTokens))
                    .col(big_integer(UsageDaily::OutputTokens))
                    .col(big_integer(UsageDaily::CostMicros))
                    .col(big_integer(UsageDaily::UnknownCostCalls))
                    .col(big_integer(UsageDaily::LatencyMsSum))
                    .col(big_integer(UsageDaily::LatencyCount))
                    .primary_key(
                        Index::create()
                            .col(UsageDaily::Day)
                            .col(UsageDaily::Provider)
                            .col(UsageDaily::Model)
                            .col(UsageDaily::StreamType)
                            .col(UsageDaily::UserKey)
                            .col(UsageDaily::InvitationKey),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Instances::Table)
                    .col(string(Instances::Id).primary_key())
                    .col(string(Instances::Version))
                    .col(timestamp_with_time_zone(Instances::StartedAt))
                    .col(timestamp_with_time_zone(Instances::SeenAt))
                    .to_owned(),
            )
            .await?;
        // Usage written before this migration, rolled up once.
        let day = match manager.get_database_backend() {
            sea_orm::DbBackend::Postgres => "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
            _ => "substr(created_at, 1, 10)",
        };
        manager
            .get_connection()
            .execute_unprepared(&format!(
                "INSERT INTO usage_daily (day, provider, model, stream_type, user_key, \
                 invitation_key, calls, input_tokens, output_tokens, cost_micros, \
                 unknown_cost_calls, latency_ms_sum, latency_count) \
                 SELECT {day}, provider, model, stream_type, COALESCE(user_id, ''), \
                 COALESCE(invitation_id, ''), COUNT(*), SUM(input_tokens), SUM(output_tokens), \
                 COALESCE(SUM(cost_micros), 0), \
                 SUM(CASE WHEN cost_micros IS NULL THEN 1 ELSE 0 END), \
                 COALESCE(SUM(latency_ms), 0), COUNT(latency_ms) FROM usage_logs \
                 GROUP BY {day}, provider, model, stream_type, COALESCE(user_id, ''), \
                 COALESCE(invitation_id, '')"
            ))
            .await?;
        create_indexes(
            manager,
            [
                index(Instances::Table, [Instances::SeenAt]),
                index(Messages::Table, [Messages::CreatedAt]),
                index(Conversations::Table, [Conversations::StartedAt]),
                index(Users::Table, [Users::CreatedAt]),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table) in [
            ("idx_messages_created_at", Messages::Table.into_iden()),
            (
                "idx_conversations_started_at",
                Conversations::Table.into_iden(),
            ),
            ("idx_users_created_at", Users::Table.into_iden()),
        ] {
            manager
                .drop_index(Index::drop().name(name).table(table).to_owned())
                .await?;
        }
        drop_tables(
            manager,
            [Instances::Table.into_iden(), UsageDaily::Table.into_iden()],
        )
        .await
    }
}

#[derive(DeriveIden)]
enum UsageDaily {
    Table,
    Day,
    Provider,
    Model,
    StreamType,
    UserKey,
    InvitationKey,
    Calls,
    InputTokens,
    OutputTokens,
    CostMicros,
    UnknownCostCalls,
    LatencyMsSum,
    LatencyCount,
}

#[derive(DeriveIden)]
enum Instances {
    Table,
    Id,
    Version,
    StartedAt,
    SeenAt,
}

#[derive(DeriveIden)]
enum Messages {
    Table,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Conversations {
    Table,
    StartedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    CreatedAt,
}
