//! Applies every migration up, all the way down and up again, on a temporary SQLite file and on
//! a fresh PostgreSQL database (see `test-db` for when that runs); between the passes it checks
//! that the constraints the application relies on are really in the schema.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use migration::{Migrator, MigratorTrait, SchemaManager};
use sea_orm_migration::sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend};

/// A table of the first migration and one of the last: present after `up`, gone after `down`.
const FIRST_TABLE: &str = "users";
const LAST_TABLE: &str = "safety_incidents";

test_db::backend_tests!(migrations_round_trip, |backend| async move {
    let Some(test_db) = test_db::TestDb::empty(backend).await else {
        return;
    };
    let db = Database::connect(&test_db.url).await.unwrap();
    round_trip(&db).await;
    db.close().await.unwrap();
});

async fn round_trip(db: &DatabaseConnection) {
    let total = Migrator::migrations().len();

    Migrator::up(db, None).await.unwrap();
    assert_eq!(
        Migrator::get_applied_migrations(db).await.unwrap().len(),
        total
    );
    assert_tables(db, true).await;
    check_constraints(db).await;

    Migrator::down(db, None).await.unwrap();
    assert!(
        Migrator::get_applied_migrations(db)
            .await
            .unwrap()
            .is_empty()
    );
    assert_tables(db, false).await;

    // A second `up` proves `down` left nothing behind that would collide (tables, index names).
    Migrator::up(db, None).await.unwrap();
    assert_tables(db, true).await;
    check_constraints(db).await;
}

async fn assert_tables(db: &DatabaseConnection, present: bool) {
    let manager = SchemaManager::new(db);
    for table in [FIRST_TABLE, LAST_TABLE] {
        assert_eq!(
            manager.has_table(table).await.unwrap(),
            present,
            "table {table} present should be {present}"
        );
    }
}

async fn exec(db: &DatabaseConnection, sql: &str) -> Result<(), String> {
    db.execute_unprepared(sql)
        .await
        .map(|_| ())
        .map_err(|e| format!("{sql}: {e}"))
}

async fn count(db: &DatabaseConnection, sql: &str) -> i64 {
    let row = db
        .query_one_raw(sea_orm_migration::sea_orm::Statement::from_string(
            db.get_database_backend(),
            sql.to_owned(),
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

/// Writes a little data through plain SQL (as both databases accept it) and checks the unique
/// indexes, defaults and delete rules; cleans up after itself so the next pass starts empty.
/// Drops and adds again every ON DELETE CASCADE foreign key, unchanged but with newer OIDs.
const RECREATE_CASCADES: &str = "DO $$ DECLARE r record; BEGIN \
    FOR r IN SELECT conrelid::regclass AS tbl, conname, pg_get_constraintdef(oid) AS def \
             FROM pg_constraint WHERE contype = 'f' AND confdeltype = 'c' LOOP \
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', r.tbl, r.conname); \
        EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I %s', r.tbl, r.conname, r.def); \
    END LOOP; END $$";

async fn check_constraints(db: &DatabaseConnection) {
    let backend = db.get_database_backend();
    assert!(matches!(backend, DbBackend::Sqlite | DbBackend::Postgres));

    exec(
        db,
        "INSERT INTO users (id, email) VALUES ('u1', 'a@example.com')",
    )
    .await
    .unwrap();
    // Guests have no email: several NULL emails are fine, a repeated email is not.
    exec(db, "INSERT INTO users (id) VALUES ('g1')")
        .await
        .unwrap();
    exec(db, "INSERT INTO users (id) VALUES ('g2')")
        .await
        .unwrap();
    exec(
        db,
        "INSERT INTO users (id, email) VALUES ('u2', 'a@example.com')",
    )
    .await
    .unwrap_err();
    assert_eq!(
        count(
            db,
            "SELECT COUNT(*) FROM users WHERE role = 'USER' AND is_active = TRUE"
        )
        .await,
        3
    );

    // One primary contact per (user, type), any number of non-primary ones.
    exec(
        db,
        "INSERT INTO contact_methods (id, user_id, type, value, is_primary) \
         VALUES ('c1', 'u1', 'email', 'a@example.com', TRUE)",
    )
    .await
    .unwrap();
    exec(
        db,
        "INSERT INTO contact_methods (id, user_id, type, value, is_primary) \
         VALUES ('c2', 'u1', 'email', 'b@example.com', TRUE)",
    )
    .await
    .unwrap_err();
    exec(
        db,
        "INSERT INTO contact_methods (id, user_id, type, value) \
         VALUES ('c3', 'u1', 'email', 'c@example.com')",
    )
    .await
    .unwrap();
    // (type, value) is unique across users.
    exec(
        db,
        "INSERT INTO contact_methods (id, user_id, type, value) \
         VALUES ('c4', 'g1', 'email', 'c@example.com')",
    )
    .await
    .unwrap_err();

    exec(
        db,
        "INSERT INTO conversations (id, user_id) VALUES ('conv1', 'u1')",
    )
    .await
    .unwrap();
    assert_eq!(
        count(
            db,
            "SELECT COUNT(*) FROM conversations \
             WHERE title = 'New Conversation' AND status = 'ACTIVE' AND total_messages = 0"
        )
        .await,
        1
    );
    exec(
        db,
        "INSERT INTO messages (id, conversation_id, user_id, role, content) \
         VALUES ('m1', 'conv1', 'u1', 'USER', 'hello')",
    )
    .await
    .unwrap();
    exec(
        db,
        "INSERT INTO messages (id, conversation_id, parent_id, role, content) \
         VALUES ('m2', 'conv1', 'm1', 'ASSISTANT', 'hi')",
    )
    .await
    .unwrap();
    exec(
        db,
        "INSERT INTO usage_logs (id, user_id, conversation_id, message_id, provider, model, \
         stream_type, input_tokens, output_tokens) \
         VALUES ('l1', 'u1', 'conv1', 'm2', 'local', 'echo', 'chat', 3, 5)",
    )
    .await
    .unwrap();
    // A reference to a missing row is refused (SQLite enforces foreign keys too).
    exec(
        db,
        "INSERT INTO messages (id, conversation_id, role, content) \
         VALUES ('m3', 'missing', 'USER', 'x')",
    )
    .await
    .unwrap_err();

    // One wallet per (user, currency); an idempotency key is spent once per wallet.
    exec(
        db,
        "INSERT INTO wallets (id, user_id, currency) VALUES ('w1', 'u1', 'AZR')",
    )
    .await
    .unwrap();
    exec(
        db,
        "INSERT INTO wallets (id, user_id, currency) VALUES ('w2', 'u1', 'AZR')",
    )
    .await
    .unwrap_err();
    let ledger_row = |id: &str| {
        format!(
            "INSERT INTO transactions (id, wallet_id, type, amount, balance_after, \
             idempotency_key) VALUES ('{id}', 'w1', 'DEPOSIT', 100, 100, 'k1')"
        )
    };
    exec(db, &ledger_row("t1")).await.unwrap();
    exec(db, &ledger_row("t2")).await.unwrap_err();

    // A safety incident survives everything it points at.
    exec(
        db,
        "INSERT INTO safety_incidents (id, reporter_id, conversation_id, message_id, category, \
         description) VALUES ('s1', 'u1', 'conv1', 'm2', 'HARASSMENT', 'reported')",
    )
    .await
    .unwrap();

    if backend == DbBackend::Postgres {
        // PostgreSQL runs a delete's foreign-key actions in the order of their triggers' names,
        // which carry the constraints' OIDs: re-made, every cascade comes after every SET NULL.
        // A row detached through two paths (the user's, then the deleted message's) must still
        // pass its checks in that order: only a deferred check sees the finished delete.
        exec(db, RECREATE_CASCADES).await.unwrap();
        assert_eq!(
            count(
                db,
                "SELECT COUNT(*) FROM pg_constraint \
                 WHERE contype = 'f' AND confdeltype = 'n' AND NOT condeferred"
            )
            .await,
            0,
            "every ON DELETE SET NULL foreign key is checked at commit"
        );
    }
    // Deleting the user takes their own rows and keeps the analytics and incidents, detached.
    exec(db, "DELETE FROM users WHERE id = 'u1'").await.unwrap();
    assert_eq!(count(db, "SELECT COUNT(*) FROM wallets").await, 0);
    assert_eq!(count(db, "SELECT COUNT(*) FROM transactions").await, 0);
    assert_eq!(
        count(
            db,
            "SELECT COUNT(*) FROM safety_incidents WHERE reporter_id IS NULL \
             AND conversation_id IS NULL AND message_id IS NULL AND status = 'OPEN'"
        )
        .await,
        1
    );
    assert_eq!(count(db, "SELECT COUNT(*) FROM contact_methods").await, 0);
    assert_eq!(count(db, "SELECT COUNT(*) FROM conversations").await, 0);
    assert_eq!(count(db, "SELECT COUNT(*) FROM messages").await, 0);
    assert_eq!(
        count(
            db,
            "SELECT COUNT(*) FROM usage_logs WHERE user_id IS NULL \
             AND conversation_id IS NULL AND message_id IS NULL"
        )
        .await,
        1
    );

    for table in ["usage_logs", "safety_incidents", "users"] {
        exec(db, &format!("DELETE FROM {table}")).await.unwrap();
    }
}
