//! `just bench`: Colloquy measured from outside, over HTTP, against the floor, in one run.
//!
//! 1. Creates a fresh database: a SQLite file in a temporary directory by default, a PostgreSQL
//!    database when `--postgres URL` or `TEST_DATABASE_URL` is given (created on that server,
//!    dropped at the end).
//! 2. Migrates it with the release binary: `colloquy migrate up`.
//! 3. Loads the data set: 2,000 users × 10 conversations × 20 messages (`--small` for 200 users,
//!    `--users N` or `BENCH_USERS=N` for any number from 50), with multi-row INSERTs in
//!    transactions; one of the users is an ADMIN, with a session whose token the bench keeps.
//! 4. Starts the release server (`colloquy serve`, seeds off, rate limit off) on a free port of
//!    127.0.0.1 and waits for `/readyz`.
//! 5. Measures two nested reads, large (`users(first: 50) → conversations(first: 10) →
//!    messages(first: 20)`) and small (10 → 5 → 5), at 1 and 16 concurrent clients, for a fixed
//!    time each (`--secs S` or `BENCH_SECS`, default 10): requests per second, p50 and p99,
//!    statements per request (the server's `colloquy_sql_statements_total`), server CPU per
//!    request and the server's peak RSS (`VmHWM`, reset before each run). `--only large` or
//!    `--only small` measures one of the two reads.
//! 6. Measures the floor the same way, in this process: the same rows read with hand-written SQL
//!    through sqlx (one statement per level: a LATERAL join on PostgreSQL, a correlated rowid list
//!    on SQLite; only the asked columns), the same nested JSON built and serialised.
//! 7. Prints one table, Colloquy against the floor, with the ratios the goals are stated in.
//!
//! Needs nothing but the release binary (`cargo build --release -p gateway`, which `just bench`
//! runs first); `COLLOQUY_BIN` points at another one. All traffic goes to 127.0.0.1; every loop
//! is bounded in time and count.

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use colloquy_tests::{Kind, gid};
use persistence::{Db, DbConfig};
use sea_orm::sqlx::{self, Connection as _, Row as _};
use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait, Value};
use serde::Serialize;

/// Rows of a statement, decoded by `$map` (the same code for both drivers' row types).
macro_rules! fetch {
    ($pool:expr, $sql:expr, [$($bind:expr),*], |$row:ident| $map:expr) => {{
        let rows = sqlx::query($sql)$(.bind($bind))*.fetch_all($pool).await?;
        let mut out = Vec::with_capacity(rows.len());
        for $row in &rows {
            out.push($map);
        }
        out
    }};
}

const CONVERSATIONS_PER_USER: usize = 10;
const MESSAGES_PER_CONVERSATION: usize = 20;
const DEFAULT_USERS: usize = 2_000;
const SMALL_USERS: usize = 200;
const CONCURRENCY: [usize; 2] = [1, 16];
/// No run issues more requests than this, however fast it goes.
const MAX_REQUESTS_PER_RUN: u64 = 500_000;

/// One of the two measured reads.
#[derive(Clone, Copy)]
struct Shape {
    name: &'static str,
    users: u32,
    conversations: u32,
    messages: u32,
}

const LARGE: Shape = Shape {
    name: "large 50→10→20",
    users: 50,
    conversations: 10,
    messages: 20,
};
const SMALL: Shape = Shape {
    name: "small 10→5→5",
    users: 10,
    conversations: 5,
    messages: 5,
};

impl Shape {
    fn query(&self) -> String {
        format!(
            "{{ users(first: {}) {{ edges {{ node {{ id email name conversations(first: {}) {{ edges {{ node {{ id title model messages(first: {}) {{ edges {{ node {{ id role content status createdAt }} }} }} }} }} }} }} }} }} }}",
            self.users, self.conversations, self.messages
        )
    }
}

struct Options {
    postgres: Option<String>,
    users: usize,
    secs: f64,
    bin: PathBuf,
    /// The reads to measure (both unless `--only`).
    shapes: Vec<Shape>,
}

fn options() -> Result<Options> {
    let mut postgres = std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty());
    let mut users = match std::env::var("BENCH_USERS") {
        Ok(n) => n.parse().context("BENCH_USERS must be a number")?,
        Err(_) => DEFAULT_USERS,
    };
    let mut secs: f64 = match std::env::var("BENCH_SECS") {
        Ok(s) => s.parse().context("BENCH_SECS must be a number")?,
        Err(_) => 10.0,
    };
    let mut shapes = vec![LARGE, SMALL];
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--postgres" => postgres = Some(args.next().context("--postgres needs a URL")?),
            "--sqlite" => postgres = None,
            "--small" => users = SMALL_USERS,
            "--users" => {
                users = args
                    .next()
                    .context("--users needs a number")?
                    .parse()
                    .context("--users needs a number")?
            }
            "--secs" => {
                secs = args
                    .next()
                    .context("--secs needs a number")?
                    .parse()
                    .context("--secs needs a number")?
            }
            "--only" => {
                shapes = match args.next().as_deref() {
                    Some("large") => vec![LARGE],
                    Some("small") => vec![SMALL],
                    _ => bail!("--only needs large or small"),
                }
            }
            // What `cargo bench` adds for harness-less benches.
            "--bench" => {}
            other => eprintln!("http bench: ignoring argument {other:?}"),
        }
    }
    if users < LARGE.users as usize {
        bail!(
            "the large query reads {} users: load at least that many",
            LARGE.users
        );
    }
    if !(0.5..=600.0).contains(&secs) {
        bail!("seconds per run must be between 0.5 and 600");
    }
    let bin = match std::env::var_os("COLLOQUY_BIN") {
        Some(path) => PathBuf::from(path),
        None => release_binary()?,
    };
    if !bin.is_file() {
        bail!(
            "no server binary at {}: run `cargo build --release -p gateway` first (or set COLLOQUY_BIN)",
            bin.display()
        );
    }
    Ok(Options {
        postgres,
        users,
        secs,
        bin,
        shapes,
    })
}

/// `<target>/release/colloquy`, found from this bench's own path `<target>/release/deps/http-*`.
fn release_binary() -> Result<PathBuf> {
    let exe = std::env::current_exe().context("the bench's own path")?;
    let release = exe
        .parent()
        .and_then(Path::parent)
        .context("the bench is not in <target>/release/deps")?;
    Ok(release.join("colloquy"))
}

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("http bench: cannot start a runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("http bench failed: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<()> {
    let options = options()?;
    let work = tempfile::tempdir().context("a temporary directory")?;
    let database = match &options.postgres {
        Some(admin_url) => BenchDb::postgres(admin_url).await?,
        None => BenchDb::sqlite(work.path()),
    };
    println!(
        "http bench: {} database {}",
        database.kind(),
        redacted(database.url())
    );

    println!(
        "$ DATABASE_URL={} {} migrate up",
        redacted(database.url()),
        options.bin.display()
    );
    let status = Command::new(&options.bin)
        .args(["migrate", "up"])
        .current_dir(work.path())
        .env("DATABASE_URL", database.url())
        .env("RUST_LOG", "warn")
        .status()
        .context("run colloquy migrate up")?;
    if !status.success() {
        bail!("colloquy migrate up failed: {status}");
    }

    let started = Instant::now();
    let loaded = load(database.url(), options.users).await?;
    println!(
        "loaded {} users, {} conversations, {} messages (+1 session) in {:.1} s",
        loaded.users,
        loaded.conversations,
        loaded.messages,
        started.elapsed().as_secs_f64()
    );

    let pool_size: u32 = match std::env::var("COLLOQUY_DB_MAX_CONNECTIONS") {
        Ok(n) => n.parse().context("COLLOQUY_DB_MAX_CONNECTIONS")?,
        Err(_) => DbConfig::new(database.url()).max_connections,
    };
    let server = Server::start(&options.bin, work.path(), database.url()).await?;
    println!(
        "server pid {} at {} (pool of {pool_size}); floor: sqlx pool of {pool_size} in this process",
        server.pid, server.base
    );
    let floor = Floor::connect(database.url(), pool_size).await?;
    println!("{}", floor.version().await?);

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(32)
        .timeout(Duration::from_secs(120))
        .build()
        .context("an HTTP client")?;
    let colloquy = Colloquy {
        client,
        url: format!("{}/graphql", server.base),
        bearer: format!("Bearer {}", loaded.token),
    };

    for &shape in &options.shapes {
        let (from_server, rows) = same_rows(&colloquy, &floor, shape).await?;
        println!(
            "{}: Colloquy and the floor return the same {rows} rows{}",
            shape.name,
            if from_server {
                ", byte for byte the same JSON"
            } else {
                " (same ids in the same order)"
            }
        );
    }

    let duration = Duration::from_secs_f64(options.secs);
    let mut table = Vec::new();
    for &shape in &options.shapes {
        for clients in CONCURRENCY {
            let c = measure_colloquy(&colloquy, &server, shape, clients, duration).await?;
            let f = measure_floor(&floor, shape, clients, duration).await?;
            println!(
                "  {:<15} {clients:>2} clients: Colloquy {:>8.1} req/s, floor {:>8.1} req/s",
                shape.name, c.run.rate, f.rate
            );
            table.push((shape, clients, c, f));
        }
    }

    server.stop()?;
    let kind = database.kind();
    let decode = decode_costs(database.url(), &floor).await?;
    floor.close().await;
    database.drop_database().await?;

    println!();
    println!(
        "Colloquy over HTTP vs the floor (same rows, hand-written SQL, one statement per level), {}, {} users × {CONVERSATIONS_PER_USER} × {MESSAGES_PER_CONVERSATION}, {:.0} s per run:",
        kind, loaded.users, options.secs
    );
    println!();
    println!(
        "| query | clients | Colloquy req/s | p50 ms | p99 ms | statements/req | server CPU ms/req | peak RSS MiB | floor req/s | floor p50 ms | floor p99 ms | req/s ratio (goal ≥ 0.7) | p50 ratio (goal ≤ 1.5) |"
    );
    println!(
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for (shape, clients, c, f) in &table {
        println!(
            "| {} | {clients} | {:.1} | {:.1} | {:.1} | {:.2} | {} | {} | {:.1} | {:.2} | {:.2} | {:.2} | {:.2} |",
            shape.name,
            c.run.rate,
            ms(c.run.p50),
            ms(c.run.p99),
            c.statements_per_request,
            c.cpu_ms_per_request
                .map_or_else(|| "n/a".to_owned(), |v| format!("{v:.1}")),
            c.peak_rss_mib
                .map_or_else(|| "n/a".to_owned(), |v| format!("{v:.0}")),
            f.rate,
            ms(f.p50),
            ms(f.p99),
            c.run.rate / f.rate,
            ms(c.run.p50) / ms(f.p50),
        );
    }
    println!();
    println!(
        "(client, server and database share this machine's {} CPUs; the floor runs in the bench process and has no HTTP hop)",
        std::thread::available_parallelism().map_or(0, usize::from)
    );
    println!();
    println!(
        "The messages level of the large read alone (500 conversations × 20 messages), in process, one task, median of {DECODE_ROUNDS}:"
    );
    println!();
    println!("| read | ms |");
    println!("| --- | ---: |");
    for (what, time) in decode {
        println!("| {what} | {:.2} |", ms(time));
    }
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// A URL without its password, for printing.
fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

// ---------------------------------------------------------------------------------------------
// The database

enum BenchDb {
    Sqlite {
        url: String,
    },
    Postgres {
        url: String,
        admin_url: String,
        name: String,
        dropped: bool,
    },
}

impl BenchDb {
    fn sqlite(dir: &Path) -> Self {
        Self::Sqlite {
            url: format!("sqlite://{}?mode=rwc", dir.join("bench.db").display()),
        }
    }

    async fn postgres(admin_url: &str) -> Result<Self> {
        let name = format!(
            "colloquy_bench_{}_{}",
            std::process::id(),
            Utc::now().timestamp_micros()
        );
        let mut admin = sqlx::PgConnection::connect(admin_url)
            .await
            .with_context(|| format!("connect to {}", redacted(admin_url)))?;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .context("create the bench database")?;
        admin.close().await.ok();
        let mut url = url::Url::parse(admin_url).context("the PostgreSQL URL")?;
        url.set_path(&format!("/{name}"));
        Ok(Self::Postgres {
            url: url.to_string(),
            admin_url: admin_url.to_owned(),
            name,
            dropped: false,
        })
    }

    fn kind(&self) -> &'static str {
        match self {
            Self::Sqlite { .. } => "SQLite",
            Self::Postgres { .. } => "PostgreSQL",
        }
    }

    fn url(&self) -> &str {
        match self {
            Self::Sqlite { url } | Self::Postgres { url, .. } => url,
        }
    }

    async fn drop_database(mut self) -> Result<()> {
        if let Self::Postgres {
            admin_url,
            name,
            dropped,
            ..
        } = &mut self
        {
            drop_postgres(admin_url, name).await?;
            *dropped = true;
        }
        Ok(())
    }
}

async fn drop_postgres(admin_url: &str, name: &str) -> Result<()> {
    let mut admin = sqlx::PgConnection::connect(admin_url).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await?;
    admin.close().await.ok();
    Ok(())
}

impl Drop for BenchDb {
    /// Drops the PostgreSQL database when the bench stopped early (an error).
    fn drop(&mut self) {
        if let Self::Postgres {
            admin_url,
            name,
            dropped: false,
            ..
        } = self
        {
            let (admin_url, name) = (admin_url.clone(), name.clone());
            let _ = std::thread::spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                let _ = rt.block_on(drop_postgres(&admin_url, &name));
            })
            .join();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The data set

struct Loaded {
    users: usize,
    conversations: usize,
    messages: usize,
    token: String,
}

/// `INSERT INTO table (columns) VALUES (...), (...)` for as many rows as the bound-parameter
/// limits allow (SQLite: 32,766; PostgreSQL: 65,535), statement after statement.
async fn insert(
    db: &impl ConnectionTrait,
    backend: DbBackend,
    table: &str,
    columns: &[&str],
    rows: Vec<Vec<Value>>,
) -> Result<()> {
    let per_statement = (30_000 / columns.len()).min(2_000);
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let mut sql = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
        let mut values = Vec::with_capacity(per_statement * columns.len());
        for (r, row) in rows.by_ref().take(per_statement).enumerate() {
            sql.push_str(if r == 0 { "(" } else { ", (" });
            for (c, value) in row.into_iter().enumerate() {
                if c > 0 {
                    sql.push_str(", ");
                }
                values.push(value);
                match backend {
                    DbBackend::Postgres => sql.push_str(&format!("${}", values.len())),
                    _ => sql.push('?'),
                }
            }
            sql.push(')');
        }
        db.execute_raw(Statement::from_sql_and_values(backend, sql, values))
            .await
            .with_context(|| format!("insert into {table}"))?;
    }
    Ok(())
}

/// Loads `users` users (the first an ADMIN), 10 conversations each and 20 messages in each
/// conversation, plus a session for the admin. Timestamps are distinct and increasing, written
/// through the same driver encoding as the server's own writes.
async fn load(url: &str, users: usize) -> Result<Loaded> {
    let db = Db::connect(&DbConfig::new(url)).await?;
    let conn = db.conn();
    let backend = db.backend();
    let base = Utc::now() - chrono::Duration::days(1);
    let user_ids: Vec<String> = (0..users).map(|_| cuid2::create_id()).collect();

    let txn = conn.begin().await?;
    let user_rows = user_ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let at = base + chrono::Duration::milliseconds(i64::try_from(i).unwrap_or(0));
            vec![
                Value::from(id.clone()),
                Value::from(format!("user{i}@bench.example")),
                Value::from(format!("Bench User {i}")),
                Value::from(if i == 0 { "ADMIN" } else { "USER" }),
                Value::from(true),
                Value::from(false),
                Value::from(at),
                Value::from(at),
            ]
        })
        .collect();
    insert(
        &txn,
        backend,
        "users",
        &[
            "id",
            "email",
            "name",
            "role",
            "is_active",
            "disclaimer_accepted",
            "created_at",
            "updated_at",
        ],
        user_rows,
    )
    .await?;
    let issued = auth::TokenKind::Session
        .issue()
        .map_err(|e| anyhow::anyhow!("issue a session token: {e}"))?;
    let now = Utc::now();
    insert(
        &txn,
        backend,
        "sessions",
        &[
            "id",
            "user_id",
            "token_hash",
            "expires_at",
            "last_used_at",
            "created_at",
        ],
        vec![vec![
            Value::from(cuid2::create_id()),
            Value::from(user_ids[0].clone()),
            Value::from(issued.hash.clone()),
            Value::from(now + chrono::Duration::days(1)),
            Value::from(now),
            Value::from(now),
        ]],
    )
    .await?;
    txn.commit().await?;

    let mut conversations = 0;
    let mut messages = 0;
    // 100 users (1,000 conversations, 20,000 messages) per transaction.
    for (chunk_no, chunk) in user_ids.chunks(100).enumerate() {
        let txn = conn.begin().await?;
        let mut conversation_rows = Vec::new();
        let mut message_rows = Vec::new();
        for (u, user) in chunk.iter().enumerate() {
            let user_no = chunk_no * 100 + u;
            for c in 0..CONVERSATIONS_PER_USER {
                let id = cuid2::create_id();
                let n = i64::try_from(user_no * CONVERSATIONS_PER_USER + c).unwrap_or(0);
                let created = base + chrono::Duration::hours(1) + chrono::Duration::milliseconds(n);
                conversation_rows.push(vec![
                    Value::from(id.clone()),
                    Value::from(user.clone()),
                    Value::from(format!("Conversation {c} of user {user_no}")),
                    Value::from("local-echo"),
                    Value::from("ACTIVE"),
                    Value::from(false),
                    Value::from(i32::try_from(MESSAGES_PER_CONVERSATION).unwrap_or(0)),
                    Value::from(created),
                    Value::from(created),
                    Value::from(created),
                ]);
                for m in 0..MESSAGES_PER_CONVERSATION {
                    let at = created
                        + chrono::Duration::seconds(1)
                        + chrono::Duration::microseconds(i64::try_from(m).unwrap_or(0));
                    message_rows.push(vec![
                        Value::from(cuid2::create_id()),
                        Value::from(id.clone()),
                        Value::from(if m % 2 == 0 { "USER" } else { "ASSISTANT" }),
                        Value::from(format!(
                            "message {m} of a benchmark conversation with some words in it"
                        )),
                        Value::from("COMPLETE"),
                        Value::from(at),
                        Value::from(at),
                    ]);
                }
            }
        }
        conversations += conversation_rows.len();
        messages += message_rows.len();
        insert(
            &txn,
            backend,
            "conversations",
            &[
                "id",
                "user_id",
                "title",
                "model",
                "status",
                "title_is_custom",
                "total_messages",
                "started_at",
                "created_at",
                "updated_at",
            ],
            conversation_rows,
        )
        .await?;
        insert(
            &txn,
            backend,
            "messages",
            &[
                "id",
                "conversation_id",
                "role",
                "content",
                "status",
                "created_at",
                "updated_at",
            ],
            message_rows,
        )
        .await?;
        txn.commit().await?;
    }
    // Fresh statistics, as autovacuum (PostgreSQL) or `PRAGMA optimize` would leave them.
    conn.execute_unprepared("ANALYZE").await?;
    conn.clone().close().await?;
    Ok(Loaded {
        users,
        conversations,
        messages,
        token: issued.plaintext,
    })
}

// ---------------------------------------------------------------------------------------------
// The server

struct Server {
    child: Child,
    pid: u32,
    base: String,
}

impl Server {
    async fn start(bin: &Path, work: &Path, database_url: &str) -> Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .context("a free port")?
            .port();
        let addr = format!("127.0.0.1:{port}");
        let log_path = work.join("server.log");
        let log = std::fs::File::create(&log_path).context("the server log")?;
        let env = [
            ("DATABASE_URL", database_url.to_owned()),
            ("COLLOQUY_ADDR", addr.clone()),
            ("COLLOQUY_SEED", "false".to_owned()),
            ("COLLOQUY_RATE_LIMIT_PER_MINUTE", "0".to_owned()),
            ("COLLOQUY_MAX_QUERY_COMPLEXITY", "10000000".to_owned()),
            ("COLLOQUY_DATA_DIR", work.join("data").display().to_string()),
            ("RUST_LOG", "warn".to_owned()),
        ];
        println!(
            "$ {} {} serve   (log: {})",
            env.iter()
                .map(|(k, v)| format!(
                    "{k}={}",
                    if *k == "DATABASE_URL" {
                        redacted(v)
                    } else {
                        v.clone()
                    }
                ))
                .collect::<Vec<_>>()
                .join(" "),
            bin.display(),
            log_path.display()
        );
        let child = Command::new(bin)
            .arg("serve")
            .current_dir(work)
            .envs(env)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("start colloquy serve")?;
        let mut server = Server {
            pid: child.id(),
            child,
            base: format!("http://{addr}"),
        };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = server.child.try_wait()? {
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                bail!("the server exited ({status}):\n{log}");
            }
            let ready = client
                .get(format!("{}/readyz", server.base))
                .timeout(Duration::from_secs(2))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ready {
                return Ok(server);
            }
            if Instant::now() > deadline {
                server.kill();
                bail!(
                    "the server was not ready within 60 s; see {}",
                    log_path.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// SIGTERM, then up to 15 s for a graceful exit, then SIGKILL.
    fn stop(mut self) -> Result<()> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.kill();
        Ok(())
    }

    fn kill(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    async fn statements(&self, client: &reqwest::Client) -> Result<u64> {
        let text = client
            .get(format!("{}/metrics", self.base))
            .send()
            .await?
            .text()
            .await?;
        text.lines()
            .find_map(|l| l.strip_prefix("colloquy_sql_statements_total "))
            .context("no colloquy_sql_statements_total in /metrics")?
            .trim()
            .parse()
            .context("colloquy_sql_statements_total")
    }

    /// Resets the process's peak RSS (`echo 5 > /proc/<pid>/clear_refs`); false when refused.
    fn reset_peak_rss(&self) -> bool {
        std::fs::write(format!("/proc/{}/clear_refs", self.pid), "5").is_ok()
    }

    /// `VmHWM`: the peak resident set since the start or the last reset, in MiB.
    fn peak_rss_mib(&self) -> Option<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).ok()?;
        let kib: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        Some(kib / 1024.0)
    }

    /// User + system CPU time of the server so far, in clock ticks.
    fn cpu_ticks(&self) -> Option<u64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).ok()?;
        // Fields after the command name, which is in parentheses and may contain spaces:
        // state is field 3, utime 14 and stime 15.
        let rest = &stat[stat.rfind(')')? + 2..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let utime: u64 = fields.get(11)?.parse().ok()?;
        let stime: u64 = fields.get(12)?.parse().ok()?;
        Some(utime + stime)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Clock ticks per second (`getconf CLK_TCK`, 100 on Linux unless told otherwise).
fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

// ---------------------------------------------------------------------------------------------
// Load generation

struct Run {
    requests: usize,
    rate: f64,
    p50: Duration,
    p99: Duration,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((sorted.len() as f64) * p).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// `clients` workers call `request` back to back for `duration` (and at most
/// `MAX_REQUESTS_PER_RUN` calls in all); any failed call fails the run.
async fn drive<F, Fut>(clients: usize, duration: Duration, request: F) -> Result<Run>
where
    F: Fn() -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<usize>> + Send + 'static,
{
    let issued = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + duration;
    let mut workers = Vec::with_capacity(clients);
    for _ in 0..clients {
        let request = request.clone();
        let issued = Arc::clone(&issued);
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline
                && issued.fetch_add(1, Ordering::Relaxed) < MAX_REQUESTS_PER_RUN
            {
                let t = Instant::now();
                std::hint::black_box(request().await?);
                latencies.push(t.elapsed());
            }
            anyhow::Ok(latencies)
        }));
    }
    let mut latencies = Vec::new();
    for worker in workers {
        latencies.extend(worker.await.context("a load worker panicked")??);
    }
    let elapsed = start.elapsed();
    latencies.sort_unstable();
    Ok(Run {
        requests: latencies.len(),
        rate: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50: percentile(&latencies, 0.50),
        p99: percentile(&latencies, 0.99),
    })
}

#[derive(Clone)]
struct Colloquy {
    client: reqwest::Client,
    url: String,
    bearer: String,
}

impl Colloquy {
    /// One GraphQL request; the response body, refused unless it is data without errors.
    async fn post(&self, body: bytes::Bytes) -> Result<bytes::Bytes> {
        let response = self
            .client
            .post(&self.url)
            .header(reqwest::header::AUTHORIZATION, &self.bearer)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await?;
        let status = response.status();
        let bytes = response.bytes().await?;
        // Errors follow the data in a GraphQL response: look at the start and the tail only.
        let tail = &bytes[bytes.len().saturating_sub(4096)..];
        if !status.is_success()
            || !bytes.starts_with(b"{\"data\":{")
            || tail.windows(9).any(|w| w == b"\"errors\":")
        {
            bail!(
                "Colloquy answered {status}: {}",
                String::from_utf8_lossy(&bytes[..bytes.len().min(500)])
            );
        }
        Ok(bytes)
    }
}

fn request_body(shape: Shape) -> bytes::Bytes {
    bytes::Bytes::from(serde_json::json!({ "query": shape.query() }).to_string())
}

struct ColloquyRun {
    run: Run,
    statements_per_request: f64,
    cpu_ms_per_request: Option<f64>,
    peak_rss_mib: Option<f64>,
}

async fn measure_colloquy(
    colloquy: &Colloquy,
    server: &Server,
    shape: Shape,
    clients: usize,
    duration: Duration,
) -> Result<ColloquyRun> {
    let body = request_body(shape);
    let call = {
        let colloquy = colloquy.clone();
        move || {
            let (colloquy, body) = (colloquy.clone(), body.clone());
            async move { Ok(colloquy.post(body).await?.len()) }
        }
    };
    // Warm-up: connections opened, statements prepared, caches filled.
    drive(clients, Duration::from_secs(1), call.clone()).await?;
    let reset = server.reset_peak_rss();
    let statements = server.statements(&colloquy.client).await?;
    let ticks = server.cpu_ticks();
    let run = drive(clients, duration, call).await?;
    let statements = server.statements(&colloquy.client).await? - statements;
    let cpu_ms_per_request = match (ticks, server.cpu_ticks()) {
        (Some(a), Some(b)) => {
            Some((b - a) as f64 / clock_ticks() * 1e3 / run.requests.max(1) as f64)
        }
        _ => None,
    };
    Ok(ColloquyRun {
        statements_per_request: statements as f64 / run.requests.max(1) as f64,
        cpu_ms_per_request,
        peak_rss_mib: if reset { server.peak_rss_mib() } else { None },
        run,
    })
}

async fn measure_floor(
    floor: &Floor,
    shape: Shape,
    clients: usize,
    duration: Duration,
) -> Result<Run> {
    let call = {
        let floor = floor.clone();
        move || {
            let floor = floor.clone();
            async move { Ok(floor.read(shape).await?.len()) }
        }
    };
    drive(clients, Duration::from_secs(1), call.clone()).await?;
    drive(clients, duration, call).await
}

/// Checks that Colloquy and the floor read the same rows in the same order; true when their
/// JSON is identical too. Returns the number of rows (users + conversations + messages).
async fn same_rows(colloquy: &Colloquy, floor: &Floor, shape: Shape) -> Result<(bool, usize)> {
    let theirs: serde_json::Value =
        serde_json::from_slice(&colloquy.post(request_body(shape)).await?)?;
    let ours: serde_json::Value = serde_json::from_slice(&floor.read(shape).await?)?;
    fn ids(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(map) => {
                if let Some(serde_json::Value::String(id)) = map.get("id") {
                    out.push(id.clone());
                }
                for (k, child) in map {
                    if k != "id" {
                        ids(child, out);
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|i| ids(i, out)),
            _ => {}
        }
    }
    let (mut a, mut b) = (Vec::new(), Vec::new());
    ids(&theirs, &mut a);
    ids(&ours, &mut b);
    let expected =
        shape.users as usize * (1 + shape.conversations as usize * (1 + shape.messages as usize));
    if let Some(i) = (0..a.len().min(b.len())).find(|&i| a[i] != b[i]) {
        eprintln!(
            "first difference at row {i}: Colloquy {} floor {}",
            a[i], b[i]
        );
        eprintln!(
            "Colloquy around: {:?}",
            &a[i.saturating_sub(2)..(i + 3).min(a.len())]
        );
        eprintln!(
            "floor around: {:?}",
            &b[i.saturating_sub(2)..(i + 3).min(b.len())]
        );
    }
    if a != b || a.len() != expected {
        bail!(
            "{}: Colloquy returned {} rows, the floor {} (expected {expected}), or in another order",
            shape.name,
            a.len(),
            b.len()
        );
    }
    Ok((theirs == ours, a.len()))
}

// ---------------------------------------------------------------------------------------------
// Where the messages level's time goes

const DECODE_ROUNDS: usize = 100;

async fn median<F, Fut>(mut f: F) -> Result<Duration>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<usize>>,
{
    let mut times = Vec::with_capacity(DECODE_ROUNDS);
    for _ in 0..DECODE_ROUNDS {
        let t = Instant::now();
        std::hint::black_box(f().await?);
        times.push(t.elapsed());
    }
    times.sort_unstable();
    Ok(times[DECODE_ROUNDS / 2])
}

/// The large read's messages level, four ways: the store (`pages_by_parent`: SeaORM, all 16
/// columns into `Model`s), its SQL through sqlx decoding all 16 columns, the floor's statement
/// (6 columns) through SeaORM's raw rows, and through sqlx: the difference between the first two
/// is SeaORM's share, between the second and the last the unused columns' share.
async fn decode_costs(url: &str, floor: &Floor) -> Result<Vec<(&'static str, Duration)>> {
    use core_domain::pagination::PageArgs;
    use persistence::messages::{self, MessageOrder};

    let db = Db::connect(&DbConfig::new(url)).await?;
    let conn = db.conn();
    let backend = db.backend();
    let users = persistence::users::page(conn, &PageArgs::first(u64::from(LARGE.users))).await?;
    let user_ids: Vec<String> = users.items.iter().map(|u| u.id.clone()).collect();
    let pages = persistence::conversations::pages_for_users(
        conn,
        &user_ids,
        &Default::default(),
        Default::default(),
        &PageArgs::first(u64::from(LARGE.conversations)),
    )
    .await?;
    let ids: Vec<String> = user_ids
        .iter()
        .flat_map(|u| pages[u].items.iter().map(|c| c.id.clone()))
        .collect();
    let args = PageArgs::first(u64::from(LARGE.messages));
    let limit = i64::from(LARGE.messages) + 1;
    let (full_sql, lean_sql) = match backend {
        DbBackend::Postgres => (
            PG_MESSAGES
                .replace(
                    "SELECT m.conversation_id, m.id, m.role, m.content, m.status, m.created_at FROM",
                    "SELECT m.* FROM",
                )
                .replace(
                    "SELECT t.conversation_id, t.id, t.role, t.content, t.status, t.created_at",
                    "SELECT t.*",
                ),
            PG_MESSAGES.to_owned(),
        ),
        _ => (
            SQLITE_MESSAGES.replace(
                "SELECT t.conversation_id, t.id, t.role, t.content, t.status, t.created_at",
                "SELECT t.*",
            ),
            SQLITE_MESSAGES.to_owned(),
        ),
    };
    // Borrowed once here, so that each round's future copies the references; sqlx takes only
    // `&'static str` as trusted SQL text, and these two live as long as the bench anyway.
    let full_sql: &'static str = Box::leak(full_sql.into_boxed_str());
    let lean_sql: &'static str = Box::leak(lean_sql.into_boxed_str());
    let (ids, args) = (&ids, &args);
    let json = serde_json::to_string(ids)?;
    let json = json.as_str();
    let parents = match backend {
        DbBackend::Postgres => Value::from(ids.clone()),
        _ => Value::from(json),
    };
    let parents = &parents;
    let mut out = Vec::new();

    let store = median(move || async move {
        let pages = messages::pages_for_conversations(
            conn,
            ids,
            &Default::default(),
            MessageOrder::CreatedAsc,
            args,
        )
        .await?;
        Ok(pages.values().map(|p| p.items.len()).sum())
    })
    .await?;
    out.push(("store: pages_by_parent, SeaORM Models, 16 columns", store));

    let full = match floor {
        Floor::Postgres(pool) => {
            median(move || async move {
                Ok(fetch!(pool, full_sql, [ids, limit], |r| full_message(r)?).len())
            })
            .await?
        }
        Floor::Sqlite(pool) => {
            median(move || async move {
                Ok(fetch!(pool, full_sql, [json, limit], |r| full_message(r)?).len())
            })
            .await?
        }
    };
    out.push(("the same SQL through sqlx, 16 columns decoded", full));

    let seaorm_lean = median(move || async move {
        let rows = conn
            .query_all_raw(Statement::from_sql_and_values(
                backend,
                lean_sql,
                [parents.clone(), Value::from(limit)],
            ))
            .await?;
        let mut n = 0;
        for r in &rows {
            let m = MessageRow {
                conversation_id: r.try_get_by_index(0)?,
                id: r.try_get_by_index(1)?,
                role: r.try_get_by_index(2)?,
                content: r.try_get_by_index(3)?,
                status: r.try_get_by_index(4)?,
                created_at: r.try_get_by_index(5)?,
            };
            n += std::hint::black_box(m).content.len().min(1);
        }
        Ok(n)
    })
    .await?;
    out.push(("6 columns through SeaORM raw rows", seaorm_lean));

    let lean = match floor {
        Floor::Postgres(pool) => {
            median(move || async move {
                Ok(fetch!(pool, lean_sql, [ids, limit], |r| lean_message(r)?).len())
            })
            .await?
        }
        Floor::Sqlite(pool) => {
            median(move || async move {
                Ok(fetch!(pool, lean_sql, [json, limit], |r| lean_message(r)?).len())
            })
            .await?
        }
    };
    out.push(("6 columns through sqlx (the floor's statement)", lean));
    if let Floor::Sqlite(pool) = floor {
        // SQLite's only sort: the outer ORDER BY that puts each parent's rowid list back in
        // reading order. Its cost, as the same statement without it.
        let unordered = lean_sql
            .rsplit_once(" ORDER BY")
            .map_or(lean_sql, |(head, _)| head);
        let time = median(move || async move {
            Ok(fetch!(pool, unordered, [json, limit], |r| lean_message(r)?).len())
        })
        .await?;
        out.push(("the floor's statement without its outer ORDER BY", time));
    }
    conn.clone().close().await?;
    Ok(out)
}

/// Every column of a message, as `persistence::messages::Message` has them.
#[allow(dead_code)]
struct FullMessage {
    id: String,
    conversation_id: String,
    user_id: Option<String>,
    parent_id: Option<String>,
    role: String,
    content: String,
    status: String,
    error: Option<String>,
    model: Option<String>,
    provider: Option<String>,
    input_tokens: Option<i32>,
    output_tokens: Option<i32>,
    audio_url: Option<String>,
    metadata: Option<serde_json::Value>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

fn full_message<R>(r: &R) -> Result<FullMessage>
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<i32>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<sqlx::types::Json<serde_json::Value>>:
        sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> DateTime<Utc>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok(FullMessage {
        id: r.try_get(0)?,
        conversation_id: r.try_get(1)?,
        user_id: r.try_get(2)?,
        parent_id: r.try_get(3)?,
        role: r.try_get(4)?,
        content: r.try_get(5)?,
        status: r.try_get(6)?,
        error: r.try_get(7)?,
        model: r.try_get(8)?,
        provider: r.try_get(9)?,
        input_tokens: r.try_get(10)?,
        output_tokens: r.try_get(11)?,
        audio_url: r.try_get(12)?,
        metadata: r
            .try_get::<Option<sqlx::types::Json<serde_json::Value>>, _>(13)?
            .map(|j| j.0),
        created_at: r.try_get(14)?,
        updated_at: r.try_get(15)?,
    })
}

fn lean_message<R>(r: &R) -> Result<MessageRow>
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> DateTime<Utc>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok(MessageRow {
        conversation_id: r.try_get(0)?,
        id: r.try_get(1)?,
        role: r.try_get(2)?,
        content: r.try_get(3)?,
        status: r.try_get(4)?,
        created_at: r.try_get(5)?,
    })
}

// ---------------------------------------------------------------------------------------------
// The floor: hand-written SQL, one statement per level, only the asked columns

#[derive(Clone)]
enum Floor {
    Postgres(sqlx::PgPool),
    Sqlite(sqlx::SqlitePool),
}

struct UserRow {
    id: String,
    email: Option<String>,
    name: Option<String>,
}

struct ConversationRow {
    user_id: String,
    id: String,
    title: String,
    model: Option<String>,
}

struct MessageRow {
    conversation_id: String,
    id: String,
    role: String,
    content: String,
    status: String,
    created_at: DateTime<Utc>,
}

const PG_USERS: &str =
    "SELECT id, email, name FROM users WHERE deleted_at IS NULL ORDER BY created_at, id LIMIT $1";
const PG_CONVERSATIONS: &str = "SELECT t.user_id, t.id, t.title, t.model \
     FROM unnest($1::text[]) AS p(parent_id) CROSS JOIN LATERAL ( \
       SELECT c.user_id, c.id, c.title, c.model FROM conversations c \
       WHERE c.user_id = p.parent_id AND c.deleted_at IS NULL \
       ORDER BY c.updated_at DESC, c.id DESC LIMIT $2) t";
const PG_MESSAGES: &str = "SELECT t.conversation_id, t.id, t.role, t.content, t.status, t.created_at \
     FROM unnest($1::text[]) AS p(parent_id) CROSS JOIN LATERAL ( \
       SELECT m.conversation_id, m.id, m.role, m.content, m.status, m.created_at FROM messages m \
       WHERE m.conversation_id = p.parent_id \
       ORDER BY m.created_at, m.id LIMIT $2) t";

const SQLITE_USERS: &str =
    "SELECT id, email, name FROM users WHERE deleted_at IS NULL ORDER BY created_at, id LIMIT ?";
const SQLITE_CONVERSATIONS: &str = "SELECT t.user_id, t.id, t.title, t.model \
     FROM json_each(?) AS p JOIN conversations AS t ON t.rowid IN ( \
       SELECT c.rowid FROM conversations c WHERE c.user_id = p.value AND c.deleted_at IS NULL \
       ORDER BY c.updated_at DESC, c.id DESC LIMIT ?) \
     ORDER BY t.updated_at DESC, t.id DESC";
const SQLITE_MESSAGES: &str = "SELECT t.conversation_id, t.id, t.role, t.content, t.status, t.created_at \
     FROM json_each(?) AS p JOIN messages AS t ON t.rowid IN ( \
       SELECT m.rowid FROM messages m WHERE m.conversation_id = p.value \
       ORDER BY m.created_at, m.id LIMIT ?) \
     ORDER BY t.created_at, t.id";

impl Floor {
    /// The floor's pool does not ping a connection before each statement (sqlx's default): like
    /// pgbench, it sends only the read's statements. Colloquy pings only connections idle for a
    /// second or more (`persistence::db::PING_WHEN_IDLE_FOR`), which a busy run never has.
    async fn connect(url: &str, pool_size: u32) -> Result<Self> {
        if url.starts_with("postgres") {
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(pool_size)
                .test_before_acquire(false)
                .connect(url)
                .await?;
            Ok(Self::Postgres(pool))
        } else {
            let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)?
                .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(5));
            let pool = sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(pool_size)
                .test_before_acquire(false)
                .connect_with(options)
                .await?;
            Ok(Self::Sqlite(pool))
        }
    }

    async fn version(&self) -> Result<String> {
        Ok(match self {
            Self::Postgres(pool) => {
                let v: String = sqlx::query_scalar("SHOW server_version")
                    .fetch_one(pool)
                    .await?;
                format!("PostgreSQL {v}")
            }
            Self::Sqlite(pool) => {
                let v: String = sqlx::query_scalar("SELECT sqlite_version()")
                    .fetch_one(pool)
                    .await?;
                format!("SQLite {v}")
            }
        })
    }

    async fn close(&self) {
        match self {
            Self::Postgres(pool) => pool.close().await,
            Self::Sqlite(pool) => pool.close().await,
        }
    }

    /// The read, as JSON bytes shaped like the GraphQL response.
    async fn read(&self, shape: Shape) -> Result<Vec<u8>> {
        let (users, conversations, messages) = match self {
            Self::Postgres(pool) => {
                // One connection for the read's statements, as Colloquy's planned levels hold
                // one: sqlx tests a connection each time it goes back to the pool.
                let mut conn = pool.acquire().await?;
                let users = fetch!(&mut *conn, PG_USERS, [i64::from(shape.users)], |r| {
                    UserRow {
                        id: r.try_get(0)?,
                        email: r.try_get(1)?,
                        name: r.try_get(2)?,
                    }
                });
                let ids: Vec<&str> = users.iter().map(|u| u.id.as_str()).collect();
                let conversations = fetch!(
                    &mut *conn,
                    PG_CONVERSATIONS,
                    [&ids, i64::from(shape.conversations)],
                    |r| ConversationRow {
                        user_id: r.try_get(0)?,
                        id: r.try_get(1)?,
                        title: r.try_get(2)?,
                        model: r.try_get(3)?,
                    }
                );
                let ids: Vec<&str> = conversations.iter().map(|c| c.id.as_str()).collect();
                let messages = fetch!(
                    &mut *conn,
                    PG_MESSAGES,
                    [&ids, i64::from(shape.messages)],
                    |r| {
                        MessageRow {
                            conversation_id: r.try_get(0)?,
                            id: r.try_get(1)?,
                            role: r.try_get(2)?,
                            content: r.try_get(3)?,
                            status: r.try_get(4)?,
                            created_at: r.try_get(5)?,
                        }
                    }
                );
                (users, conversations, messages)
            }
            Self::Sqlite(pool) => {
                let mut conn = pool.acquire().await?;
                let users = fetch!(&mut *conn, SQLITE_USERS, [i64::from(shape.users)], |r| {
                    UserRow {
                        id: r.try_get(0)?,
                        email: r.try_get(1)?,
                        name: r.try_get(2)?,
                    }
                });
                let ids = serde_json::to_string(
                    &users.iter().map(|u| u.id.as_str()).collect::<Vec<_>>(),
                )?;
                let conversations = fetch!(
                    &mut *conn,
                    SQLITE_CONVERSATIONS,
                    [ids, i64::from(shape.conversations)],
                    |r| ConversationRow {
                        user_id: r.try_get(0)?,
                        id: r.try_get(1)?,
                        title: r.try_get(2)?,
                        model: r.try_get(3)?,
                    }
                );
                let ids = serde_json::to_string(
                    &conversations
                        .iter()
                        .map(|c| c.id.as_str())
                        .collect::<Vec<_>>(),
                )?;
                let messages = fetch!(
                    &mut *conn,
                    SQLITE_MESSAGES,
                    [ids, i64::from(shape.messages)],
                    |r| MessageRow {
                        conversation_id: r.try_get(0)?,
                        id: r.try_get(1)?,
                        role: r.try_get(2)?,
                        content: r.try_get(3)?,
                        status: r.try_get(4)?,
                        created_at: r.try_get(5)?,
                    }
                );
                (users, conversations, messages)
            }
        };
        Ok(respond(&users, &conversations, &messages)?)
    }
}

#[derive(Serialize)]
struct Response<'a> {
    data: Data<'a>,
}

#[derive(Serialize)]
struct Data<'a> {
    users: Conn<UserNode<'a>>,
}

#[derive(Serialize)]
struct Conn<T> {
    edges: Vec<Edge<T>>,
}

#[derive(Serialize)]
struct Edge<T> {
    node: T,
}

#[derive(Serialize)]
struct UserNode<'a> {
    id: String,
    email: Option<&'a str>,
    name: Option<&'a str>,
    conversations: Conn<ConversationNode<'a>>,
}

#[derive(Serialize)]
struct ConversationNode<'a> {
    id: String,
    title: &'a str,
    model: Option<&'a str>,
    messages: Conn<MessageNode<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MessageNode<'a> {
    id: String,
    role: &'a str,
    content: &'a str,
    status: &'a str,
    created_at: String,
}

/// Nests the rows of the three levels (each level's rows arrive grouped by parent, in order)
/// and serialises the response, ids as the API's global ids (base64url of `Type:id`, which the
/// server computes per row too).
fn respond(
    users: &[UserRow],
    conversations: &[ConversationRow],
    messages: &[MessageRow],
) -> serde_json::Result<Vec<u8>> {
    let mut messages_of: HashMap<&str, Vec<Edge<MessageNode<'_>>>> = HashMap::new();
    for m in messages {
        messages_of
            .entry(m.conversation_id.as_str())
            .or_default()
            .push(Edge {
                node: MessageNode {
                    id: gid(Kind::Message, &m.id),
                    role: &m.role,
                    content: &m.content,
                    status: &m.status,
                    created_at: m.created_at.to_rfc3339(),
                },
            });
    }
    let mut conversations_of: HashMap<&str, Vec<Edge<ConversationNode<'_>>>> = HashMap::new();
    for c in conversations {
        conversations_of
            .entry(c.user_id.as_str())
            .or_default()
            .push(Edge {
                node: ConversationNode {
                    id: gid(Kind::Conversation, &c.id),
                    title: &c.title,
                    model: c.model.as_deref(),
                    messages: Conn {
                        edges: messages_of.remove(c.id.as_str()).unwrap_or_default(),
                    },
                },
            });
    }
    let response = Response {
        data: Data {
            users: Conn {
                edges: users
                    .iter()
                    .map(|u| Edge {
                        node: UserNode {
                            id: gid(Kind::User, &u.id),
                            email: u.email.as_deref(),
                            name: u.name.as_deref(),
                            conversations: Conn {
                                edges: conversations_of.remove(u.id.as_str()).unwrap_or_default(),
                            },
                        },
                    })
                    .collect(),
            },
        },
    };
    serde_json::to_vec(&response)
}
