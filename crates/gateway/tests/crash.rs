//! A server killed with SIGKILL in the middle of a reply, then started again, as an operator's
//! machine would do it: the reply becomes FAILED (`interrupted`) with the text that was saved,
//! its token reservation is released and charged at an estimate of what was produced, and one
//! `usage_logs` row bills it, exactly once, however often the server restarts. On SQLite and
//! PostgreSQL (see `test-db`).
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use persistence::sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use serde_json::{Value, json};
use test_db::{Backend, TestDb};

/// A free local port (bound, then released for the server to take).
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn start(db: &str, port: u16, data_dir: &std::path::Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_colloquy"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", db)
        .env("COLLOQUY_ADDR", format!("127.0.0.1:{port}"))
        .env("COLLOQUY_SEED", "false")
        .env("COLLOQUY_DATA_DIR", data_dir)
        // local-echo types slowly, so the reply is still streaming when the server is killed,
        // and saves what it typed often.
        .env("COLLOQUY_LOCAL_WORD_DELAY_MS", "150")
        .env("COLLOQUY_STREAM_FLUSH_MS", "100")
        // On PostgreSQL a restarted server recovers only replies idle this long.
        .env("COLLOQUY_STREAM_STALE_SECS", "2")
        .env("RUST_LOG", "warn")
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start colloquy")
}

async fn wait_ready(http: &reqwest::Client, port: u16) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ready = http
            .get(format!("http://127.0.0.1:{port}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if ready {
            return;
        }
        assert!(Instant::now() < deadline, "the server never became ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn gql(
    http: &reqwest::Client,
    port: u16,
    token: Option<&str>,
    query: &str,
    vars: Value,
) -> Value {
    let mut req = http
        .post(format!("http://127.0.0.1:{port}/graphql"))
        .json(&json!({ "query": query, "variables": vars }));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let body: Value = req.send().await.unwrap().json().await.unwrap();
    assert!(body["errors"].is_null(), "{body}");
    body["data"].clone()
}

async fn scalar(db: &DatabaseConnection, sql: &str) -> i64 {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .expect("a row");
    row.try_get_by_index::<i64>(0).unwrap()
}

async fn text(db: &DatabaseConnection, sql: &str) -> String {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .expect("a row");
    row.try_get_by_index::<String>(0).unwrap()
}

fn kill9(child: &mut Child) {
    let status = Command::new("kill")
        .args(["-KILL", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    child.wait().unwrap();
}

async fn killed_mid_reply_settles_once(backend: Backend) {
    let Some(test_db) = TestDb::empty(backend).await else {
        return;
    };
    let data_dir = tempfile::tempdir().unwrap();
    let http = reqwest::Client::new();
    let port = free_port();
    let mut server = start(&test_db.url, port, data_dir.path());
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
        "mutation { createConversation(input: { title: \"Crash\", model: \"local-echo\" }) { conversation { id } } }",
        json!({}),
    )
    .await;
    let conversation = created["createConversation"]["conversation"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let sent = gql(
        &http,
        port,
        Some(&token),
        "mutation($c: ID!) { sendMessage(input: { conversationId: $c, content: \"tell me a long story about a lighthouse keeper and the sea\" }) { reply { id } } }",
        json!({ "c": conversation }),
    )
    .await;
    let reply = sent["sendMessage"]["reply"]["id"].as_str().unwrap();
    // The API's ids are global; the database's are raw.
    let reply = gateway::graphql::ids::parse(reply, "id")
        .map(|(_, raw)| raw)
        .expect("a global id");

    // Wait until part of the reply is saved, then kill the server without warning.
    let db = Database::connect(&test_db.url).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let saved = text(
            &db,
            &format!("SELECT content FROM messages WHERE id = '{reply}'"),
        )
        .await;
        if !saved.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "no text was ever saved");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    kill9(&mut server);
    let reserved = scalar(
        &db,
        "SELECT CAST(COALESCE(SUM(reserved), 0) AS BIGINT) FROM budgets",
    )
    .await;
    assert!(reserved > 0, "the killed reply still holds its reservation");
    let status = text(
        &db,
        &format!("SELECT status FROM messages WHERE id = '{reply}'"),
    )
    .await;
    assert_eq!(status, "STREAMING");
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM usage_logs").await, 0);

    // Restart (twice): the reply is recovered once, and billed once.
    for round in 0..2 {
        let port = free_port();
        let mut again = start(&test_db.url, port, data_dir.path());
        wait_ready(&http, port).await;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let status = text(
                &db,
                &format!("SELECT status FROM messages WHERE id = '{reply}'"),
            )
            .await;
            if status == "FAILED" {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "round {round}: the reply is still {status}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let error = text(
            &db,
            &format!("SELECT error FROM messages WHERE id = '{reply}'"),
        )
        .await;
        assert_eq!(error, "interrupted");
        let saved = text(
            &db,
            &format!("SELECT content FROM messages WHERE id = '{reply}'"),
        )
        .await;
        assert!(!saved.is_empty(), "the saved text is kept");
        assert_eq!(
            scalar(
                &db,
                "SELECT CAST(COALESCE(SUM(reserved), 0) AS BIGINT) FROM budgets"
            )
            .await,
            0,
            "round {round}: the reservation is released"
        );
        assert_eq!(
            scalar(&db, "SELECT COUNT(*) FROM budget_reservations").await,
            0
        );
        let rows = scalar(
            &db,
            &format!("SELECT COUNT(*) FROM usage_logs WHERE message_id = '{reply}' AND stream_type = 'chat'"),
        )
        .await;
        assert_eq!(rows, 1, "round {round}: billed exactly once");
        let billed = scalar(
            &db,
            &format!(
                "SELECT CAST(input_tokens + output_tokens AS BIGINT) FROM usage_logs WHERE message_id = '{reply}'"
            ),
        )
        .await;
        let used = scalar(
            &db,
            "SELECT CAST(COALESCE(SUM(used), 0) AS BIGINT) FROM budgets",
        )
        .await;
        assert!(billed > 0, "the prompt and the saved text are billed");
        assert_eq!(
            used, billed,
            "the budget is charged what the usage row bills"
        );
        kill9(&mut again);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_reply_is_settled_once_on_sqlite() {
    killed_mid_reply_settles_once(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_reply_is_settled_once_on_postgres() {
    killed_mid_reply_settles_once(Backend::Postgres).await;
}
