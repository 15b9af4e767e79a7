//! The audit log: every mutation writes an `events` row in the transaction of its change. The
//! table (from the infrastructure migration) gains what an audit reader filters by: the entity
//! the change was made to (`entity_type`, `entity_id`) and the request that made it
//! (`request_id`, the `x-request-id` also found in the logs). The actor is `user_id`, the action
//! is `type` (e.g. `journal.saved`), the area is `source`, and `payload` holds a redacted summary.
//!
//! Uploads gain what their processing produces and their readers need: the content's SHA-256
//! (`sha256`) and the text extracted from it (`extracted_text`, for documents an analysis reads).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{string_null, text_null};

use crate::ddl::{create_indexes, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

fn indexes() -> Vec<IndexCreateStatement> {
    vec![
        index(
            Events::Table,
            [Events::EntityType, Events::EntityId, Events::CreatedAt],
        ),
        index(Events::Table, [Events::UserId, Events::CreatedAt]),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite takes one column per ALTER TABLE.
        for column in [Events::EntityType, Events::EntityId, Events::RequestId] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Events::Table)
                        .add_column(string_null(column))
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Uploads::Table)
                    .add_column(string_null(Uploads::Sha256))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Uploads::Table)
                    .add_column(text_null(Uploads::ExtractedText))
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
        for column in [Events::EntityType, Events::EntityId, Events::RequestId] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Events::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        for column in [Uploads::Sha256, Uploads::ExtractedText] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Uploads::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Events {
    Table,
    EntityType,
    EntityId,
    RequestId,
    UserId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Uploads {
    Table,
    Sha256,
    ExtractedText,
}
