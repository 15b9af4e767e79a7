//! Chat accounting: token budgets that AI calls reserve before they run and settle after.
//!
//! A budget is one limit for one subject over one period (`scope` `user_daily`, `subject_id` a
//! user id, `period` the UTC day `2026-11-21`); invitations and subscriptions add their own scopes
//! later. A call reserves its estimate with one conditional
//! `UPDATE budgets SET reserved = reserved + n WHERE id = ? AND used + reserved + n <= limit_tokens`,
//! atomic on SQLite and PostgreSQL alike, and settles to the real usage when it ends.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, string};

use crate::ddl::{create_indexes, drop_tables, pk_text, timestamp_now, unique};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Budgets::Table)
                    .col(pk_text(Budgets::Id))
                    .col(string(Budgets::Scope))
                    .col(string(Budgets::SubjectId))
                    .col(string(Budgets::Period))
                    .col(big_integer(Budgets::LimitTokens))
                    .col(big_integer(Budgets::Used).default(0))
                    .col(big_integer(Budgets::Reserved).default(0))
                    .col(timestamp_now(Budgets::CreatedAt))
                    .col(timestamp_now(Budgets::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            [unique(
                Budgets::Table,
                [Budgets::Scope, Budgets::SubjectId, Budgets::Period],
            )],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, [Budgets::Table.into_iden()]).await
    }
}

#[derive(DeriveIden)]
pub(crate) enum Budgets {
    Table,
    Id,
    Scope,
    SubjectId,
    Period,
    LimitTokens,
    Used,
    Reserved,
    CreatedAt,
    UpdatedAt,
}
