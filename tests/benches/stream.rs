//! `just bench-stream`: what streaming through the gateway costs.
//!
//! 1. Time to first delta: the fake provider answers at once, so the baseline (a direct
//!    `Provider::stream` call until its first delta) is the provider round trip alone, and the
//!    gateway figure (a client's `sendMessage` + `messageStream` until the first delta arrives)
//!    is that plus everything the gateway does: HTTP, the reservation and the stored messages,
//!    the background task, the bus and the WebSocket. Medians of 30 runs.
//! 2. 1,000 concurrent replies (`BENCH_STREAMS` to change), each followed over WebSocket
//!    (50 subscriptions per connection), every delta checked: each followed text must equal the
//!    reply exactly. Prints the peak number of replies generating at once.
//!
//! SQLite in a temporary directory; the whole run is bounded to 110 s.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ai_providers::testing::{FakeProvider, FakeReply};
use ai_providers::{ChatMessage, CompletionRequest, Providers, ProvidersConfig, StreamEvent};
use colloquy_tests::{Backend, TestApp, TestUser, WsClient};
use futures::StreamExt;
use serde_json::json;

const MODEL: &str = "claude-sonnet-4-20250514";
const RUNS: usize = 30;
const PER_CONNECTION: usize = 50;
const SEND: &str = "mutation($i: SendMessageInput!) { sendMessage(input: $i) { reply { id } } }";
const STREAM: &str =
    "subscription($id: ID!) { messageStream(messageId: $id) { seq delta done status } }";

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

async fn spawn(fake: &FakeProvider) -> TestApp {
    TestApp::spawn_with(Backend::Sqlite, |c| {
        c.chat.providers.anthropic = Some(fake.http_config(Some("sk-bench")));
        c.limits.requests_per_minute = 0;
        c.chat.send_rate_per_minute = 0;
        c.chat.daily_token_limit = i64::MAX / 4;
    })
    .await
    .expect("sqlite")
}

async fn conversation(app: &TestApp, user: &TestUser) -> String {
    app.query(
        Some(&user.token),
        "mutation { createConversation(input: { title: \"bench\" }) { conversation { id } } }",
        json!({}),
    )
    .await["createConversation"]["conversation"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn first_delta() -> (Duration, Duration) {
    let fake = FakeProvider::start().await.unwrap();
    fake.set_default(FakeReply::text(["first", " second"]));

    let providers = Providers::from_config(ProvidersConfig {
        anthropic: Some(fake.http_config(Some("sk-bench"))),
        ..Default::default()
    })
    .unwrap();
    let (provider, _) = providers.for_model(MODEL).unwrap();
    let mut direct = Vec::new();
    for _ in 0..RUNS {
        let started = Instant::now();
        let mut stream = provider
            .stream(CompletionRequest::new(
                MODEL,
                vec![ChatMessage::user("hi")],
                64,
            ))
            .await
            .unwrap();
        while let Some(item) = stream.next().await {
            if let Ok(StreamEvent::Delta(_)) = item {
                direct.push(started.elapsed());
                break;
            }
        }
        while stream.next().await.is_some() {}
    }

    let app = spawn(&fake).await;
    let user = app.register("bench@example.com").await;
    let conv = conversation(&app, &user).await;
    let mut ws = app.ws(Some(&user.token)).await;
    let mut through = Vec::new();
    for _ in 0..RUNS {
        let started = Instant::now();
        let data = app
            .query(
                Some(&user.token),
                SEND,
                json!({ "i": { "conversationId": conv, "content": "hi" } }),
            )
            .await;
        let reply = data["sendMessage"]["reply"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let id = ws.subscribe(STREAM, json!({ "id": reply })).await;
        let mut first = None;
        loop {
            let e =
                ws.next_for(&id, Duration::from_secs(30)).await.unwrap()["data"]["messageStream"]
                    .clone();
            if first.is_none() && !e["delta"].as_str().unwrap().is_empty() {
                first = Some(started.elapsed());
            }
            if e["done"] == true {
                break;
            }
        }
        through.push(first.unwrap());
    }
    (median(direct), median(through))
}

async fn concurrent(streams: usize) -> (usize, usize, Duration) {
    let fake = FakeProvider::start().await.unwrap();
    let words: Vec<String> = (0..20).map(|i| format!("word{i} ")).collect();
    let expected: Arc<String> = Arc::new(words.concat());
    // About 40 pieces 0.4 s apart: each reply lasts ~16 s, so they all overlap.
    fake.set_default(
        FakeReply::text(words)
            .chunked(60)
            .chunk_delay(Duration::from_millis(400)),
    );
    let app = Arc::new(spawn(&fake).await);
    let user = app.register("bench@example.com").await;
    // A thousand replies reserve more than the FREE plan's monthly token budget: an
    // administrator moves the bench's user to ENTERPRISE first, as an operator would.
    let admin = app.register("admin@example.com").await;
    app.promote(&admin, core_domain::Role::Admin).await;
    let moved = app
        .query(
            Some(&admin.token),
            "mutation($i: SetSubscriptionInput!) { setSubscription(input: $i) { subscription { plan } } }",
            json!({ "i": { "userId": user.global_id, "plan": "ENTERPRISE" } }),
        )
        .await;
    assert_eq!(
        moved["setSubscription"]["subscription"]["plan"],
        "ENTERPRISE"
    );

    let peak = Arc::new(AtomicUsize::new(0));
    let sampler = {
        let app = Arc::clone(&app);
        let peak = Arc::clone(&peak);
        tokio::spawn(async move {
            loop {
                let now = app.state.services.chat.generating();
                peak.fetch_max(now, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };

    let started = Instant::now();
    let connections = streams.div_ceil(PER_CONNECTION);
    let mut tasks = Vec::new();
    for c in 0..connections {
        let app = Arc::clone(&app);
        let user = user.clone();
        let expected = Arc::clone(&expected);
        let n = PER_CONNECTION.min(streams - c * PER_CONNECTION);
        tasks.push(tokio::spawn(async move {
            // One conversation per connection keeps each prompt's branch short.
            let conv = conversation(&app, &user).await;
            let mut ws: WsClient = app.ws(Some(&user.token)).await;
            let mut texts: HashMap<String, String> = HashMap::new();
            for _ in 0..n {
                let data = app
                    .post(
                        Some(&user.token),
                        SEND,
                        json!({ "i": { "conversationId": conv, "content": "go" } }),
                    )
                    .await;
                let reply = data["data"]["sendMessage"]["reply"]["id"]
                    .as_str()
                    .unwrap_or_else(|| panic!("send failed: {data}"))
                    .to_owned();
                let id = ws.subscribe(STREAM, json!({ "id": reply })).await;
                texts.insert(id, String::new());
            }
            let mut done = 0;
            let mut intact = 0;
            while done < n {
                let v = ws
                    .next_raw(Duration::from_secs(60))
                    .await
                    .expect("a stream message");
                let Some(id) = v["id"].as_str() else { continue };
                if v["type"] != "next" {
                    continue;
                }
                let e = &v["payload"]["data"]["messageStream"];
                let text = texts.get_mut(id).expect("a known subscription");
                text.push_str(e["delta"].as_str().unwrap_or_default());
                if e["done"] == true {
                    done += 1;
                    if e["status"] == "COMPLETE" && *text == *expected {
                        intact += 1;
                    }
                }
            }
            intact
        }));
    }
    let mut intact = 0;
    for t in tasks {
        intact += t.await.unwrap();
    }
    sampler.abort();
    (intact, peak.load(Ordering::Relaxed), started.elapsed())
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let streams: usize = std::env::var("BENCH_STREAMS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let run = async {
        let (direct, through) = first_delta().await;
        println!(
            "time to first delta: provider {:.2} ms, through the gateway {:.2} ms, added by the gateway {:+.2} ms (median of {RUNS})",
            direct.as_secs_f64() * 1e3,
            through.as_secs_f64() * 1e3,
            (through.as_secs_f64() - direct.as_secs_f64()) * 1e3,
        );
        let (intact, peak, took) = concurrent(streams).await;
        println!(
            "concurrent streams: {intact}/{streams} replies followed intact (no delta lost or repeated), peak {peak} generating at once, {:.1} s",
            took.as_secs_f64()
        );
        assert_eq!(
            intact, streams,
            "some followed replies differ from the stored reply"
        );
    };
    if tokio::time::timeout(Duration::from_secs(110), run)
        .await
        .is_err()
    {
        eprintln!("bench-stream did not finish within 110 s");
        std::process::exit(1);
    }
}
