//! OptiMind's posts list (`posts`, newest first by creation, keyset on `(created_at, id)`) gets
//! its index; uploads, subscriptions and their usage counters already have theirs (the
//! workspace migration), and the uploads' `sha256`/`extracted_text` came with the audit one.

use sea_orm_migration::prelude::*;

use crate::ddl::{create_indexes, named_index};

#[derive(DeriveMigrationName)]
pub struct Migration;

const POSTS_CREATED: &str = "idx_posts_created";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create_indexes(
            manager,
            [named_index(
                POSTS_CREATED,
                Posts::Table,
                [Posts::CreatedAt, Posts::Id],
            )],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name(POSTS_CREATED).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Posts {
    Table,
    Id,
    CreatedAt,
}
