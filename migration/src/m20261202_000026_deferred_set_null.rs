//! Every `ON DELETE SET NULL` foreign key on PostgreSQL is checked at commit
//! (`DEFERRABLE INITIALLY DEFERRED`); the actions themselves still run at once.
//!
//! A row can be detached through several paths by one delete: deleting a user clears a usage
//! row's `user_id` and, through the cascade to the user's conversations and their messages, its
//! `conversation_id` and `message_id`. PostgreSQL runs those actions one after another, in the
//! order of their triggers' names (which carry the constraints' OIDs, so the order depends on
//! when each constraint was made, even on the OID counter's digits). An update of a row this
//! transaction already changed re-checks every foreign key of the row, so clearing `user_id`
//! after the message is gone but before `message_id` is cleared failed the whole delete with a
//! foreign-key violation (seen as a rare failure of the migration round trip; reproducible by
//! re-creating the cascades). A deferred check sees the finished delete instead. SQLite checks
//! at the end of each statement already: nothing to do there.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Alters every SET NULL foreign key of the current schema that is `from` to `to`.
fn alter_all(from: &str, to: &str) -> String {
    format!(
        "DO $$ DECLARE r record; BEGIN \
         FOR r IN SELECT conrelid::regclass AS tbl, conname FROM pg_constraint \
                  WHERE contype = 'f' AND confdeltype = 'n' AND {from} \
                  AND connamespace = current_schema()::regnamespace LOOP \
             EXECUTE format('ALTER TABLE %s ALTER CONSTRAINT %I {to}', r.tbl, r.conname); \
         END LOOP; END $$"
    )
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        manager
            .get_connection()
            .execute_unprepared(&alter_all(
                "NOT condeferred",
                "DEFERRABLE INITIALLY DEFERRED",
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        manager
            .get_connection()
            .execute_unprepared(&alter_all("condeferrable", "NOT DEFERRABLE"))
            .await?;
        Ok(())
    }
}
