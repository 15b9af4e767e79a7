//! The database connection: one pool for SQLite or PostgreSQL, chosen by the URL, with every
//! statement counted so tests and `/metrics` can see how many a request issued.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, ConnectionTrait, DatabaseConnection, DbBackend};

use crate::StoreError;

/// How to reach the database.
#[derive(Debug, Clone)]
pub struct DbConfig {
    /// `sqlite://path?mode=rwc` or `postgres://user@host/db`.
    pub url: String,
    /// Pool size. SQLite allows one writer at a time, so a few connections are enough there.
    pub max_connections: u32,
    pub connect_timeout: Duration,
    /// Statements slower than this are logged at WARN.
    pub slow_statement: Duration,
}

impl DbConfig {
    pub fn new(url: impl Into<String>) -> Self {
        let url = url.into();
        let max_connections = if url.starts_with("sqlite:") { 4 } else { 10 };
        Self {
            url,
            max_connections,
            connect_timeout: Duration::from_secs(10),
            slow_statement: Duration::from_millis(500),
        }
    }
}

/// Statement counters, shared by every clone of a [`Db`].
#[derive(Debug, Default)]
pub struct SqlStats {
    statements: AtomicU64,
    failed: AtomicU64,
    micros: AtomicU64,
}

impl SqlStats {
    /// Statements executed since the pool was created.
    pub fn statements(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }
    /// Statements that returned an error.
    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }
    /// Total time spent in statements, in microseconds.
    pub fn total_micros(&self) -> u64 {
        self.micros.load(Ordering::Relaxed)
    }
}

/// A migration and whether it has been applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationState {
    pub name: String,
    pub applied: bool,
}

/// The connection pool and its statistics. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Db {
    conn: DatabaseConnection,
    stats: Arc<SqlStats>,
}

impl Db {
    /// Opens the pool. SQLite files are created when missing (`mode=rwc`), use WAL so readers do
    /// not block the writer, wait up to 5 s for a lock instead of failing, and enforce foreign
    /// keys.
    pub async fn connect(config: &DbConfig) -> Result<Self, StoreError> {
        let mut options = ConnectOptions::new(config.url.clone());
        options
            .max_connections(config.max_connections)
            .min_connections(1)
            .connect_timeout(config.connect_timeout)
            .acquire_timeout(Duration::from_secs(30))
            .sqlx_logging(false)
            .map_sqlx_sqlite_opts(|o| {
                o.journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(5))
                    .foreign_keys(true)
                    .create_if_missing(true)
            });
        let mut conn = sea_orm::Database::connect(options).await?;
        let stats = Arc::new(SqlStats::default());
        let counter = Arc::clone(&stats);
        let slow = config.slow_statement;
        conn.set_metric_callback(move |info| {
            counter.statements.fetch_add(1, Ordering::Relaxed);
            let micros = u64::try_from(info.elapsed.as_micros()).unwrap_or(u64::MAX);
            counter.micros.fetch_add(micros, Ordering::Relaxed);
            if info.failed {
                counter.failed.fetch_add(1, Ordering::Relaxed);
            }
            if info.elapsed > slow {
                tracing::warn!(elapsed_ms = info.elapsed.as_millis() as u64, sql = %info.statement.sql, "slow statement");
            } else {
                tracing::trace!(sql = %info.statement.sql, "statement");
            }
        });
        Ok(Self { conn, stats })
    }

    pub fn conn(&self) -> &DatabaseConnection {
        &self.conn
    }

    pub fn stats(&self) -> &SqlStats {
        &self.stats
    }

    pub fn backend(&self) -> DbBackend {
        self.conn.get_database_backend()
    }

    /// One trivial statement: the readiness check.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.conn.execute_unprepared("SELECT 1").await?;
        Ok(())
    }

    /// Applies pending migrations (all, or `steps` of them). Returns how many were applied.
    pub async fn migrate_up(&self, steps: Option<u32>) -> Result<usize, StoreError> {
        let pending = Migrator::get_pending_migrations(&self.conn)
            .await
            .map_err(StoreError::Migration)?
            .len();
        Migrator::up(&self.conn, steps)
            .await
            .map_err(StoreError::Migration)?;
        Ok(steps.map_or(pending, |s| pending.min(s as usize)))
    }

    /// Reverts the last `steps` applied migrations.
    pub async fn migrate_down(&self, steps: u32) -> Result<(), StoreError> {
        Migrator::down(&self.conn, Some(steps))
            .await
            .map_err(StoreError::Migration)
    }

    /// Every known migration, oldest first, with whether it is applied.
    pub async fn migration_status(&self) -> Result<Vec<MigrationState>, StoreError> {
        let all = Migrator::get_migration_with_status(&self.conn)
            .await
            .map_err(StoreError::Migration)?;
        Ok(all
            .iter()
            .map(|m| MigrationState {
                name: m.name().to_owned(),
                applied: m.status() == migration::MigrationStatus::Applied,
            })
            .collect())
    }
}
