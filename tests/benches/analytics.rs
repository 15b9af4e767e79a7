//! `just bench` (analytics): the 90-day DAY-bucket usage query of DESIGN.md §8 over up to
//! 10 million `usage_logs` rows on PostgreSQL, answered from the raw rows and from the daily
//! rollup (`usage_daily`), with the median of each.
//!
//! Rows are loaded server-side with `INSERT … SELECT … FROM generate_series` in blocks of one
//! million, with a progress line per block: 10 M rows by default, `--rows N` for fewer or more
//! (`just bench-analytics --rows 1000000`); `COLLOQUY_BENCH_LOAD_SECS`, when set, stops loading
//! after that many seconds. The count loaded is printed. The bench database is dropped at the
//! end (it holds gigabytes at 10 M rows). The bulk load bypasses `usage::insert`, so the rollup is then built once with
//! the same grouped `INSERT` the migration uses for existing rows (in service, each usage row
//! updates it in its own transaction). The query is the store's (`persistence::analytics::usage`)
//! grouped by provider and model with no percentile (the rollup holds none).
//!
//! The time measured is PostgreSQL's, so the recipe builds this in the dev profile and reuses the
//! test build. Needs TEST_DATABASE_URL; skipped without it.

use std::time::{Duration, Instant};

use chrono::{Duration as Days, Utc};
use colloquy_tests::Backend;
use persistence::analytics::{self, Bucket, TzSegments, UsageDim, UsageFilter, UsageQuery, Window};
use persistence::{Db, DbConfig};
use sea_orm::ConnectionTrait;

const DEFAULT_ROWS: i64 = 10_000_000;
const BLOCK: i64 = 1_000_000;

/// `--rows N` from the command line (cargo adds `--bench` and may pass others: ignored).
fn rows_wanted() -> i64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == "--rows")
        .and_then(|i| args.get(i + 1))
        .map(|n| {
            n.replace('_', "")
                .parse()
                .unwrap_or_else(|_| panic!("--rows takes a number of rows, not {n:?}"))
        })
        .unwrap_or(DEFAULT_ROWS)
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
    let target = rows_wanted();
    let budget = std::env::var("COLLOQUY_BENCH_LOAD_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .map(Duration::from_secs);
    println!(
        "analytics: loading {target} usage rows into {}",
        test_db.url.rsplit('/').next().unwrap_or("?")
    );

    let conn = db.conn();
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
    let count = |sql: &'static str| async move {
        let row = conn
            .query_one_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Postgres,
                sql,
            ))
            .await
            .expect("count")
            .expect("a row");
        row.try_get::<i64>("", "n").expect("n")
    };
    println!(
        "analytics: {} usage_logs rows, {} usage_daily rows (rollup built in {:.1} s)",
        count("SELECT COUNT(*) AS n FROM usage_logs").await,
        count("SELECT COUNT(*) AS n FROM usage_daily").await,
        rolled.elapsed().as_secs_f64()
    );

    let to = Utc::now()
        .date_naive()
        .succ_opt()
        .expect("tomorrow")
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc();
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
    // Dropping the test database (TestDb's Drop) frees the disk: close the pool first.
    db.conn().clone().close().await.expect("close the pool");
    drop(test_db);
    println!("analytics: bench database dropped");
}
