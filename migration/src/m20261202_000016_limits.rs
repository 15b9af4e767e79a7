//! Rate-limit counters shared by every gateway instance over one PostgreSQL database: one row
//! per limited key (e.g. `send:<user id>`, `login:account:<email>`) and fixed window (its start,
//! in Unix seconds), whose `count` is raised atomically by each permit taken. Rows of past windows
//! are deleted by the gateway's periodic sweep. SQLite deployments (one server) have the table
//! but leave it empty: their limits are kept in process.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, string};

use crate::ddl::{create_indexes, drop_tables, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RateLimitWindows::Table)
                    .col(string(RateLimitWindows::Key))
                    .col(big_integer(RateLimitWindows::WindowStart))
                    .col(big_integer(RateLimitWindows::Count))
                    .primary_key(
                        Index::create()
                            .col(RateLimitWindows::Key)
                            .col(RateLimitWindows::WindowStart),
                    )
                    .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            [index(
                RateLimitWindows::Table,
                [RateLimitWindows::WindowStart],
            )],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, [RateLimitWindows::Table.into_iden()]).await
    }
}

#[derive(DeriveIden)]
pub(crate) enum RateLimitWindows {
    Table,
    Key,
    WindowStart,
    Count,
}
