//! `just bench` (analytics): the 90-day DAY-bucket usage query of DESIGN.md §8 over up to
//! 10 million `usage_logs` rows on PostgreSQL, answered from the raw rows and from the daily
//! rollup (`usage_daily`), with the median of each; then the 90-day DAY activity query over a
//! number of conversations and messages, answered from the raw rows and from the activity rollup
//! (`activity_daily`, rolled once by the job's own function).
//!
//! Rows are loaded server-side with `INSERT … SELECT … FROM generate_series` in blocks of one
//! million, with a progress line per block: 10 M usage rows by default, `--rows N` for fewer or
//! more (`just bench-analytics --rows 1000000`); 1 M messages (in conversations of ten, spread
//! over 90 days and a few thousand users, one in five a practice session that ended) by default,
//! `--messages N` for another count (`--rows 0 --messages 200000` runs the activity case alone
//! on a small load). `COLLOQUY_BENCH_LOAD_SECS`, when set, stops each load after that many
//! seconds. The counts loaded are printed. The bench database is dropped at the end (it holds
//! gigabytes at 10 M rows). The bulk load bypasses `usage::insert`, so the usage rollup is then
//! built once with the same grouped `INSERT` the migration uses for existing rows (in service,
//! each usage row updates it in its own transaction). The usage query is the store's
//! (`persistence::analytics::usage`) grouped by provider and model with no percentile (the
//! rollup holds none); the activity query is `persistence::analytics::activity` with no group or
//! filter, ending tomorrow, so today comes from the raw rows in both answers.
//!
//! The time measured is PostgreSQL's, so the recipe builds this in the dev profile and reuses the
//! test build. Needs TEST_DATABASE_URL; skipped without it.

use std::time::{Duration, Instant};

use chrono::{Duration as Days, Utc};
use colloquy_tests::Backend;
use persistence::analytics::{
    self, ActivityQuery, ActivityScope, Bucket, TzSegments, UsageDim, UsageFilter, UsageQuery,
    Window,
};
use persistence::{Db, DbConfig};
use sea_orm::ConnectionTrait;

const DEFAULT_ROWS: i64 = 10_000_000;
const DEFAULT_MESSAGES: i64 = 1_000_000;
const BLOCK: i64 = 1_000_000;

/// `<flag> N` from the command line (cargo adds `--bench` and may pass others: ignored).
fn count_arg(flag: &str, default: i64) -> i64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1))
        .map(|n| {
            n.replace('_', "")
                .parse()
                .unwrap_or_else(|_| panic!("{flag} takes a number of rows, not {n:?}"))
        })
        .unwrap_or(default)
}

/// The load's time budget (`COLLOQUY_BENCH_LOAD_SECS`), if any.
fn load_budget() -> Option<Duration> {
    std::env::var("COLLOQUY_BENCH_LOAD_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .map(Duration::from_secs)
}

/// Midnight UTC at the end of today: the end of the 90-day ranges.
fn tomorrow() -> chrono::DateTime<Utc> {
    Utc::now()
        .date_naive()
        .succ_opt()
        .expect("tomorrow")
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc()
}

async fn count(conn: &sea_orm::DatabaseConnection, sql: &str) -> i64 {
    let row = conn
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            sql,
        ))
        .await
        .expect("count")
        .expect("a row");
    row.try_get::<i64>("", "n").expect("n")
}

/// The median of `rounds` runs of `f`, and its last answer.
async fn p50<T, F, Fut>(rounds: usize, mut f: F) -> (Duration, T)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..rounds {
        let t = Instant::now();
        last = Some(f().await);
        times.push(t.elapsed());
    }
    times.sort();
    (times[times.len() / 2], last.expect("at least one round"))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if std::env::var("TEST_DATABASE_URL").is_err() {
        println!("analytics: skipped (TEST_DATABASE_URL is not set; the case is PostgreSQL's)");
        return;
    }
    let Some(test_db) = colloquy_tests::db::create(Backend::Postgres).await else {
        return;
    };
    let mut config = DbConfig::new(test_db.url.clone());
    config.slow_statement = Duration::from_secs(3600);
    let db = Db::connect(&config).await.expect("connect");
    db.migrate_up(None).await.expect("migrate");
    usage_case(db.conn(), &test_db.url).await;
    activity_case(db.conn()).await;
    // Dropping the test database (TestDb's Drop) frees the disk: close the pool first.
    db.conn().clone().close().await.expect("close the pool");
    drop(test_db);
    println!("analytics: bench database dropped");
}

/// The usage case: `--rows N` usage rows, the 90-day DAY query by provider and model from the
/// raw rows and from `usage_daily`.
async fn usage_case(conn: &sea_orm::DatabaseConnection, url: &str) {
    let target = count_arg("--rows", DEFAULT_ROWS);
    let budget = load_budget();
    println!(
        "analytics: loading {target} usage rows into {}",
        url.rsplit('/').next().unwrap_or("?")
    );

    // Rows spread over the last 90 days, three providers, five models, four stream types; one in
    // fifty of unknown price.
    let started = Instant::now();
    let mut loaded = 0_i64;
    while loaded < target && budget.is_none_or(|b| started.elapsed() < b) {
        let (first, last) = (loaded + 1, (loaded + BLOCK).min(target));
        conn.execute_unprepared(&format!(
            "INSERT INTO usage_logs (id, provider, model, stream_type, input_tokens, \
             output_tokens, cost_micros, latency_ms, created_at) \
             SELECT 'bench' || g, (ARRAY['openai','anthropic','local'])[1 + g % 3], \
             (ARRAY['gpt-4o','gpt-4o-mini','claude-sonnet','claude-haiku','echo'])[1 + g % 5], \
             (ARRAY['chat','partner','coach','title'])[1 + g % 4], \
             100 + (g % 500)::int, 50 + (g % 300)::int, \
             CASE WHEN g % 50 = 0 THEN NULL ELSE g % 1000 END, 50 + (g % 2000)::int, \
             date_trunc('day', now()) - ((g * 7919) % (90 * 86400)) * interval '1 second' \
             FROM generate_series({first}::bigint, {last}::bigint) g"
        ))
        .await
        .expect("load a block");
        loaded = last;
        println!(
            "analytics: loaded {loaded} of {target} usage rows ({:.0} s)",
            started.elapsed().as_secs_f64()
        );
    }
    let rolled = Instant::now();
    conn.execute_unprepared(
        "INSERT INTO usage_daily (day, provider, model, stream_type, user_key, invitation_key, \
         calls, input_tokens, output_tokens, cost_micros, unknown_cost_calls, latency_ms_sum, \
         latency_count) \
         SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'), provider, model, \
         stream_type, COALESCE(user_id, ''), COALESCE(invitation_id, ''), COUNT(*), \
         SUM(input_tokens), SUM(output_tokens), COALESCE(SUM(cost_micros), 0), \
         SUM(CASE WHEN cost_micros IS NULL THEN 1 ELSE 0 END), COALESCE(SUM(latency_ms), 0), \
         COUNT(latency_ms) FROM usage_logs \
         GROUP BY 1, 2, 3, 4, 5, 6",
    )
    .await
    .expect("roll up");
    conn.execute_unprepared("ANALYZE usage_logs; ANALYZE usage_daily")
        .await
        .expect("analyze");
    println!(
        "analytics: {} usage_logs rows, {} usage_daily rows (rollup built in {:.1} s)",
        count(conn, "SELECT COUNT(*) AS n FROM usage_logs").await,
        count(conn, "SELECT COUNT(*) AS n FROM usage_daily").await,
        rolled.elapsed().as_secs_f64()
    );

    let to = tomorrow();
    let query = UsageQuery {
        window: Window {
            from: to - Days::days(90),
            to,
            bucket: Bucket::Day,
            zone: TzSegments::utc(),
        },
        group_by: vec![UsageDim::Provider, UsageDim::Model],
        filter: UsageFilter::default(),
        percentiles: false,
        max_rows: 5_000,
    };
    assert!(query.rollup_eligible());
    let mut results = Vec::new();
    for (label, rollup, rounds) in [("raw rows", false, 3), ("rollup", true, 11)] {
        let mut times = Vec::new();
        let mut rows = Vec::new();
        for _ in 0..rounds {
            let t = Instant::now();
            rows = analytics::usage(conn, &query, rollup).await.expect("query");
            times.push(t.elapsed());
        }
        times.sort();
        let p50 = times[times.len() / 2];
        println!(
            "analytics: 90-day DAY usage by provider and model from the {label}: p50 {:.1} ms \
             ({} rows, {rounds} runs)",
            p50.as_secs_f64() * 1e3,
            rows.len()
        );
        results.push(rows);
    }
    let calls = |rows: &[analytics::UsageRow]| rows.iter().map(|r| r.calls).sum::<i64>();
    assert_eq!(
        calls(&results[0]),
        calls(&results[1]),
        "the rollup and the raw rows disagree"
    );
    assert_eq!(
        results[0], results[1],
        "the rollup and the raw rows disagree"
    );
}

/// The activity case: `--messages N` messages in conversations of ten (users, one scenario, one
/// in five conversations a practice session that ended), rolled once, then the 90-day DAY
/// activity query from the raw rows and from `activity_daily`.
async fn activity_case(conn: &sea_orm::DatabaseConnection) {
    let messages = count_arg("--messages", DEFAULT_MESSAGES);
    if messages <= 0 {
        println!("analytics: activity case skipped (--messages 0)");
        return;
    }
    let budget = load_budget();
    let conversations = (messages / 10).max(1);
    let users = (conversations / 20).max(10);
    println!(
        "analytics: loading {users} users, {conversations} conversations and {messages} messages"
    );
    let started = Instant::now();
    // Times spread over the last 90 days, the same way for a row's conversation and its messages.
    let spread = |k: &str| {
        format!("date_trunc('day', now()) - (({k} * 7919) % (90 * 86400)) * interval '1 second'")
    };
    conn.execute_unprepared(&format!(
        "INSERT INTO users (id, email, name, role, is_active, disclaimer_accepted, created_at, \
         updated_at) \
         SELECT 'bu' || g, 'bu' || g || '@bench.invalid', 'bench ' || g, 'USER', true, false, \
         {t}, {t} FROM generate_series(1, {users}) g",
        t = spread("g"),
    ))
    .await
    .expect("load users");
    conn.execute_unprepared(
        "INSERT INTO scenarios (id, name, description, slug, partner_persona, \
         partner_system_prompt, coach_system_prompt, partner_model, coach_model, is_active, \
         created_at, updated_at) VALUES ('bench-scn', 'Bench', 'A bench scenario', \
         'bench-scenario', 'partner', 'be a partner', 'be a coach', 'echo', 'echo', true, \
         now(), now())",
    )
    .await
    .expect("load the scenario");
    conn.execute_unprepared(&format!(
        "INSERT INTO conversations (id, user_id, scenario_id, title, title_is_custom, status, \
         started_at, ended_at, duration_seconds, total_messages, created_at, updated_at) \
         SELECT 'bc' || g, 'bu' || (1 + g % {users}), \
         CASE WHEN g % 5 = 0 THEN 'bench-scn' END, 'bench', false, \
         CASE WHEN g % 5 <> 0 THEN 'ACTIVE' WHEN g % 3 = 0 THEN 'ABANDONED' ELSE 'COMPLETED' END, \
         t, CASE WHEN g % 5 = 0 THEN t + (60 + g % 3600) * interval '1 second' END, \
         CASE WHEN g % 5 = 0 THEN 60 + (g % 3600)::int END, 10, t, t \
         FROM (SELECT g, {t} AS t FROM generate_series(1, {conversations}) g) s",
        t = spread("g"),
    ))
    .await
    .expect("load conversations");
    let mut loaded = 0_i64;
    while loaded < messages && budget.is_none_or(|b| started.elapsed() < b) {
        let (first, last) = (loaded + 1, (loaded + BLOCK).min(messages));
        // Message g belongs to conversation k = 1 + g % C, whose user writes the even ones.
        conn.execute_unprepared(&format!(
            "INSERT INTO messages (id, conversation_id, user_id, role, content, status, \
             created_at, updated_at) \
             SELECT 'bm' || g, 'bc' || k, CASE WHEN g % 2 = 0 THEN 'bu' || (1 + k % {users}) END, \
             CASE WHEN g % 2 = 0 THEN 'USER' ELSE 'ASSISTANT' END, 'bench', 'COMPLETE', t, t \
             FROM (SELECT g, k, {t} + (g / {conversations}) * interval '30 seconds' AS t \
             FROM (SELECT g, 1 + g % {conversations} AS k \
             FROM generate_series({first}::bigint, {last}::bigint) g) a) b",
            t = spread("k"),
        ))
        .await
        .expect("load a block of messages");
        loaded = last;
        println!(
            "analytics: loaded {loaded} of {messages} messages ({:.0} s)",
            started.elapsed().as_secs_f64()
        );
    }
    conn.execute_unprepared("ANALYZE users; ANALYZE conversations; ANALYZE messages")
        .await
        .expect("analyze");
    let today = Utc::now().date_naive();
    let rolled = Instant::now();
    let roll = analytics::roll_activity(conn, today).await.expect("roll");
    println!(
        "analytics: {} conversations, {} messages; first activity roll ({roll:?}) in {:.1} s, \
         {} activity_daily rows",
        count(conn, "SELECT COUNT(*) AS n FROM conversations").await,
        count(conn, "SELECT COUNT(*) AS n FROM messages").await,
        rolled.elapsed().as_secs_f64(),
        count(conn, "SELECT COUNT(*) AS n FROM activity_daily").await,
    );
    let again = Instant::now();
    analytics::roll_activity(conn, today).await.expect("roll");
    println!(
        "analytics: a periodic roll (the last {} days) in {:.1} s",
        analytics::SETTLE_DAYS,
        again.elapsed().as_secs_f64()
    );
    conn.execute_unprepared("ANALYZE activity_daily")
        .await
        .expect("analyze");

    let to = tomorrow();
    let query = ActivityQuery {
        window: Window {
            from: to - Days::days(90),
            to,
            bucket: Bucket::Day,
            zone: TzSegments::utc(),
        },
        scope: ActivityScope::default(),
        group_by: Vec::new(),
        max_rows: 5_000,
    };
    assert!(query.rollup_eligible());
    let mut answers = Vec::new();
    for (label, rollup, rounds) in [("raw rows", false, 3), ("rollup", true, 11)] {
        let (time, (mut counts, mut medians)) = p50(rounds, || async {
            analytics::activity(conn, &query, rollup)
                .await
                .expect("query")
        })
        .await;
        println!(
            "analytics: 90-day DAY activity from the {label}: p50 {:.1} ms ({} counts, {} \
             medians, {rounds} runs)",
            time.as_secs_f64() * 1e3,
            counts.len(),
            medians.len()
        );
        counts
            .sort_by(|a, b| (a.bucket, &a.metric, &a.label).cmp(&(b.bucket, &b.metric, &b.label)));
        medians.sort_by_key(|m| m.bucket);
        answers.push((counts, medians));
    }
    assert_eq!(
        answers[0], answers[1],
        "the activity rollup and the raw rows disagree"
    );
}
