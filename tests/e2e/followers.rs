//! A follower that joins a reply mid-stream on another instance sees live text within a bounded
//! delay, however steadily the deltas arrive: the deltas it cannot place yet (the saved text lags
//! behind them) wait at most a moment before it re-reads the saved text, instead of until the
//! reply ends. PostgreSQL only: two instances share one database.

use std::time::{Duration, Instant};

use ai_providers::testing::{FakeProvider, FakeReply};
use colloquy_tests::{Backend, TestApp, WsClient, e2e_backend};
use serde_json::json;

const STREAM: &str =
    "subscription($id: ID!) { messageStream(messageId: $id) { seq delta status done } }";

e2e_backend!(
    a_late_follower_on_another_instance_sees_live_text,
    |backend| async move {
        if backend != Backend::Postgres {
            return;
        }
        let fake = FakeProvider::start().await.unwrap();
        let Some(app) = TestApp::spawn_with(backend, |c| {
            c.chat.providers.anthropic = Some(fake.http_config(Some("sk-server")));
            c.chat.providers.openai = Some(fake.http_config(Some("sk-server")));
            c.chat.flush_interval = Duration::from_millis(100);
        })
        .await
        else {
            return;
        };
        let peer = app.spawn_peer().await;
        peer.state.services.conversations.events().listening().await;
        let ada = app.register("ada@example.com").await;
        let created = app
            .query(
                Some(&ada.token),
                "mutation { createConversation(input: { title: \"steady\", model: \"claude-sonnet-4-20250514\" }) { conversation { id } } }",
                json!({}),
            )
            .await;
        let conv = created["createConversation"]["conversation"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        // A steady stream: a piece of the provider's response every 15 ms for a few seconds.
        let words: Vec<String> = (0..300).map(|i| format!("w{i} ")).collect();
        fake.push_when(
            |r| r.is_streaming(),
            FakeReply::text(words.clone())
                .chunked(120)
                .chunk_delay(Duration::from_millis(15)),
        );
        let sent = app
            .query(
                Some(&ada.token),
                "mutation($c: ID!) { sendMessage(input: { conversationId: $c, content: \"go\" }) { reply { id } } }",
                json!({ "c": conv }),
            )
            .await;
        let reply = sent["sendMessage"]["reply"]["id"]
            .as_str()
            .unwrap()
            .to_owned();

        // Join on the other instance once the reply is well under way.
        tokio::time::sleep(Duration::from_millis(600)).await;
        let mut ws =
            WsClient::connect(&format!("ws://{}/graphql/ws", peer.addr), Some(&ada.token)).await;
        let id = ws.subscribe(STREAM, json!({ "id": reply })).await;
        let mut text = String::new();
        let mut last = Instant::now();
        let mut longest = Duration::ZERO;
        let mut live = 0;
        loop {
            let event = ws
                .next_for(&id, Duration::from_secs(20))
                .await
                .expect("a stream event");
            let e = &event["data"]["messageStream"];
            longest = longest.max(last.elapsed());
            last = Instant::now();
            text.push_str(e["delta"].as_str().unwrap_or_default());
            if e["done"] == true {
                break;
            }
            live += 1;
        }
        assert_eq!(text, words.concat(), "nothing lost, nothing repeated");
        assert!(
            live > 10,
            "the follower saw the reply grow ({live} live events)"
        );
        assert!(
            longest < Duration::from_millis(1_500),
            "a follower waited {longest:?} for text while the reply streamed"
        );
    }
);
