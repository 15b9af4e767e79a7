//! The database connection: one pool for SQLite or PostgreSQL, chosen by the URL, with every
//! statement counted so tests and `/metrics` can see how many a request issued.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
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
    /// A pooled connection idle at least this long is pinged before it is handed out (a dead one
    /// is replaced without the caller noticing); one used more recently is handed out as it is.
    /// `Duration::ZERO` pings on every checkout.
    pub ping_when_idle_for: Duration,
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
            ping_when_idle_for: PING_WHEN_IDLE_FOR,
        }
    }
}

/// Why not ping on every checkout (sqlx's default): a ping is a round trip to the server, so
/// every statement cost two. The nested read's four statements were eight round trips; on the
/// small read over PostgreSQL the pings took a quarter to a third of the server's CPU per request
/// (issue 8, README's performance section). What the
/// ping guards against is a connection the server, a proxy or a firewall dropped while it sat in
/// the pool, and that happens to connections left idle, not to ones in steady use: HikariCP skips
/// its liveness check for connections used within the last 500 ms for the same reason. The cost:
/// a connection that dies within a second of its last use (the database restarted) fails the
/// one statement sent on it, instead of being replaced silently.
pub const PING_WHEN_IDLE_FOR: Duration = Duration::from_secs(1);

/// Upper bounds (seconds) of the statement duration histogram's buckets (`+Inf` is implied).
pub const SQL_SECONDS_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// Statement counters, shared by every clone of a [`Db`].
#[derive(Debug, Default)]
pub struct SqlStats {
    statements: AtomicU64,
    failed: AtomicU64,
    micros: AtomicU64,
    /// Statements per duration bucket (not cumulative), the last one for `+Inf`.
    buckets: [AtomicU64; SQL_SECONDS_BUCKETS.len() + 1],
    slow: AtomicU64,
}

/// Where the slow-statement log finds the id of the request being served (the gateway installs
/// its task-local; `None` outside a request).
static REQUEST_ID_SOURCE: OnceLock<fn() -> Option<String>> = OnceLock::new();

/// Tells the slow-statement log how to find the current request's id. The first call wins.
pub fn set_request_id_source(source: fn() -> Option<String>) {
    let _ = REQUEST_ID_SOURCE.set(source);
}

/// A statement that just ended, as [`set_statement_observer`]'s observer sees it: its kind and
/// timing, never its text or bound values.
#[derive(Debug, Clone, Copy)]
pub struct StatementDone<'a> {
    /// The statement's first keyword, upper-cased (`SELECT`, `INSERT`, `WITH`, ...).
    pub kind: &'a str,
    /// `sqlite` or `postgresql`.
    pub system: &'static str,
    pub elapsed: Duration,
    pub failed: bool,
}

/// Who hears of every statement (the gateway's trace export installs one; none by default, so
/// a statement then costs one atomic load more).
static STATEMENT_OBSERVER: OnceLock<fn(&StatementDone<'_>)> = OnceLock::new();

/// Installs the observer every statement of every pool reports to, from within the task that
/// issued it (so it can see the caller's span). The first call wins.
pub fn set_statement_observer(observer: fn(&StatementDone<'_>)) {
    let _ = STATEMENT_OBSERVER.set(observer);
}

/// A statement's kind: its first keyword, upper-cased (at most 16 letters; `OTHER` if none).
fn statement_kind(sql: &str) -> String {
    let word: String = sql
        .trim_start_matches(|c: char| c.is_whitespace() || c == '(')
        .chars()
        .take_while(char::is_ascii_alphabetic)
        .take(16)
        .collect();
    if word.is_empty() {
        "OTHER".to_owned()
    } else {
        word.to_ascii_uppercase()
    }
}

fn current_request_id() -> Option<String> {
    REQUEST_ID_SOURCE.get().and_then(|source| source())
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
    /// Statements over the slow-statement threshold.
    pub fn slow(&self) -> u64 {
        self.slow.load(Ordering::Relaxed)
    }
    /// The duration histogram, cumulative as Prometheus wants it: `(le, count)` for each bound
    /// of [`SQL_SECONDS_BUCKETS`], then `(f64::INFINITY, total)`.
    pub fn histogram(&self) -> Vec<(f64, u64)> {
        let mut total = 0;
        let mut out = Vec::with_capacity(self.buckets.len());
        for (i, bucket) in self.buckets.iter().enumerate() {
            total += bucket.load(Ordering::Relaxed);
            let le = SQL_SECONDS_BUCKETS.get(i).copied().unwrap_or(f64::INFINITY);
            out.push((le, total));
        }
        out
    }
    fn observe(&self, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        let i = SQL_SECONDS_BUCKETS
            .iter()
            .position(|le| secs <= *le)
            .unwrap_or(SQL_SECONDS_BUCKETS.len());
        if let Some(bucket) = self.buckets.get(i) {
            bucket.fetch_add(1, Ordering::Relaxed);
        }
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
            .test_before_acquire_if_idle_for(config.ping_when_idle_for)
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
        let system = match conn.get_database_backend() {
            DbBackend::Postgres => "postgresql",
            _ => "sqlite",
        };
        conn.set_metric_callback(move |info| {
            if let Some(observe) = STATEMENT_OBSERVER.get() {
                observe(&StatementDone {
                    kind: &statement_kind(&info.statement.sql),
                    system,
                    elapsed: info.elapsed,
                    failed: info.failed,
                });
            }
            counter.statements.fetch_add(1, Ordering::Relaxed);
            let micros = u64::try_from(info.elapsed.as_micros()).unwrap_or(u64::MAX);
            counter.micros.fetch_add(micros, Ordering::Relaxed);
            counter.observe(info.elapsed);
            if info.failed {
                counter.failed.fetch_add(1, Ordering::Relaxed);
            }
            if info.elapsed > slow {
                counter.slow.fetch_add(1, Ordering::Relaxed);
                let request_id = current_request_id();
                tracing::warn!(
                    elapsed_ms = info.elapsed.as_millis() as u64,
                    request_id = request_id.as_deref().unwrap_or("-"),
                    sql = %info.statement.sql,
                    "slow statement"
                );
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use sea_orm::{ConnectionTrait, Statement};
    use test_db::{Backend, TestDb};

    use super::{Db, DbConfig, statement_kind};

    async fn backend_pid(db: &impl ConnectionTrait) -> Result<i32, sea_orm::DbErr> {
        let row = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT pg_backend_pid() AS pid",
            ))
            .await?
            .expect("one row");
        row.try_get("", "pid")
    }

    /// The pool's one connection is killed by the server between two statements; with the ping
    /// threshold at zero the pool pings it before the next statement and replaces it, so that
    /// statement succeeds on a new connection. (With a long threshold the next statement usually
    /// fails on the dead connection, but not always: sqlx sometimes notices the closed socket by
    /// itself, so that half cannot be asserted.)
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_idle_connection_is_pinged_and_a_dead_one_replaced() {
        let Some(test_db) = TestDb::empty(Backend::Postgres).await else {
            return;
        };
        let admin = Db::connect(&DbConfig::new(test_db.url.clone()))
            .await
            .unwrap();
        let mut config = DbConfig::new(test_db.url.clone());
        config.max_connections = 1;
        config.ping_when_idle_for = Duration::ZERO;
        let db = Db::connect(&config).await.unwrap();
        let pid = backend_pid(db.conn()).await.unwrap();
        // With a timeout the call returns once the server process has exited (PostgreSQL 14+).
        let ended = admin
            .conn()
            .query_one_raw(Statement::from_string(
                admin.backend(),
                format!("SELECT pg_terminate_backend({pid}, 10000) AS ended"),
            ))
            .await
            .unwrap()
            .expect("one row");
        assert!(
            ended.try_get::<bool>("", "ended").unwrap(),
            "backend {pid} ended"
        );
        let next = backend_pid(db.conn()).await.unwrap();
        assert_ne!(next, pid, "a new connection answered");
    }

    #[test]
    fn a_statement_kind_is_its_first_keyword_only() {
        assert_eq!(
            statement_kind("select * from users where email = $1"),
            "SELECT"
        );
        assert_eq!(statement_kind("  (SELECT 1) UNION (SELECT 2)"), "SELECT");
        assert_eq!(statement_kind("WITH s0 AS (SELECT 1) SELECT 2"), "WITH");
        assert_eq!(statement_kind("INSERT INTO t VALUES ('secret')"), "INSERT");
        assert_eq!(statement_kind(""), "OTHER");
    }
}
