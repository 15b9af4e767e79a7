//! Azora's curated learning paths, made manageable: who wrote one and whether learners see it.
//!
//! - `learning_paths.author_id`: the EDUCATOR or ADMIN who curated the path (curated paths have no
//!   `user_id`, which stays the owner of SkillPath runs only, so the workspace never lists them).
//!   Cleared when the author's account goes; the path stays.
//! - `learning_paths.published_at`: set when the path is published; learners see published
//!   curated paths only, their author and admins see drafts too.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{string_null, timestamp_with_time_zone_null};

use crate::ddl::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for mut column in [
            string_null(LearningPaths::AuthorId),
            timestamp_with_time_zone_null(LearningPaths::PublishedAt),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(LearningPaths::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(index(LearningPaths::Table, [LearningPaths::AuthorId]))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let stmt = index(LearningPaths::Table, [LearningPaths::AuthorId]);
        let name = stmt
            .get_index_spec()
            .get_name()
            .unwrap_or_default()
            .to_owned();
        manager
            .drop_index(Index::drop().name(name).to_owned())
            .await?;
        for column in [LearningPaths::AuthorId, LearningPaths::PublishedAt] {
            manager
                .alter_table(
                    Table::alter()
                        .table(LearningPaths::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum LearningPaths {
    Table,
    AuthorId,
    PublishedAt,
}
