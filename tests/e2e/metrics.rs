//! `/metrics` after a chat against the fake provider: provider calls, tokens and cost by provider
//! and model, time to first token, streams in flight, and the SQL statement duration histogram
//! and slow-statement count. The registry is process-wide (every test server of this binary
//! shares it), so counters are compared before and after this test's own chat.

use std::time::Duration;

use ai_providers::RetryConfig;
use ai_providers::testing::FakeProvider;
use colloquy_tests::{Backend, TestApp, e2e_backend};
use serde_json::json;

const MODEL: &str = "claude-sonnet-4-20250514";

async fn scrape(app: &TestApp) -> String {
    let res = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("metrics");
    assert!(res.status().is_success());
    res.text().await.expect("text")
}

/// The value of the series `name` exactly (name and labels), or None when absent.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

e2e_backend!(
    metrics_show_provider_tokens_first_token_and_sql_series_after_a_chat,
    |backend: Backend| async move {
        let fake = FakeProvider::start().await.unwrap();
        let Some(app) = TestApp::spawn_with(backend, |c| {
            c.chat.providers.anthropic = Some(fake.http_config(Some("sk-server")));
            c.chat.providers.retry = RetryConfig {
                max_attempts: 1,
                base_delay: Duration::from_millis(10),
                max_delay: Duration::from_millis(100),
            };
            c.chat.flush_interval = Duration::from_millis(20);
            // Every statement counts as slow, so the slow-statement log and counter are seen.
            c.database.slow_statement = Duration::ZERO;
        })
        .await
        else {
            return;
        };
        let calls =
            format!("colloquy_provider_calls_total{{provider=\"anthropic\",model=\"{MODEL}\"}}");
        let input = format!(
            "colloquy_provider_input_tokens_total{{provider=\"anthropic\",model=\"{MODEL}\"}}"
        );
        let output = format!(
            "colloquy_provider_output_tokens_total{{provider=\"anthropic\",model=\"{MODEL}\"}}"
        );
        let ttft = "colloquy_provider_first_token_seconds_count{provider=\"anthropic\"}";
        let before = scrape(&app).await;

        let ada = app.register("ada@example.com").await;
        let data = app
            .query(
                Some(&ada.token),
                "mutation($m: String) { createConversation(input: { title: \"Chat\", model: $m }) { conversation { id } } }",
                json!({ "m": MODEL }),
            )
            .await;
        let conv = data["createConversation"]["conversation"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let data = app
            .query(
                Some(&ada.token),
                "mutation($i: SendMessageInput!) { sendMessage(input: $i) { reply { id } } }",
                json!({ "i": { "conversationId": conv, "content": "hello there" } }),
            )
            .await;
        let reply = data["sendMessage"]["reply"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let mut ws = app.ws(Some(&ada.token)).await;
        let id = ws
            .subscribe(
                "subscription($id: ID!) { messageStream(messageId: $id) { done status } }",
                json!({ "id": reply }),
            )
            .await;
        loop {
            let event = ws
                .next_for(&id, Duration::from_secs(60))
                .await
                .expect("a stream event in time");
            if event["data"]["messageStream"]["done"] == true {
                assert_eq!(event["data"]["messageStream"]["status"], "COMPLETE");
                break;
            }
        }
        // The counters are bumped just before the final write the stream's `done` follows.
        let after = scrape(&app).await;
        let grew = |series: &str| {
            value(&after, series).unwrap_or(0.0) > value(&before, series).unwrap_or(0.0)
        };
        assert!(grew(&calls), "{calls} did not grow:\n{after}");
        assert!(grew(&input), "{input} did not grow");
        assert!(grew(&output), "{output} did not grow");
        assert!(grew(ttft), "{ttft} did not grow");
        assert!(after.contains("# TYPE colloquy_provider_first_token_seconds histogram"));
        assert!(after.contains(&format!(
            "colloquy_provider_cost_micro_dollars_total{{provider=\"anthropic\",model=\"{MODEL}\"}}"
        )));
        assert!(value(&after, "colloquy_streams_in_flight").is_some());
        assert!(value(&after, "colloquy_jobs{state=\"queued\"}").is_some());
        assert!(value(&after, "colloquy_sql_statement_seconds_bucket{le=\"+Inf\"}").unwrap() > 0.0);
        assert!(value(&after, "colloquy_sql_statement_seconds_count").unwrap() > 0.0);
        assert!(value(&after, "colloquy_sql_slow_statements_total").unwrap() > 0.0);
        // No user id ever becomes a label.
        assert!(!after.contains(&ada.db_id));
    }
);
