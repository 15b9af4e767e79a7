//! A server stopped with SIGTERM while a job runs, as an operator's deploy does it: it stops
//! claiming, lets the running job finish within `COLLOQUY_SHUTDOWN_GRACE_SECS` and exits 0; a job
//! that outlasts the grace period is handed back to the queue (PENDING, due at once, no lease)
//! for another instance. The provider is a slow fake. On SQLite and PostgreSQL (see `test-db`).
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use ai_providers::testing::{FakeProvider, FakeReply};
use persistence::sea_orm::{Database, DatabaseConnection};
use serde_json::json;
use support::{free_port, gql, one, serve, wait_ready};
use test_db::{Backend, TestDb};

fn start(
    db: &str,
    port: u16,
    data_dir: &std::path::Path,
    fake: &FakeProvider,
    grace: u64,
) -> Child {
    let grace = grace.to_string();
    serve(
        db,
        port,
        data_dir,
        &[
            ("ANTHROPIC_API_KEY", "sk-ant-test"),
            ("ANTHROPIC_BASE_URL", &fake.base_url()),
            ("COLLOQUY_SHUTDOWN_GRACE_SECS", &grace),
        ],
    )
}

async fn text(db: &DatabaseConnection, sql: &str) -> Option<String> {
    one(db, sql).await
}

async fn exited(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "the server did not stop on SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Starts a server whose provider answers after `delay`, queues an analysis, and sends SIGTERM
/// once the provider has the job's call. The database, the analysis's raw id, how long the
/// server took to exit, and its exit status.
async fn stop_while_running(
    backend: Backend,
    delay: Duration,
    grace: u64,
) -> Option<(TestDb, String, Duration, std::process::ExitStatus)> {
    let test_db = TestDb::empty(backend).await?;
    let fake = FakeProvider::start().await.unwrap();
    let schema =
        gateway::workspace::kinds::parse_schema(gateway::workspace::kinds::ANALYSIS_TYPES[0].1);
    fake.set_default(
        FakeReply::json(ai_providers::structured::sample(&schema))
            .with_usage(100, 50)
            .chunk_delay(delay),
    );
    let data_dir = tempfile::tempdir().unwrap();
    let http = reqwest::Client::new();
    let port = free_port();
    let mut server = start(&test_db.url, port, data_dir.path(), &fake, grace);
    wait_ready(&http, port).await;
    let signed = gql(
        &http,
        port,
        None,
        "mutation { register(input: { email: \"ada@example.com\", password: \"correct horse battery\" }) { token } }",
        json!({}),
    )
    .await;
    let token = signed["register"]["token"].as_str().unwrap().to_owned();
    let created = gql(
        &http,
        port,
        Some(&token),
        "mutation { createAnalysis(input: { type: TEXT_ANALYSIS, input: \"slow\" }) { analysis { id status } } }",
        json!({}),
    )
    .await;
    let id = created["createAnalysis"]["analysis"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let raw = gateway::graphql::ids::parse(&id, "id").ok().unwrap().1;
    // The job is running: its call is at the provider.
    let deadline = Instant::now() + Duration::from_secs(30);
    while fake.request_count() == 0 {
        assert!(
            Instant::now() < deadline,
            "the job never called the provider"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let stopping = Instant::now();
    let status = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let status = exited(&mut server, Duration::from_secs(grace + 30)).await;
    Some((test_db, raw, stopping.elapsed(), status))
}

async fn a_running_job_finishes_before_the_server_exits(backend: Backend) {
    let Some((test_db, id, took, status)) =
        stop_while_running(backend, Duration::from_secs(2), 30).await
    else {
        return;
    };
    assert!(status.success(), "a SIGTERM stop exits 0, got {status}");
    assert!(
        took < Duration::from_secs(30),
        "it did not wait out the whole grace: {took:?}"
    );
    let db = Database::connect(&test_db.url).await.unwrap();
    let run = text(
        &db,
        &format!("SELECT status FROM analyses WHERE id = '{id}'"),
    )
    .await;
    assert_eq!(
        run.as_deref(),
        Some("COMPLETED"),
        "the run finished before the exit"
    );
    let job = text(
        &db,
        &format!("SELECT status FROM ai_jobs WHERE subject_id = '{id}'"),
    )
    .await;
    assert_eq!(job.as_deref(), Some("DONE"));
}

async fn a_job_outlasting_the_grace_is_handed_back(backend: Backend) {
    let Some((test_db, id, took, status)) =
        stop_while_running(backend, Duration::from_secs(60), 1).await
    else {
        return;
    };
    assert!(status.success(), "a SIGTERM stop exits 0, got {status}");
    assert!(
        took < Duration::from_secs(20),
        "it waited for the slow job: {took:?}"
    );
    let db = Database::connect(&test_db.url).await.unwrap();
    let job = text(
        &db,
        &format!("SELECT status FROM ai_jobs WHERE subject_id = '{id}'"),
    )
    .await;
    assert_eq!(job.as_deref(), Some("PENDING"), "handed back to the queue");
    let owner = text(
        &db,
        &format!("SELECT lease_owner FROM ai_jobs WHERE subject_id = '{id}'"),
    )
    .await;
    assert_eq!(owner, None, "no lease left to wait for");
    let run = text(
        &db,
        &format!("SELECT status FROM analyses WHERE id = '{id}'"),
    )
    .await;
    assert_eq!(
        run.as_deref(),
        Some("PROCESSING"),
        "nothing of the abandoned call was written"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_job_finishes_before_the_server_exits_on_sqlite() {
    a_running_job_finishes_before_the_server_exits(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_job_finishes_before_the_server_exits_on_postgres() {
    a_running_job_finishes_before_the_server_exits(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_outlasting_the_grace_is_handed_back_on_sqlite() {
    a_job_outlasting_the_grace_is_handed_back(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_outlasting_the_grace_is_handed_back_on_postgres() {
    a_job_outlasting_the_grace_is_handed_back(Backend::Postgres).await;
}
