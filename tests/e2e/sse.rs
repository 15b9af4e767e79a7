//! GraphQL over Server-Sent Events (graphql-sse, distinct connections mode) at `/graphql/stream`:
//! `event: next` per result and a final `event: complete`, authentication by the Authorization
//! header, and the subscription ends when the client goes away.

use std::time::Duration;

use colloquy_tests::{TestApp, e2e};
use futures::StreamExt;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(10);

/// One server-sent event: its `event` name and its `data` (lines joined).
#[derive(Debug)]
struct SseEvent {
    event: String,
    data: String,
}

/// Reads events from a `text/event-stream` response as they arrive.
struct EventReader {
    body: futures::stream::BoxStream<'static, reqwest::Result<axum::body::Bytes>>,
    buffer: String,
}

impl EventReader {
    fn new(res: reqwest::Response) -> Self {
        Self {
            body: res.bytes_stream().boxed(),
            buffer: String::new(),
        }
    }

    /// The next event (comments skipped), or None when the stream ends or `WAIT` passes.
    async fn next(&mut self) -> Option<SseEvent> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut event = SseEvent {
                    event: "message".into(),
                    data: String::new(),
                };
                let mut data_lines = Vec::new();
                for line in block.lines() {
                    if let Some(name) = line.strip_prefix("event:") {
                        event.event = name.trim().to_owned();
                    } else if let Some(data) = line.strip_prefix("data:") {
                        data_lines.push(data.strip_prefix(' ').unwrap_or(data).to_owned());
                    }
                }
                if data_lines.is_empty() && !block.lines().any(|l| l.starts_with("event:")) {
                    continue; // a comment (keep-alive)
                }
                event.data = data_lines.join("\n");
                return Some(event);
            }
            let chunk = tokio::time::timeout_at(deadline, self.body.next())
                .await
                .ok()??
                .ok()?;
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    /// The next event, which must be `next`; returns its result.
    async fn next_result(&mut self) -> Value {
        let event = self.next().await.expect("an event");
        assert_eq!(event.event, "next", "{event:?}");
        serde_json::from_str(&event.data).expect("a JSON result")
    }

    /// The next event must be `complete`, and the stream must end after it.
    async fn expect_complete(&mut self) {
        let event = self.next().await.expect("complete");
        assert_eq!(event.event, "complete", "{event:?}");
        assert!(
            self.next().await.is_none(),
            "the stream ends after complete"
        );
    }
}

async fn open(app: &TestApp, token: Option<&str>, body: Value) -> reqwest::Response {
    let mut req = app
        .http
        .post(app.url("/graphql/stream"))
        .header("accept", "text/event-stream")
        .json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.expect("request sent");
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    res
}

fn subscribers(app: &TestApp) -> usize {
    app.state
        .services
        .conversations
        .events()
        .message_subscribers()
}

e2e!(message_added_over_sse, |app: TestApp| async move {
    let ada = app.register("ada@example.com").await;
    let conv = app.create_conversation(&ada, "Streamed").await;
    let res = open(
        &app,
        Some(&ada.token),
        json!({ "query": "subscription($c: ID) { messageAdded(conversationId: $c) { content } }", "variables": { "c": conv } }),
    )
    .await;
    let mut events = EventReader::new(res);
    app.wait_for_message_subscribers(1).await;

    // Added by another request, received on the stream.
    app.add_message(&ada, &conv, "first").await;
    app.add_message(&ada, &conv, "second").await;
    for expected in ["first", "second"] {
        let result = events.next_result().await;
        assert_eq!(
            result["data"]["messageAdded"]["content"], expected,
            "{result}"
        );
    }

    // The client goes away: the subscription ends on the server.
    drop(events);
    let deadline = tokio::time::Instant::now() + WAIT;
    while subscribers(&app) > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the subscription outlived its client"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
});

e2e!(
    queries_mutations_and_errors_over_sse,
    |app: TestApp| async move {
        // A query: one next, then complete.
        let mut events =
            EventReader::new(open(&app, None, json!({ "query": "{ __typename }" })).await);
        assert_eq!(events.next_result().await["data"]["__typename"], "Query");
        events.expect_complete().await;

        // A mutation.
        let res = open(
            &app,
            None,
            json!({ "query": "mutation { startGuestSession { token } }" }),
        )
        .await;
        let mut events = EventReader::new(res);
        let result = events.next_result().await;
        assert!(
            result["data"]["startGuestSession"]["token"].is_string(),
            "{result}"
        );
        events.expect_complete().await;

        // A document that does not validate: its errors in a next event (graphql-sse), then complete.
        let mut events =
            EventReader::new(open(&app, None, json!({ "query": "subscription { nope }" })).await);
        let result = events.next_result().await;
        assert!(result["errors"][0]["message"].is_string(), "{result}");
        events.expect_complete().await;

        // GET with the query in the URL (what EventSource can do).
        let res = app
            .http
            .get(app.url("/graphql/stream"))
            .query(&[("query", "{ __typename }")])
            .header("accept", "text/event-stream")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let mut events = EventReader::new(res);
        assert_eq!(events.next_result().await["data"]["__typename"], "Query");
        events.expect_complete().await;
        let res = app
            .http
            .get(app.url("/graphql/stream"))
            .query(&[("query", "mutation { logout { revokedSessionId } }")])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 405);

        // Refusals before the stream starts.
        let res = app
            .http
            .post(app.url("/graphql/stream"))
            .header("accept", "application/json")
            .json(&json!({ "query": "{ __typename }" }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 406);
        let res = app
            .http
            .post(app.url("/graphql/stream"))
            .header("content-type", "text/plain")
            .body(json!({ "query": "{ __typename }" }).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 415);
    }
);

e2e!(sse_authenticates_by_header, |app: TestApp| async move {
    let ada = app.register("ada@example.com").await;
    let mut events =
        EventReader::new(open(&app, Some(&ada.token), json!({ "query": "{ me { id } }" })).await);
    assert_eq!(
        events.next_result().await["data"]["me"]["id"],
        ada.global_id.as_str()
    );
    events.expect_complete().await;

    // Without a caller, messageAdded is UNAUTHENTICATED; a bad token is ignored with the warning.
    let res = open(
        &app,
        Some("cq_s_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        json!({ "query": "subscription { messageAdded { id } }" }),
    )
    .await;
    assert_eq!(res.headers()["x-colloquy-auth"], "invalid-token");
    let mut events = EventReader::new(res);
    let result = events.next_result().await;
    assert_eq!(
        result["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{result}"
    );
    events.expect_complete().await;
});
