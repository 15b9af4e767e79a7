//! The OpenAI and OpenAI-compatible providers against the fake server.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use ai_providers::testing::{FakeProvider, FakeReply};
use ai_providers::{
    OpenAiProvider, Provider, ProviderError, TimeoutConfig, TimeoutPhase, Usage, estimate_tokens,
};
use common::{drain, fast_retry, openai, request, timeouts};

const MODEL: &str = "gpt-4o-mini";
const FIXTURE_USAGE: Usage = Usage {
    input_tokens: 19,
    output_tokens: 3,
};

fn ollama(fake: &FakeProvider) -> OpenAiProvider {
    OpenAiProvider::compatible("ollama", fake.http_config(None), fast_retry(), timeouts()).unwrap()
}

#[tokio::test]
async fn streams_the_fixture_with_the_right_headers_and_body() {
    let fake = FakeProvider::start().await.unwrap();
    let provider = openai(&fake, Some("sk-server"));
    assert_eq!(provider.id(), "openai");

    let drained = drain(provider.stream(request(MODEL)).await.unwrap()).await;
    assert_eq!(drained.deltas, ["Hello", " there", "!"]);
    assert_eq!(drained.text(), "Hello there!");
    assert_eq!(drained.usage(), FIXTURE_USAGE);
    assert_eq!(drained.end.unwrap().1.as_deref(), Some("stop"));

    let sent = fake.last_request().unwrap();
    assert_eq!(sent.path, "/v1/chat/completions");
    assert_eq!(sent.header("authorization"), Some("Bearer sk-server"));
    assert!(sent.header("x-api-key").is_none());
    assert_eq!(sent.header("content-type"), Some("application/json"));
    assert_eq!(
        sent.body,
        serde_json::json!({
            "model": MODEL,
            "messages": [
                {"role": "system", "content": "You are terse."},
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello."},
                {"role": "user", "content": "Say hello there"}
            ],
            "max_completion_tokens": 256,
            "temperature": 0.5,
            "stream": true,
            "stream_options": {"include_usage": true}
        })
    );
    assert_eq!(sent.system_prompt(), Some("You are terse."));
}

#[tokio::test]
async fn completes_with_the_non_streaming_fixture() {
    let fake = FakeProvider::start().await.unwrap();
    let completion = openai(&fake, Some("k"))
        .complete(request(MODEL))
        .await
        .unwrap();
    assert_eq!(completion.text, "Hello there!");
    assert_eq!(completion.usage, FIXTURE_USAGE);
    assert_eq!(completion.stop_reason.as_deref(), Some("stop"));
    let sent = fake.last_request().unwrap();
    assert!(sent.body.get("stream").is_none());
    assert!(sent.body.get("stream_options").is_none());
}

#[tokio::test]
async fn a_callers_key_overrides_the_configured_one() {
    let fake = FakeProvider::start().await.unwrap();
    let mut req = request(MODEL);
    req.api_key = Some("sk-user".into());
    drain(
        openai(&fake, Some("sk-server"))
            .stream(req.clone())
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        fake.last_request().unwrap().header("authorization"),
        Some("Bearer sk-user")
    );

    let err = openai(&fake, None)
        .stream(request(MODEL))
        .await
        .err()
        .unwrap();
    assert!(matches!(err, ProviderError::NoApiKey), "{err:?}");
    assert_eq!(fake.request_count(), 1);
}

#[tokio::test]
async fn a_keyless_compatible_server_without_usage_works_with_estimated_usage() {
    let fake = FakeProvider::start().await.unwrap();
    fake.set_default(FakeReply::success().without_usage());
    let provider = ollama(&fake);
    assert_eq!(provider.id(), "ollama");

    let req = request("llama3.2");
    let drained = drain(provider.stream(req.clone()).await.unwrap()).await;
    assert_eq!(drained.text(), "Hello there!");
    let expected = Usage {
        input_tokens: ai_providers::estimate_prompt_tokens(req.system.as_deref(), &req.messages),
        output_tokens: estimate_tokens("Hello there!"),
    };
    assert_eq!(drained.usage(), expected);

    let sent = fake.last_request().unwrap();
    assert!(sent.header("authorization").is_none());
    assert_eq!(sent.body["max_tokens"], 256);
    assert!(sent.body.get("max_completion_tokens").is_none());

    let completion = provider.complete(req).await.unwrap();
    assert_eq!(completion.text, "Hello there!");
    assert_eq!(completion.usage, expected);
}

#[tokio::test]
async fn a_compatible_server_with_a_key_gets_it() {
    let fake = FakeProvider::start().await.unwrap();
    let provider = OpenAiProvider::compatible(
        "openrouter",
        fake.http_config(Some("sk-or")),
        fast_retry(),
        timeouts(),
    )
    .unwrap();
    drain(
        provider
            .stream(request("meta-llama/llama-3.1-8b-instruct"))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        fake.last_request().unwrap().header("authorization"),
        Some("Bearer sk-or")
    );
}

#[tokio::test]
async fn any_framing_gives_the_same_reply() {
    let fake = FakeProvider::start().await.unwrap();
    let provider = openai(&fake, Some("k"));
    for reply in [
        FakeReply::success()
            .chunked(17)
            .chunk_delay(Duration::from_millis(1)),
        FakeReply::success().crlf().chunked(1),
        FakeReply::success().with_comments().chunked(11),
        FakeReply::text(["Ça ", "va ", "très ", "bien 👍"])
            .with_usage(19, 3)
            .crlf()
            .chunked(1),
    ] {
        fake.push(reply);
        let drained = drain(provider.stream(request(MODEL)).await.unwrap()).await;
        assert!(
            ["Hello there!", "Ça va très bien 👍"].contains(&drained.text().as_str()),
            "{drained:?}"
        );
        assert_eq!(drained.usage(), FIXTURE_USAGE);
    }
}

#[tokio::test]
async fn an_error_payload_after_output_fails_the_stream_without_retry() {
    let fake = FakeProvider::start().await.unwrap();
    fake.push(FakeReply::stream_error());
    let drained = drain(
        openai(&fake, Some("k"))
            .stream(request(MODEL))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(drained.deltas, ["Hello"]);
    assert!(
        matches!(drained.error(), ProviderError::Upstream { status: 500 }),
        "{drained:?}"
    );
    assert_eq!(fake.request_count(), 1);
}

#[tokio::test]
async fn an_error_payload_before_output_is_retried() {
    let fake = FakeProvider::start().await.unwrap();
    fake.push(FakeReply::stream_error_after(0));
    let drained = drain(
        openai(&fake, Some("k"))
            .stream(request(MODEL))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(drained.text(), "Hello there!");
    assert_eq!(fake.request_count(), 2);
}

#[tokio::test]
async fn retries_429_and_500_before_output_but_not_401() {
    let fake = FakeProvider::start().await.unwrap();
    fake.push(FakeReply::error(429));
    fake.push(FakeReply::error(500));
    let drained = drain(
        openai(&fake, Some("k"))
            .stream(request(MODEL))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(drained.text(), "Hello there!");
    assert_eq!(fake.request_count(), 3);

    fake.push(FakeReply::error(401));
    let err = openai(&fake, Some("bad"))
        .complete(request(MODEL))
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::Unauthorized), "{err:?}");
    assert_eq!(fake.request_count(), 4);
}

#[tokio::test]
async fn cut_and_stall_after_output() {
    let fake = FakeProvider::start().await.unwrap();
    fake.push(FakeReply::success().cut_after(2));
    let drained = drain(
        openai(&fake, Some("k"))
            .stream(request(MODEL))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(drained.text(), "Hello there");
    assert!(
        matches!(drained.error(), ProviderError::StreamInterrupted),
        "{drained:?}"
    );

    fake.push(FakeReply::success().stall_after(1));
    let provider = OpenAiProvider::openai(
        fake.http_config(Some("k")),
        fast_retry(),
        TimeoutConfig {
            idle: Duration::from_millis(200),
            ..timeouts()
        },
    )
    .unwrap();
    let drained = drain(provider.stream(request(MODEL)).await.unwrap()).await;
    assert_eq!(drained.text(), "Hello");
    assert!(
        matches!(drained.error(), ProviderError::Timeout(TimeoutPhase::Idle)),
        "{drained:?}"
    );
    assert_eq!(fake.request_count(), 2);
}

#[tokio::test]
async fn a_non_streamed_reply_cut_halfway_is_interrupted() {
    let fake = FakeProvider::start().await.unwrap();
    fake.push(FakeReply::success().cut_after(0));
    let err = openai(&fake, Some("k"))
        .complete(request(MODEL))
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::StreamInterrupted), "{err:?}");
}

#[tokio::test]
async fn structured_output_asks_for_a_json_schema_response() {
    let fake = FakeProvider::start().await.unwrap();
    let provider = openai(&fake, Some("sk-server"));
    let answer = serde_json::json!({"summary": "ok"});
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
    let body = fake.last_request().unwrap().body;
    assert_eq!(body["response_format"]["type"], "json_schema");
    assert_eq!(
        body["response_format"]["json_schema"]["name"],
        "text_analysis"
    );
    assert_eq!(body["response_format"]["json_schema"]["schema"], schema);
    assert_eq!(body["response_format"]["json_schema"]["strict"], true);
}
