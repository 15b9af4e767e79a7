//! The daily activity rollup: `activity_daily`, one row per UTC day (`YYYY-MM-DD`), scope (`all`,
//! or `research` for invitation sessions only, what staff see), metric and label (a message
//! role, a session or analysis status, or `''`) with its value: the counts of the analytics
//! `activity` query per day, plus each day's median practice-session duration in milliseconds
//! (`session_median_ms`). It is written by a periodic job, not by the writes it counts
//! (`persistence::analytics::roll_activity`), which records in `rollup_state` the day before
//! which every day is rolled. Also the indexes the job's day ranges need (conversations by end,
//! journals and analyses by creation).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, string, string_null, timestamp_with_time_zone};

use crate::ddl::{create_indexes, drop_tables, index, pk_text};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ActivityDaily::Table)
                    .col(string(ActivityDaily::Day))
                    .col(string(ActivityDaily::Scope))
                    .col(string(ActivityDaily::Metric))
                    .col(string(ActivityDaily::Label))
                    .col(big_integer(ActivityDaily::Value))
                    .primary_key(
                        Index::create()
                            .col(ActivityDaily::Day)
                            .col(ActivityDaily::Scope)
                            .col(ActivityDaily::Metric)
                            .col(ActivityDaily::Label),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RollupState::Table)
                    .col(pk_text(RollupState::Name))
                    .col(string_null(RollupState::RolledTo))
                    .col(timestamp_with_time_zone(RollupState::RolledAt))
                    .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            [
                index(Conversations::Table, [Conversations::EndedAt]),
                index(Journals::Table, [Journals::CreatedAt]),
                index(Analyses::Table, [Analyses::CreatedAt]),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table) in [
            (
                "idx_conversations_ended_at",
                Conversations::Table.into_iden(),
            ),
            ("idx_journals_created_at", Journals::Table.into_iden()),
            ("idx_analyses_created_at", Analyses::Table.into_iden()),
        ] {
            manager
                .drop_index(Index::drop().name(name).table(table).to_owned())
                .await?;
        }
        drop_tables(
            manager,
            [
                RollupState::Table.into_iden(),
                ActivityDaily::Table.into_iden(),
            ],
        )
        .await
    }
}

#[derive(DeriveIden)]
enum ActivityDaily {
    Table,
    Day,
    Scope,
    Metric,
    Label,
    Value,
}

#[derive(DeriveIden)]
enum RollupState {
    Table,
    Name,
    RolledTo,
    RolledAt,
}

#[derive(DeriveIden)]
enum Conversations {
    Table,
    EndedAt,
}

#[derive(DeriveIden)]
enum Journals {
    Table,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Analyses {
    Table,
    CreatedAt,
}
