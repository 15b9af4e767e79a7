//! Numira, whole: published disclaimer versions, journal titles and tags, and retiring catalogue
//! entries.
//!
//! - `disclaimer_versions`: every disclaimer ever published (`version` unique, its `text`,
//!   `published_at`, and the admin who published it, SET NULL when that account goes). The
//!   current disclaimer is the one published last; users must have accepted it before AI calls.
//! - `journals.title` (optional) and `journals.tags` (a JSON array of strings, default `[]`).
//! - `personas.retired_at` and `rooms.retired_at`: a retired persona or room leaves the public
//!   lists and cannot start new conversations; existing conversations and journals keep
//!   pointing at it.
//!
//! SQLite alters one column per statement, so each column is its own `ALTER TABLE`.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    json_binary, string, string_null, text, timestamp_with_time_zone, timestamp_with_time_zone_null,
};

use crate::ddl::{create_indexes, drop_tables, foreign_key, index, pk_text, unique};
use crate::m20261121_000001_identity::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(DisclaimerVersions::Table)
                    .col(pk_text(DisclaimerVersions::Id))
                    .col(string(DisclaimerVersions::Version))
                    .col(text(DisclaimerVersions::Text))
                    .col(timestamp_with_time_zone(DisclaimerVersions::PublishedAt))
                    .col(string_null(DisclaimerVersions::CreatedBy))
                    .foreign_key(&mut foreign_key(
                        DisclaimerVersions::Table,
                        DisclaimerVersions::CreatedBy,
                        Users::Table,
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            [
                unique(DisclaimerVersions::Table, [DisclaimerVersions::Version]),
                index(DisclaimerVersions::Table, [DisclaimerVersions::PublishedAt]),
                index(DisclaimerVersions::Table, [DisclaimerVersions::CreatedBy]),
            ],
        )
        .await?;

        let add =
            |table: Alias, col: ColumnDef| Table::alter().table(table).add_column(col).to_owned();
        for stmt in [
            add(Alias::new("journals"), string_null(Journals::Title)),
            add(
                Alias::new("journals"),
                json_binary(Journals::Tags).default("[]").take(),
            ),
            add(
                Alias::new("personas"),
                timestamp_with_time_zone_null(Retired::RetiredAt),
            ),
            add(
                Alias::new("rooms"),
                timestamp_with_time_zone_null(Retired::RetiredAt),
            ),
        ] {
            manager.alter_table(stmt).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let drop = |table: &str, col: DynIden| {
            Table::alter()
                .table(Alias::new(table))
                .drop_column(col)
                .to_owned()
        };
        for stmt in [
            drop("rooms", Retired::RetiredAt.into_iden()),
            drop("personas", Retired::RetiredAt.into_iden()),
            drop("journals", Journals::Tags.into_iden()),
            drop("journals", Journals::Title.into_iden()),
        ] {
            manager.alter_table(stmt).await?;
        }
        drop_tables(manager, [DisclaimerVersions::Table.into_iden()]).await
    }
}

#[derive(DeriveIden)]
pub(crate) enum DisclaimerVersions {
    Table,
    Id,
    Version,
    Text,
    PublishedAt,
    CreatedBy,
}

#[derive(DeriveIden)]
enum Journals {
    Title,
    Tags,
}

#[derive(DeriveIden)]
enum Retired {
    RetiredAt,
}
