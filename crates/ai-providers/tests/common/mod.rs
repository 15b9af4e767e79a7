//! Helpers shared by the integration tests: fast retry and timeout settings, providers pointed
//! at the fake, and draining a stream into its text and its end.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use ai_providers::testing::FakeProvider;
use ai_providers::{
    AnthropicProvider, ChatMessage, CompletionRequest, CompletionStream, OpenAiProvider,
    ProviderError, RetryConfig, StreamEvent, TimeoutConfig, Usage,
};
use futures::StreamExt;

pub fn fast_retry() -> RetryConfig {
    RetryConfig {
        max_attempts: 3,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_secs(5),
    }
}

pub fn timeouts() -> TimeoutConfig {
    TimeoutConfig {
        connect: Duration::from_secs(2),
        first_byte: Duration::from_secs(5),
        idle: Duration::from_secs(5),
    }
}

pub fn anthropic(fake: &FakeProvider, key: Option<&str>) -> AnthropicProvider {
    AnthropicProvider::new(fake.http_config(key), fast_retry(), timeouts()).unwrap()
}

pub fn openai(fake: &FakeProvider, key: Option<&str>) -> OpenAiProvider {
    OpenAiProvider::openai(fake.http_config(key), fast_retry(), timeouts()).unwrap()
}

pub fn request(model: &str) -> CompletionRequest {
    CompletionRequest {
        system: Some("You are terse.".into()),
        temperature: Some(0.5),
        ..CompletionRequest::new(
            model,
            vec![
                ChatMessage::user("Hi"),
                ChatMessage::assistant("Hello."),
                ChatMessage::user("Say hello there"),
            ],
            256,
        )
    }
}

/// What a drained stream produced.
#[derive(Debug)]
pub struct Drained {
    pub deltas: Vec<String>,
    pub end: Result<(Usage, Option<String>), ProviderError>,
}

impl Drained {
    pub fn text(&self) -> String {
        self.deltas.concat()
    }

    pub fn usage(&self) -> Usage {
        self.end.as_ref().expect("the stream finished").0
    }

    pub fn error(&self) -> &ProviderError {
        self.end.as_ref().expect_err("the stream failed")
    }
}

/// Reads the stream to its end and checks nothing follows `Finished` or an error.
pub async fn drain(mut stream: CompletionStream) -> Drained {
    let mut deltas = Vec::new();
    let end = loop {
        match stream.next().await {
            Some(Ok(StreamEvent::Delta(d))) => deltas.push(d),
            Some(Ok(StreamEvent::Finished { usage, stop_reason })) => {
                break Ok((usage, stop_reason));
            }
            Some(Err(e)) => break Err(e),
            None => panic!("the stream ended without Finished or an error"),
        }
    };
    assert!(stream.next().await.is_none(), "items after the end");
    Drained { deltas, end }
}

/// Waits (up to 5 s) until the fake has no response body left open.
pub async fn wait_until_closed(fake: &FakeProvider) {
    for _ in 0..500 {
        if fake.open_responses() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the fake still sends {} response(s)", fake.open_responses());
}
