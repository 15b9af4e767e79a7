//! The Anthropic provider against the fake server: wire format, keys, retries, timeouts and
//! failures mid-stream.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use ai_providers::testing::{FakeProvider, FakeReply};
use ai_providers::{
    AnthropicProvider, Provider, ProviderError, RetryConfig, StreamEvent, TimeoutConfig,
    TimeoutPhase, Usage,
};
use common::{anthropic, drain, fast_retry, request, timeouts, wait_until_closed};
use futures::StreamExt;

const MODEL: &str = "claude-sonnet-4-20250514";
const FIXTURE_USAGE: Usage = Usage {
    input_tokens: 12,
    output_tokens: 6,
};

#[tokio::test]
async fn streams_the_fixture_with_the_right_headers_and_body() {
    let fake = FakeProvider::start().await.unwrap();
    let provider = anthropic(&fake, Some("sk-ant-server"));
    assert_eq!(provider.id(), "anthropic");

    let drained = drain(provider.stream(request(MODEL)).await.unwrap()).await;
    assert_eq!(drained.deltas, ["Hello", " there", "!"]);
    assert_eq!(drained.text(), "Hello there!");
    assert_eq!(drained.usage(), FIXTURE_USAGE);
    assert_eq!(drained.end.unwrap().1.as_deref(), Some("end_turn"));

    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    let sent = &requests[0];
    assert_eq!(sent.path, "/v1/messages");
    assert_eq!(sent.header("x-api-key"), Some("sk-ant-server"));
    assert_eq!(sent.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(sent.header("content-type"), Some("application/json"));
    assert!(sent.header("authorization").is_none());
    assert_eq!(
        sent.body,
        serde_json::json!({
            "model": MODEL,
            "max_tokens": 256,
            "system": "You are terse.",
            "messages": [
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello."},
                {"role": "user", "content": "Say hello there"}
            ],
            "temperature": 0.5,
            "stream": true
        })
    );
}

#[tokio::test]
async fn completes_with_the_non_streaming_fixture() {
    let fake = FakeProvider::start().await.unwrap();
    let completion = anthropic(&fake, Some("k"))
        .complete(request(MODEL))
        .await
        .unwrap();
    assert_eq!(completion.text, "Hello there!");
    assert_eq!(completion.usage, FIXTURE_USAGE);
    assert_eq!(completion.stop_reason.as_deref(), Some("end_turn"));
    assert!(fake.last_request().unwrap().body.get("stream").is_none());
}

#[tokio::test]
async fn a_callers_key_overrides_the_configured_one() {
    let fake = FakeProvider::start().await.unwrap();
    let provider = anthropic(&fake, Some("sk-ant-server"));
    let mut req = request(MODEL);
    req.api_key = Some("sk-ant-user".into());
    drain(provider.stream(req).await.unwrap()).await;
    assert_eq!(
        fake.last_request().unwrap().header("x-api-key"),
        Some("sk-ant-user")
    );

    // Without a configured key only the caller's key works.
    let keyless = anthropic(&fake, None);
    let err = keyless.stream(request(MODEL)).await.err().unwrap();
    assert!(matches!(err, ProviderError::NoApiKey), "{err:?}");
    assert_eq!(fake.request_count(), 1);
    let mut req = request(MODEL);
    req.api_key = Some("sk-ant-own".into());
    assert_eq!(keyless.complete(req).await.unwrap().text, "Hello there!");
}

#[tokio::test]
async fn any_framing_gives_the_same_reply() {
    let fake = FakeProvider::start().await.unwrap();
    let provider = anthropic(&fake, Some("k"));
    for reply in [
        // Pieces sent with a pause arrive as separate reads, cut mid-line and mid-CRLF.
        FakeReply::success().chunked(1),
        FakeReply::success()
            .crlf()
            .chunked(13)
            .chunk_delay(Duration::from_millis(1)),
        FakeReply::success().with_comments().crlf().chunked(2),
    ] {
        fake.push(reply);
        let drained = drain(provider.stream(request(MODEL)).await.unwrap()).await;
        assert_eq!(drained.text(), "Hello there!");
        assert_eq!(drained.usage(), FIXTURE_USAGE);
    }
}

#[tokio::test]
async fn custom_text_survives_utf8_split_on_the_wire() {
    let fake = FakeProvider::start().await.unwrap();
    fake.push(
        FakeReply::text(["Grüß ", "dich, ", "世界 🎉"])
            .with_usage(40, 9)
            .chunked(1),
    );
    let drained = drain(
        anthropic(&fake, Some("k"))
            .stream(request(MODEL))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(drained.text(), "Grüß dich, 世界 🎉");
    assert_eq!(
        drained.usage(),
        Usage {
            input_tokens: 40,
            output_tokens: 9
        }
    );
}

#[tokio::test]
async fn retries_429_529_and_500_before_output() {
    let fake = FakeProvider::start().await.unwrap();
    let provider = AnthropicProvider::new(
        fake.http_config(Some("k")),
        RetryConfig {
            max_attempts: 4,
            ..fast_retry()
        },
        timeouts(),
    )
    .unwrap();
    fake.push(FakeReply::error(429));
    fake.push(FakeReply::error(529));
    fake.push(FakeReply::error(500));
    let drained = drain(provider.stream(request(MODEL)).await.unwrap()).await;
    assert_eq!(drained.text(), "Hello there!");
    assert_eq!(fake.request_count(), 4);
}

#[tokio::test]
async fn gives_up_after_max_attempts_with_the_last_error() {
    let fake = FakeProvider::start().await.unwrap();
    fake.push_times(FakeReply::error(529), 3);
    let err = anthropic(&fake, Some("k"))
        .stream(request(MODEL))
        .await
        .err()
        .unwrap();
    assert!(matches!(err, ProviderError::Overloaded), "{err:?}");
    assert_eq!(err.reason(), "overloaded");
    assert_eq!(fake.request_count(), 3);

    fake.push_times(FakeReply::error(500), 3);
    let err = anthropic(&fake, Some("k"))
        .complete(request(MODEL))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ProviderError::Upstream { status: 500 }),
        "{err:?}"
    );
    assert_eq!(fake.request_count(), 6);
}

#[tokio::test]
async fn unauthorized_is_not_retried() {
    let fake = FakeProvider::start().await.unwrap();
    fake.push(FakeReply::error(401));
    let err = anthropic(&fake, Some("bad"))
        .stream(request(MODEL))
        .await
        .err()
        .unwrap();
    assert!(matches!(err, ProviderError::Unauthorized), "{err:?}");
    assert_eq!(fake.request_count(), 1);
    assert_eq!(fake.pending_replies(), 0);
}

#[tokio::test]
async fn bad_requests_carry_the_providers_explanation_and_404_is_an_unknown_model() {
    let fake = FakeProvider::start().await.unwrap();
    fake.push(FakeReply::error(400));
    fake.push(FakeReply::error(404));
    let provider = anthropic(&fake, Some("k"));
    let err = provider.complete(request(MODEL)).await.unwrap_err();
    assert!(
        matches!(&err, ProviderError::BadRequest(m) if m == "fake error with status 400"),
        "{err:?}"
    );
    let err = provider.complete(request("claude-nope")).await.unwrap_err();
    assert!(
        matches!(&err, ProviderError::UnknownModel(m) if m == "claude-nope"),
        "{err:?}"
    );
    assert_eq!(fake.request_count(), 2);
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let fake = FakeProvider::start().await.unwrap();
    fake.push(FakeReply::error(429).retry_after(1));
    let started = Instant::now();
    let drained = drain(
        anthropic(&fake, Some("k"))
            .stream(request(MODEL))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(drained.text(), "Hello there!");
    // The base delay is 1 ms: only `retry-after` explains a one-second wait.
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(fake.request_count(), 2);
}

#[tokio::test]
async fn a_retry_after_beyond_the_max_delay_is_returned_not_waited_for() {
    let fake = FakeProvider::start().await.unwrap();
    fake.push(FakeReply::error(429).retry_after(60));
    let started = Instant::now();
    let err = anthropic(&fake, Some("k"))
        .stream(request(MODEL))
        .await
        .err()
        .unwrap();
    assert!(
        matches!(err, ProviderError::RateLimited { retry_after: Some(d) } if d == Duration::from_secs(60)),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(fake.request_count(), 1);
}

#[tokio::test]
async fn an_error_event_after_output_fails_the_stream_without_retry() {
    let fake = FakeProvider::start().await.unwrap();
    fake.push(FakeReply::stream_error());
    let drained = drain(
        anthropic(&fake, Some("k"))
            .stream(request(MODEL))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(drained.deltas, ["Hello"]);
    assert!(
        matches!(drained.error(), ProviderError::Overloaded),
        "{drained:?}"
    );
    // Overloaded is retryable, but output had started.
    assert_eq!(fake.request_count(), 1);
}

#[tokio::test]
async fn an_error_event_before_output_is_retried() {
    let fake = FakeProvider::start().await.unwrap();
    fake.push(FakeReply::stream_error_after(0));
    let drained = drain(
        anthropic(&fake, Some("k"))
            .stream(request(MODEL))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(drained.text(), "Hello there!");
    assert_eq!(fake.request_count(), 2);
}

#[tokio::test]
async fn a_cut_connection_after_output_is_stream_interrupted() {
    let fake = FakeProvider::start().await.unwrap();
    fake.push(FakeReply::success().cut_after(2));
    let drained = drain(
        anthropic(&fake, Some("k"))
            .stream(request(MODEL))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(drained.deltas, ["Hello", " there"]);
    assert!(
        matches!(drained.error(), ProviderError::StreamInterrupted),
        "{drained:?}"
    );
    assert_eq!(fake.request_count(), 1);
}

#[tokio::test]
async fn a_cut_before_output_fails_the_call_itself() {
    let fake = FakeProvider::start().await.unwrap();
    fake.push(FakeReply::success().cut_after(0));
    let err = anthropic(&fake, Some("k"))
        .stream(request(MODEL))
        .await
        .err()
        .unwrap();
    assert!(matches!(err, ProviderError::StreamInterrupted), "{err:?}");
}

#[tokio::test]
async fn a_stall_after_output_hits_the_idle_timeout() {
    let fake = FakeProvider::start().await.unwrap();
    fake.push(FakeReply::success().stall_after(1));
    let provider = AnthropicProvider::new(
        fake.http_config(Some("k")),
        fast_retry(),
        TimeoutConfig {
            idle: Duration::from_millis(300),
            ..timeouts()
        },
    )
    .unwrap();
    let started = Instant::now();
    let drained = drain(provider.stream(request(MODEL)).await.unwrap()).await;
    assert_eq!(drained.deltas, ["Hello"]);
    assert!(
        matches!(drained.error(), ProviderError::Timeout(TimeoutPhase::Idle)),
        "{drained:?}"
    );
    assert_eq!(drained.error().reason(), "idle_timeout");
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(fake.request_count(), 1);
}

#[tokio::test]
async fn silence_before_the_first_event_hits_the_first_byte_timeout() {
    let fake = FakeProvider::start().await.unwrap();
    fake.push(FakeReply::success().stall_after(0));
    let provider = AnthropicProvider::new(
        fake.http_config(Some("k")),
        fast_retry(),
        TimeoutConfig {
            first_byte: Duration::from_millis(300),
            ..timeouts()
        },
    )
    .unwrap();
    let err = provider.stream(request(MODEL)).await.err().unwrap();
    assert!(
        matches!(err, ProviderError::Timeout(TimeoutPhase::FirstByte)),
        "{err:?}"
    );
    // Timeouts are not retried.
    assert_eq!(fake.request_count(), 1);
}

#[tokio::test]
async fn dropping_the_stream_closes_the_upstream_response() {
    let fake = FakeProvider::start().await.unwrap();
    fake.push(FakeReply::success().stall_after(1));
    let mut stream = anthropic(&fake, Some("k"))
        .stream(request(MODEL))
        .await
        .unwrap();
    assert_eq!(
        stream.next().await.unwrap().unwrap(),
        StreamEvent::Delta("Hello".into())
    );
    assert_eq!(fake.open_responses(), 1);
    drop(stream);
    wait_until_closed(&fake).await;
}

#[tokio::test]
async fn an_unreachable_server_is_a_transport_error() {
    let fake = FakeProvider::start().await.unwrap();
    let base_url = fake.base_url();
    drop(fake);
    // Give the aborted listener a moment to close its socket.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let provider = AnthropicProvider::new(
        ai_providers::HttpProviderConfig {
            base_url,
            api_key: Some("k".into()),
        },
        fast_retry(),
        timeouts(),
    )
    .unwrap();
    let err = provider.stream(request(MODEL)).await.err().unwrap();
    assert_eq!(err.reason(), "transport_error", "{err:?}");
}

#[tokio::test]
async fn structured_output_forces_one_tool_and_reads_its_input() {
    let fake = FakeProvider::start().await.unwrap();
    let provider = anthropic(&fake, Some("sk-ant-server"));
    let answer = serde_json::json!({"summary": "ok", "confidence": 0.8});
    fake.push(FakeReply::json(answer.clone()));
    let schema =
        serde_json::json!({"type": "object", "properties": {"summary": {"type": "string"}}});
    let mut req = request(MODEL);
    req.json = Some(ai_providers::JsonOutput {
        name: "text_analysis".into(),
        description: "The analysis".into(),
        schema: schema.clone(),
    });
    let completion = provider.complete(req).await.unwrap();
    let parsed: serde_json::Value = serde_json::from_str(&completion.text).unwrap();
    assert_eq!(parsed, answer);
    assert_eq!(completion.stop_reason.as_deref(), Some("tool_use"));
    let body = fake.last_request().unwrap().body;
    assert_eq!(body["tools"][0]["name"], "text_analysis");
    assert_eq!(body["tools"][0]["input_schema"], schema);
    assert_eq!(
        body["tool_choice"],
        serde_json::json!({"type": "tool", "name": "text_analysis"})
    );
}
