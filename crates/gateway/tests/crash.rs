//! A server killed with SIGKILL in the middle of a reply, then started again, as an operator's
//! machine would do it: the reply becomes FAILED (`interrupted`) with the text that was saved,
//! its token reservation is released and charged at an estimate of what was produced, and one
//! `usage_logs` row bills it, exactly once, however often the server restarts; and nothing a
//! follower saw before the kill is lost, nor does its `seq` go backwards. On SQLite and
//! PostgreSQL (see `test-db`).
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use persistence::sea_orm::{Database, DatabaseConnection};
use serde_json::{Value, json};
use support::{free_port, gql, one, serve, wait_ready};
use test_db::{Backend, TestDb};

fn start(db: &str, port: u16, data_dir: &std::path::Path) -> Child {
    // local-echo types slowly, so the reply is still streaming when the server is killed, and
    // saves what it typed often.
    start_with(
        db,
        port,
        data_dir,
        &[
            ("COLLOQUY_LOCAL_WORD_DELAY_MS", "150"),
            ("COLLOQUY_STREAM_FLUSH_MS", "100"),
        ],
    )
}

fn start_with(db: &str, port: u16, data_dir: &std::path::Path, env: &[(&str, &str)]) -> Child {
    // On PostgreSQL a restarted server recovers only replies idle this long.
    let mut all = vec![("COLLOQUY_STREAM_STALE_SECS", "2")];
    all.extend_from_slice(env);
    serve(db, port, data_dir, &all)
}

async fn scalar(db: &DatabaseConnection, sql: &str) -> i64 {
    one(db, sql).await
}

async fn text(db: &DatabaseConnection, sql: &str) -> String {
    one(db, sql).await
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
            // Each budget the call reserved against (the day's, the plan's month) is charged it.
            "SELECT CAST(COALESCE(SUM(used), 0) AS BIGINT) FROM budgets WHERE scope = 'user_daily'",
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

/// One `messageStream` event as a follower records it.
#[derive(Debug, Clone)]
struct Seen {
    seq: usize,
    delta: String,
    done: bool,
}

/// Follows `reply` over SSE (`POST /graphql/stream`) and sends every event it receives to the
/// returned channel, until the stream ends (the reply is done, or the server died).
fn follow_sse(
    http: &reqwest::Client,
    port: u16,
    token: &str,
    reply: &str,
    after_seq: Option<usize>,
) -> tokio::sync::mpsc::UnboundedReceiver<Seen> {
    use futures::StreamExt;
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let request = http
        .post(format!("http://127.0.0.1:{port}/graphql/stream"))
        .header("Accept", "text/event-stream")
        .bearer_auth(token)
        .json(&json!({
            "query": "subscription($id: ID!, $after: Int) { messageStream(messageId: $id, afterSeq: $after) { seq delta done } }",
            "variables": { "id": reply, "after": after_seq },
        }));
    tokio::spawn(async move {
        let Ok(response) = request.send().await else {
            return;
        };
        let mut body = response.bytes_stream();
        let mut buffer = String::new();
        while let Some(Ok(bytes)) = body.next().await {
            buffer.push_str(std::str::from_utf8(&bytes).unwrap());
            while let Some(end) = buffer.find("\n\n") {
                let block: String = buffer.drain(..end + 2).collect();
                let Some(data) = block.lines().find_map(|l| l.strip_prefix("data:")) else {
                    continue;
                };
                let Ok(event) = serde_json::from_str::<Value>(data.trim()) else {
                    continue;
                };
                assert!(event["errors"].is_null(), "{event}");
                let e = &event["data"]["messageStream"];
                if e.is_null() {
                    continue;
                }
                let _ = tx.send(Seen {
                    seq: usize::try_from(e["seq"].as_u64().unwrap()).unwrap(),
                    delta: e["delta"].as_str().unwrap().to_owned(),
                    done: e["done"].as_bool().unwrap(),
                });
            }
        }
    });
    rx
}

/// Everything a follower receives until its stream ends (at most 30 s).
async fn drain(rx: &mut tokio::sync::mpsc::UnboundedReceiver<Seen>) -> Vec<Seen> {
    let mut all = Vec::new();
    while let Ok(Some(e)) = tokio::time::timeout(Duration::from_secs(30), rx.recv()).await {
        all.push(e);
    }
    all
}

/// A follower records every delta of a reply; the server is killed with SIGKILL mid-stream and
/// started again. The recovered reply's text starts with everything the follower saw and is at
/// least as long as its last `seq`, and a reconnect with `afterSeq` never goes backwards. With
/// the default save interval, and local-echo typing faster than it (a word every 20 ms).
async fn a_follower_loses_nothing_it_saw(backend: Backend) {
    let Some(test_db) = TestDb::empty(backend).await else {
        return;
    };
    let data_dir = tempfile::tempdir().unwrap();
    let http = reqwest::Client::new();
    let port = free_port();
    let fast = [("COLLOQUY_LOCAL_WORD_DELAY_MS", "20")];
    let mut server = start_with(&test_db.url, port, data_dir.path(), &fast);
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
    let long: Vec<String> = (0..200).map(|i| format!("word{i}")).collect();
    let sent = gql(
        &http,
        port,
        Some(&token),
        "mutation($c: ID!, $t: String!) { sendMessage(input: { conversationId: $c, content: $t }) { reply { id } } }",
        json!({ "c": conversation, "t": long.join(" ") }),
    )
    .await;
    let reply_gid = sent["sendMessage"]["reply"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let reply = gateway::graphql::ids::parse(&reply_gid, "id")
        .map(|(_, raw)| raw)
        .expect("a global id");

    // Follow, and kill the server once the follower has seen a few deltas.
    let mut follower = follow_sse(&http, port, &token, &reply_gid, None);
    let mut seen = Vec::new();
    while seen.len() < 6 {
        let event = tokio::time::timeout(Duration::from_secs(30), follower.recv())
            .await
            .expect("deltas arrive")
            .expect("the stream is open");
        assert!(!event.done, "the reply ended before the kill: {event:?}");
        seen.push(event);
    }
    kill9(&mut server);
    // What was on its way to the follower when the server died counts as seen too.
    seen.extend(drain(&mut follower).await);
    assert!(seen.iter().all(|e| !e.done), "{seen:?}");
    let mut seen_text = String::new();
    for e in &seen {
        seen_text.push_str(&e.delta);
        assert_eq!(e.seq, seen_text.chars().count(), "seq is the end offset");
    }
    let last_seq = seen.last().unwrap().seq;

    let db = Database::connect(&test_db.url).await.unwrap();
    let port = free_port();
    let mut again = start_with(&test_db.url, port, data_dir.path(), &fast);
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
        assert!(Instant::now() < deadline, "the reply is still {status}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let saved = text(
        &db,
        &format!("SELECT content FROM messages WHERE id = '{reply}'"),
    )
    .await;
    assert!(
        saved.starts_with(&seen_text),
        "the follower saw {seen_text:?} ({last_seq} characters) but the recovered reply is {saved:?}"
    );
    assert!(saved.chars().count() >= last_seq);

    // Reconnecting where the follower stopped: nothing before its position, and the rest.
    let mut resumed = follow_sse(&http, port, &token, &reply_gid, Some(last_seq));
    let events = drain(&mut resumed).await;
    assert!(events.last().is_some_and(|e| e.done), "{events:?}");
    assert!(events.iter().all(|e| e.seq >= last_seq), "{events:?}");
    let rest: String = events.iter().map(|e| e.delta.as_str()).collect();
    assert_eq!(format!("{seen_text}{rest}"), saved);
    // Even a position beyond the text does not go backwards.
    let beyond = saved.chars().count() + 50;
    let mut made_up = follow_sse(&http, port, &token, &reply_gid, Some(beyond));
    let events = drain(&mut made_up).await;
    assert!(events.last().is_some_and(|e| e.done), "{events:?}");
    assert!(events.iter().all(|e| e.seq >= beyond), "{events:?}");
    kill9(&mut again);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_loses_nothing_it_saw_on_sqlite() {
    a_follower_loses_nothing_it_saw(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_loses_nothing_it_saw_on_postgres() {
    a_follower_loses_nothing_it_saw(Backend::Postgres).await;
}
