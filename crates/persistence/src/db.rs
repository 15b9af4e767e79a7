//! The database connection: one pool for SQLite or PostgreSQL, chosen by the URL, with every
//! statement counted so tests and `/metrics` can see how many a request issued.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, ConnectionTrait, DatabaseConnection, DbBackend};

use crate::StoreError;
use crate::held::Held;

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
/// (issue 8, README's performance section). What the ping guards against is a connection the
/// server, a proxy or a firewall dropped while it sat in the pool, and that happens to connections
/// left idle, not to ones in steady use: HikariCP skips its liveness check for connections used
/// within the last 500 ms for the same reason. The cost: a connection that dies within a second of
/// its last use (the database restarted) fails the one statement sent on it, instead of being
/// replaced silently.
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
    /// Holds the pool's statistics.
    recorder: Recorder,
}

/// Counts, times and logs every statement of a pool, whether SeaORM ran it on the pool or a
/// [`Held`] connection ran it.
#[derive(Clone, Debug)]
pub(crate) struct Recorder {
    stats: Arc<SqlStats>,
    system: &'static str,
    slow: Duration,
}

impl Recorder {
    pub(crate) fn record(&self, sql: &str, elapsed: Duration, failed: bool) {
        if let Some(observe) = STATEMENT_OBSERVER.get() {
            observe(&StatementDone {
                kind: &statement_kind(sql),
                system: self.system,
                elapsed,
                failed,
            });
        }
        let counter = &self.stats;
        counter.statements.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        counter.micros.fetch_add(micros, Ordering::Relaxed);
        counter.observe(elapsed);
        if failed {
            counter.failed.fetch_add(1, Ordering::Relaxed);
        }
        if elapsed > self.slow {
            counter.slow.fetch_add(1, Ordering::Relaxed);
            let request_id = current_request_id();
            tracing::warn!(
                elapsed_ms = elapsed.as_millis() as u64,
                request_id = request_id.as_deref().unwrap_or("-"),
                sql = %sql,
                "slow statement"
            );
        } else {
            tracing::trace!(sql = %sql, "statement");
        }
    }
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
        let recorder = Recorder {
            stats: Arc::new(SqlStats::default()),
            system: match conn.get_database_backend() {
                DbBackend::Postgres => "postgresql",
                _ => "sqlite",
            },
            slow: config.slow_statement,
        };
        let counting = recorder.clone();
        conn.set_metric_callback(move |info| {
            counting.record(&info.statement.sql, info.elapsed, info.failed);
        });
        Ok(Self { conn, recorder })
    }

    /// One connection of the pool, held for a run of statements until it is dropped
    /// ([`Held`]). Waits for a free connection as a statement would.
    pub async fn hold(&self) -> Result<Held, StoreError> {
        Held::acquire(&self.conn, self.recorder.clone()).await
    }

    pub fn conn(&self) -> &DatabaseConnection {
        &self.conn
    }

    pub fn stats(&self) -> &SqlStats {
        &self.recorder.stats
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
    use std::net::SocketAddr;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use sea_orm::{ConnectionTrait, Statement};
    use test_db::{Backend, TestDb};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};
    use tokio::sync::mpsc;

    use super::{Db, DbConfig, statement_kind};

    /// Splits what a PostgreSQL client sends into messages and counts the Sync messages: every
    /// statement ends with one, and sqlx's ping is a Sync alone.
    #[derive(Default)]
    struct Frames {
        pending: Vec<u8>,
        started: bool,
    }

    impl Frames {
        fn syncs_in(&mut self, chunk: &[u8]) -> usize {
            self.pending.extend_from_slice(chunk);
            let mut syncs = 0;
            loop {
                // The startup message has no type byte; every later message has one.
                let (header, kind) = if self.started {
                    (5, self.pending.first().copied())
                } else {
                    (4, None)
                };
                let Some(length) = self.pending.get(header - 4..header) else {
                    return syncs;
                };
                let length = u32::from_be_bytes(length.try_into().unwrap()) as usize;
                let total = header - 4 + length;
                if self.pending.len() < total {
                    return syncs;
                }
                syncs += usize::from(kind == Some(b'S'));
                self.pending.drain(..total);
                self.started = true;
            }
        }
    }

    /// A TCP proxy to `upstream` that counts the Sync messages a client sends through it; the
    /// receiver hears of each client connection that has ended (its messages all counted).
    async fn sync_counting_proxy(upstream: String) -> (SocketAddr, Arc<AtomicUsize>, Ended) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let syncs = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&syncs);
        let (ended, ended_rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let server = TcpStream::connect(&upstream).await.unwrap();
                let (counter, ended) = (Arc::clone(&counter), ended.clone());
                tokio::spawn(async move {
                    let (mut from_client, mut to_client) = client.into_split();
                    let (mut from_server, mut to_server) = server.into_split();
                    tokio::spawn(async move {
                        let _ = tokio::io::copy(&mut from_server, &mut to_client).await;
                    });
                    let mut frames = Frames::default();
                    let mut buf = vec![0; 64 * 1024];
                    while let Ok(n @ 1..) = from_client.read(&mut buf).await {
                        counter.fetch_add(frames.syncs_in(&buf[..n]), Ordering::SeqCst);
                        if to_server.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                    let _ = ended.send(());
                });
            }
        });
        (addr, syncs, ended_rx)
    }

    type Ended = mpsc::UnboundedReceiver<()>;

    /// The Sync messages a pool of one connection sends through a proxy for `statements` runs of
    /// one statement through the pool, from connecting to closing.
    async fn syncs_for(test_db: &TestDb, ping_when_idle_for: Duration, statements: usize) -> usize {
        syncs_of(test_db, ping_when_idle_for, statements, false).await
    }

    /// [`syncs_for`], the statements run through the pool or on one held connection.
    async fn syncs_of(
        test_db: &TestDb,
        ping_when_idle_for: Duration,
        statements: usize,
        held: bool,
    ) -> usize {
        let mut url = url::Url::parse(&test_db.url).unwrap();
        let upstream = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(5432));
        let (proxy, syncs, mut ended) = sync_counting_proxy(upstream).await;
        url.set_host(Some("127.0.0.1")).unwrap();
        url.set_port(Some(proxy.port())).unwrap();
        // In clear text, so the proxy can read the messages.
        url.query_pairs_mut().append_pair("sslmode", "disable");
        let mut config = DbConfig::new(url.to_string());
        config.max_connections = 1;
        config.ping_when_idle_for = ping_when_idle_for;
        let db = Db::connect(&config).await.unwrap();
        let select = || Statement::from_string(db.backend(), "SELECT 1");
        if held {
            let conn = db.hold().await.unwrap();
            for _ in 0..statements {
                conn.query_all_raw(select()).await.unwrap();
            }
        } else {
            for _ in 0..statements {
                db.conn().query_all_raw(select()).await.unwrap();
            }
        }
        // Returning a connection to the pool runs in a task of its own: wait for the pool to be
        // whole again before closing it, or the last test is cut short.
        let whole = async {
            while db.conn().get_postgres_connection_pool().num_idle() < 1 {
                tokio::task::yield_now().await;
            }
        };
        tokio::time::timeout(Duration::from_secs(10), whole)
            .await
            .expect("the connection went back to the pool");
        db.conn().clone().close().await.unwrap();
        ended.recv().await.expect("the pool's connection ended");
        syncs.load(Ordering::SeqCst)
    }

    /// Every statement ends with a Sync message, and sqlx's ping is a Sync alone. Ten statements
    /// one after the other on one connection: with a long threshold the pool never pings the
    /// just-used connection; with a zero threshold it pings before each of them, as sqlx's
    /// default did.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_connection_used_recently_is_not_pinged_an_idle_one_is() {
        let Some(test_db) = TestDb::empty(Backend::Postgres).await else {
            return;
        };
        let unpinged = syncs_for(&test_db, Duration::from_secs(3600), 10).await;
        let pinged = syncs_for(&test_db, Duration::ZERO, 10).await;
        assert!(
            unpinged >= 10,
            "one Sync per statement at least: {unpinged}"
        );
        assert!(
            pinged >= unpinged + 10,
            "a ping before each of the 10 statements: {pinged} Syncs with, {unpinged} without"
        );
    }

    /// sqlx tests a connection each time it goes back to the pool (a Sync alone): ten statements
    /// through the pool send ten more Syncs than ten on one held connection, which is tested
    /// once, when it is given back.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn statements_on_a_held_connection_are_not_each_followed_by_a_ping() {
        let Some(test_db) = TestDb::empty(Backend::Postgres).await else {
            return;
        };
        let long = Duration::from_secs(3600);
        let pooled = syncs_of(&test_db, long, 10, false).await;
        let held = syncs_of(&test_db, long, 10, true).await;
        assert!(held >= 10, "one Sync per statement at least: {held}");
        assert!(
            pooled >= held + 9,
            "a ping after each statement through the pool, one for the held connection: \
             {pooled} Syncs through the pool, {held} held"
        );
    }

    test_db::backend_tests!(
        a_held_connection_reads_writes_and_counts_as_the_pool_does,
        |backend| async move {
            let Some(test_db) = TestDb::empty(backend).await else {
                return;
            };
            let db = Db::connect(&DbConfig::new(test_db.url.clone()))
                .await
                .unwrap();
            let conn = db.hold().await.unwrap();
            let before = db.stats().statements();
            conn.execute_unprepared(
                "CREATE TABLE held_t (n INTEGER NOT NULL); INSERT INTO held_t VALUES (1)",
            )
            .await
            .unwrap();
            let insert = Statement::from_sql_and_values(
                db.backend(),
                match db.backend() {
                    sea_orm::DbBackend::Postgres => "INSERT INTO held_t VALUES ($1), ($2)",
                    _ => "INSERT INTO held_t VALUES (?), (?)",
                },
                [2.into(), 3.into()],
            );
            assert_eq!(conn.execute_raw(insert).await.unwrap().rows_affected(), 2);
            let sum = Statement::from_string(
                db.backend(),
                "SELECT SUM(n) AS s, COUNT(*) AS c FROM held_t",
            );
            let one = conn.query_one_raw(sum.clone()).await.unwrap().unwrap();
            let on_the_pool = db.conn().query_one_raw(sum).await.unwrap().unwrap();
            for row in [&one, &on_the_pool] {
                assert_eq!(row.try_get::<i64>("", "s").unwrap(), 6);
                assert_eq!(row.try_get::<i64>("", "c").unwrap(), 3);
            }
            let all = Statement::from_string(db.backend(), "SELECT n FROM held_t ORDER BY n");
            let rows = conn.query_all_raw(all).await.unwrap();
            let ns: Vec<i32> = rows.iter().map(|r| r.try_get("", "n").unwrap()).collect();
            assert_eq!(ns, [1, 2, 3]);
            let failed = db.stats().failed();
            let bad = Statement::from_string(db.backend(), "SELECT nope FROM held_t");
            assert!(
                conn.query_all_raw(bad).await.is_err(),
                "an error is an error"
            );
            assert_eq!(db.stats().failed(), failed + 1, "and counted as failed");
            assert_eq!(
                db.stats().statements() - before,
                6,
                "each statement on the held connection is counted as the pool counts (the pool's own \
             read included)"
            );
            // The connection still serves after an error, and goes back to the pool when dropped.
            let count = Statement::from_string(db.backend(), "SELECT COUNT(*) AS c FROM held_t");
            assert!(conn.query_one_raw(count).await.unwrap().is_some());
            drop(conn);
            db.ping().await.unwrap();
        }
    );

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
