//! HTTP plumbing shared by the wire-format providers: deadlines, mapping error statuses,
//! retries with backoff, and turning an SSE body into [`StreamEvent`]s.
//!
//! Conventions: an attempt fails with a [`Failure`], which carries the provider's advice
//! (`retry-after-ms` / `retry-after`, Anthropic's `x-should-retry`) next to the error. Retries
//! happen only before the first output: a streamed attempt counts as started once its
//! [`Decoder`] produced a first [`StreamEvent`], and from then on errors are yielded, not retried.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use rand::Rng;
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Response, StatusCode};
use serde::Deserialize;
use tokio::time::Instant;

use crate::config::{RetryConfig, TimeoutConfig};
use crate::error::{ConfigError, ProviderError, TimeoutPhase};
use crate::sse::{SseEvent, SseParser};
use crate::types::{CompletionStream, StreamEvent};

/// Error bodies are small; anything longer is cut before parsing.
const MAX_ERROR_BODY: usize = 64 * 1024;
/// A non-streamed reply larger than this is refused rather than buffered.
const MAX_RESPONSE_BODY: usize = 16 * 1024 * 1024;
/// Provider error text kept in [`ProviderError::BadRequest`].
const MAX_ERROR_MESSAGE: usize = 500;

/// Turns the SSE events of one wire format into stream events.
pub(crate) trait Decoder: Send + 'static {
    /// One event in; at most one stream event out. `Finished` ends the stream.
    fn event(&mut self, event: SseEvent) -> Result<Option<StreamEvent>, ProviderError>;
    /// The body ended without a `Finished`: either finish leniently or report the interruption.
    fn end(&mut self) -> Result<StreamEvent, ProviderError>;
}

/// One HTTP call, repeatable for retries.
pub(crate) struct Call<'a> {
    pub url: &'a str,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// Named in `UnknownModel` when the provider answers 404.
    pub model: &'a str,
}

/// A failed attempt and the provider's advice about retrying it.
#[derive(Debug)]
pub(crate) struct Failure {
    error: ProviderError,
    retry_after: Option<Duration>,
    should_retry: Option<bool>,
}

impl From<ProviderError> for Failure {
    fn from(error: ProviderError) -> Self {
        Self {
            error,
            retry_after: None,
            should_retry: None,
        }
    }
}

/// The reqwest client with the retry and timeout settings.
pub(crate) struct HttpCore {
    client: reqwest::Client,
    retry: RetryConfig,
    timeouts: TimeoutConfig,
}

impl HttpCore {
    pub fn new(retry: RetryConfig, timeouts: TimeoutConfig) -> Result<Self, ConfigError> {
        let client = reqwest::Client::builder()
            .connect_timeout(timeouts.connect)
            .build()
            .map_err(ConfigError::HttpClient)?;
        Ok(Self {
            client,
            retry,
            timeouts,
        })
    }

    /// POSTs `call` and returns the parsed JSON of a successful answer.
    pub async fn post_json<T>(&self, call: &Call<'_>) -> Result<T, ProviderError>
    where
        T: for<'de> Deserialize<'de>,
    {
        let body = self
            .with_retries(|| async move {
                let (response, deadline) = self.send(call).await?;
                let mut body = BodyReader::new(response, deadline, self.timeouts.idle);
                let mut bytes = Vec::new();
                while let Some(chunk) = body.next_chunk().await? {
                    if bytes.len() + chunk.len() > MAX_RESPONSE_BODY {
                        return Err(invalid("the response body is too large").into());
                    }
                    bytes.extend_from_slice(&chunk);
                }
                Ok(bytes)
            })
            .await?;
        serde_json::from_slice(&body).map_err(|e| invalid(format!("unexpected JSON: {e}")))
    }

    /// POSTs `call` and streams its SSE body through a fresh decoder per attempt. Resolves at
    /// the first stream event, so everything before it is covered by retries.
    pub async fn post_stream<D, F>(
        &self,
        call: &Call<'_>,
        new_decoder: F,
    ) -> Result<CompletionStream, ProviderError>
    where
        D: Decoder,
        F: Fn() -> D,
    {
        let new_decoder = &new_decoder;
        self.with_retries(|| async move {
            let (response, deadline) = self.send(call).await?;
            let mut events = EventReader::new(response, deadline, self.timeouts.idle);
            let mut decoder = new_decoder();
            loop {
                match events.next_event().await? {
                    None => {
                        let last = decoder.end()?;
                        let stream: CompletionStream = Box::pin(futures::stream::iter([Ok(last)]));
                        return Ok(stream);
                    }
                    Some(event) => {
                        if let Some(first) = decoder.event(event)? {
                            return Ok(follow(first, events, decoder));
                        }
                    }
                }
            }
        })
        .await
    }

    async fn with_retries<T, F, Fut>(&self, mut attempt: F) -> Result<T, ProviderError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let mut number = 1;
        loop {
            let failure = match attempt().await {
                Ok(value) => return Ok(value),
                Err(failure) => failure,
            };
            let retryable = failure
                .should_retry
                .unwrap_or_else(|| failure.error.is_retryable());
            if !retryable || number >= self.retry.max_attempts {
                return Err(failure.error);
            }
            let delay = match failure.retry_after {
                Some(wait) if wait > self.retry.max_delay => return Err(failure.error),
                Some(wait) => wait,
                None => backoff(&self.retry, number),
            };
            tracing::warn!(
                attempt = number,
                reason = failure.error.reason(),
                delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                "provider call failed before any output; retrying"
            );
            tokio::time::sleep(delay).await;
            number += 1;
        }
    }

    /// Sends the request; a non-success status becomes a `Failure` with the provider's advice.
    async fn send(&self, call: &Call<'_>) -> Result<(Response, Instant), Failure> {
        let deadline = Instant::now() + self.timeouts.first_byte;
        let request = self
            .client
            .post(call.url)
            .headers(call.headers.clone())
            .body(call.body.clone())
            .send();
        let response = match tokio::time::timeout_at(deadline, request).await {
            Err(_) => return Err(ProviderError::Timeout(TimeoutPhase::FirstByte).into()),
            Ok(Err(e)) => return Err(request_error(e).into()),
            Ok(Ok(response)) => response,
        };
        let status = response.status();
        if status.is_success() {
            return Ok((response, deadline));
        }
        let retry_after = retry_after(response.headers());
        let should_retry = response
            .headers()
            .get("x-should-retry")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| match v {
                "true" => Some(true),
                "false" => Some(false),
                _ => None,
            });
        let mut body = BodyReader::new(response, deadline, self.timeouts.idle);
        let mut bytes = Vec::new();
        // The status decides; a body we cannot read only loses the provider's explanation.
        while let Ok(Some(chunk)) = body.next_chunk().await {
            bytes.extend_from_slice(&chunk);
            if bytes.len() >= MAX_ERROR_BODY {
                break;
            }
        }
        let detail: Option<ErrorBody> = serde_json::from_slice(&bytes).ok();
        let detail = detail.and_then(|b| b.error).unwrap_or_default();
        let error = status_error(status, &detail, call.model, retry_after);
        tracing::debug!(status = status.as_u16(), kind = ?detail.kind, "provider answered an error status");
        Err(Failure {
            error,
            retry_after,
            should_retry,
        })
    }
}

/// The stream after its first event: the rest of the events, then the end.
fn follow<D: Decoder>(
    first: StreamEvent,
    mut events: EventReader,
    mut decoder: D,
) -> CompletionStream {
    Box::pin(async_stream::stream! {
        let done = matches!(first, StreamEvent::Finished { .. });
        yield Ok(first);
        if done {
            return;
        }
        loop {
            match events.next_event().await {
                Err(e) => {
                    yield Err(e);
                    return;
                }
                Ok(None) => {
                    yield decoder.end();
                    return;
                }
                Ok(Some(event)) => match decoder.event(event) {
                    Err(e) => {
                        yield Err(e);
                        return;
                    }
                    Ok(None) => {}
                    Ok(Some(item)) => {
                        let done = matches!(item, StreamEvent::Finished { .. });
                        yield Ok(item);
                        if done {
                            return;
                        }
                    }
                },
            }
        }
    })
}

/// Exponential backoff with "equal jitter": a random wait between half and all of
/// `base × 2^(attempt-1)`, capped at `max_delay`, so that clients retrying together spread out.
fn backoff(retry: &RetryConfig, attempt: u32) -> Duration {
    let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
    let full = retry.base_delay.saturating_mul(factor).min(retry.max_delay);
    let half = full / 2;
    let jitter_nanos = u64::try_from((full - half).as_nanos()).unwrap_or(u64::MAX);
    half + Duration::from_nanos(rand::rng().random_range(0..=jitter_nanos))
}

/// `retry-after-ms` (OpenAI) or `retry-after` in seconds; an HTTP-date is ignored.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let number = |name: &str| -> Option<f64> {
        let value: f64 = headers.get(name)?.to_str().ok()?.trim().parse().ok()?;
        (value.is_finite() && value >= 0.0).then_some(value)
    };
    if let Some(ms) = number("retry-after-ms") {
        return Some(Duration::from_secs_f64(ms / 1000.0));
    }
    number("retry-after").map(Duration::from_secs_f64)
}

/// Both wire formats wrap errors as `{"error": {"type", "message", "code"...}}`.
#[derive(Debug, Deserialize)]
struct ErrorBody {
    error: Option<ErrorDetail>,
}

/// The `error` object of either format; every field optional because compatible servers vary.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ErrorDetail {
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    /// OpenAI's `code`: a string, or an HTTP status number on some compatible servers.
    #[serde(default)]
    pub code: Option<serde_json::Value>,
}

impl ErrorDetail {
    /// The provider's explanation, shortened, for `BadRequest`.
    pub fn message_or(&self, fallback: &str) -> String {
        let text = self.message.as_deref().unwrap_or(fallback);
        text.chars().take(MAX_ERROR_MESSAGE).collect()
    }
}

/// Maps an error status (with its body) to a `ProviderError`.
pub(crate) fn status_error(
    status: StatusCode,
    detail: &ErrorDetail,
    model: &str,
    retry_after: Option<Duration>,
) -> ProviderError {
    if detail.kind.as_deref() == Some("overloaded_error") {
        return ProviderError::Overloaded;
    }
    match status.as_u16() {
        401 | 403 => ProviderError::Unauthorized,
        429 => ProviderError::RateLimited { retry_after },
        529 => ProviderError::Overloaded,
        404 => ProviderError::UnknownModel(model.to_owned()),
        400 | 413 | 422 => ProviderError::BadRequest(detail.message_or("the request was refused")),
        status => ProviderError::Upstream { status },
    }
}

fn request_error(error: reqwest::Error) -> ProviderError {
    if error.is_timeout() {
        let phase = if error.is_connect() {
            TimeoutPhase::Connect
        } else {
            TimeoutPhase::FirstByte
        };
        return ProviderError::Timeout(phase);
    }
    ProviderError::Transport(Arc::new(error))
}

pub(crate) fn invalid(detail: impl Into<String>) -> ProviderError {
    ProviderError::InvalidResponse(detail.into())
}

type ByteStream = Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>;

/// A response body read chunk by chunk under the first-byte deadline, then the idle timeout.
struct BodyReader {
    bytes: ByteStream,
    first_deadline: Option<Instant>,
    idle: Duration,
}

impl BodyReader {
    fn new(response: Response, first_deadline: Instant, idle: Duration) -> Self {
        Self {
            bytes: Box::pin(response.bytes_stream()),
            first_deadline: Some(first_deadline),
            idle,
        }
    }

    async fn next_chunk(&mut self) -> Result<Option<Bytes>, ProviderError> {
        let next = match self.first_deadline.take() {
            Some(deadline) => tokio::time::timeout_at(deadline, self.bytes.next())
                .await
                .map_err(|_| ProviderError::Timeout(TimeoutPhase::FirstByte))?,
            None => tokio::time::timeout(self.idle, self.bytes.next())
                .await
                .map_err(|_| ProviderError::Timeout(TimeoutPhase::Idle))?,
        };
        match next {
            None => Ok(None),
            Some(Ok(chunk)) => Ok(Some(chunk)),
            Some(Err(e)) => {
                tracing::debug!(error = %e, "provider response body broke off");
                Err(ProviderError::StreamInterrupted)
            }
        }
    }
}

/// A response body read as SSE events.
struct EventReader {
    body: BodyReader,
    parser: SseParser,
    pending: VecDeque<SseEvent>,
    ended: bool,
}

impl EventReader {
    fn new(response: Response, first_deadline: Instant, idle: Duration) -> Self {
        Self {
            body: BodyReader::new(response, first_deadline, idle),
            parser: SseParser::new(),
            pending: VecDeque::new(),
            ended: false,
        }
    }

    /// The next event; `None` once the body ended and every event was handed out.
    async fn next_event(&mut self) -> Result<Option<SseEvent>, ProviderError> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Ok(Some(event));
            }
            if self.ended {
                return Ok(None);
            }
            match self.body.next_chunk().await? {
                Some(chunk) => self.pending.extend(self.parser.push(&chunk)),
                None => {
                    self.ended = true;
                    self.pending.extend(self.parser.finish());
                }
            }
        }
    }
}

/// A header value holding a secret, kept out of debug output.
pub(crate) fn secret_header(value: &str) -> Result<HeaderValue, ProviderError> {
    let mut value = HeaderValue::from_str(value).map_err(|_| ProviderError::Unauthorized)?;
    value.set_sensitive(true);
    Ok(value)
}

/// `{base}/v1/{path}`, tolerating a base that already ends with `/v1`.
pub(crate) fn endpoint(base_url: &str, path: &str) -> String {
    let base = base_url.trim_end_matches('/');
    let base = base.strip_suffix("/v1").unwrap_or(base);
    format!("{base}/v1/{path}")
}

/// Checks a configured base URL.
pub(crate) fn check_base_url(id: &str, base_url: &str) -> Result<(), ConfigError> {
    let bad = || ConfigError::InvalidBaseUrl {
        id: id.to_owned(),
        url: base_url.to_owned(),
    };
    let url = reqwest::Url::parse(base_url).map_err(|_| bad())?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(bad());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_is_capped() {
        let retry = RetryConfig {
            max_attempts: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(350),
        };
        for _ in 0..50 {
            let first = backoff(&retry, 1);
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
            let second = backoff(&retry, 2);
            assert!(second >= Duration::from_millis(100) && second <= Duration::from_millis(200));
            let capped = backoff(&retry, 30);
            assert!(capped >= Duration::from_millis(175) && capped <= Duration::from_millis(350));
        }
    }

    #[test]
    fn retry_after_headers() {
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert("retry-after", HeaderValue::from_static("2"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert("retry-after-ms", HeaderValue::from_static("150.5"));
        assert_eq!(retry_after(&h), Some(Duration::from_micros(150_500)));
        let mut date = HeaderMap::new();
        date.insert(
            "retry-after",
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&date), None);
        date.insert("retry-after", HeaderValue::from_static("-1"));
        assert_eq!(retry_after(&date), None);
    }

    #[test]
    fn statuses_map_to_errors() {
        let none = ErrorDetail::default();
        let map = |code: u16| status_error(StatusCode::from_u16(code).unwrap(), &none, "m", None);
        assert!(matches!(map(401), ProviderError::Unauthorized));
        assert!(matches!(map(403), ProviderError::Unauthorized));
        assert!(matches!(
            map(429),
            ProviderError::RateLimited { retry_after: None }
        ));
        assert!(matches!(map(529), ProviderError::Overloaded));
        assert!(matches!(map(404), ProviderError::UnknownModel(m) if m == "m"));
        assert!(matches!(map(400), ProviderError::BadRequest(_)));
        assert!(matches!(map(502), ProviderError::Upstream { status: 502 }));
        let overloaded = ErrorDetail {
            kind: Some("overloaded_error".into()),
            ..ErrorDetail::default()
        };
        assert!(matches!(
            status_error(StatusCode::SERVICE_UNAVAILABLE, &overloaded, "m", None),
            ProviderError::Overloaded
        ));
        let long = ErrorDetail {
            message: Some("x".repeat(2000)),
            ..ErrorDetail::default()
        };
        let ProviderError::BadRequest(text) =
            status_error(StatusCode::BAD_REQUEST, &long, "m", None)
        else {
            panic!("not a bad request");
        };
        assert_eq!(text.len(), MAX_ERROR_MESSAGE);
    }

    #[test]
    fn endpoints_and_base_urls() {
        assert_eq!(
            endpoint("https://api.openai.com", "chat/completions"),
            "https://api.openai.com/v1/chat/completions"
        );
        assert_eq!(
            endpoint("http://localhost:11434/v1/", "chat/completions"),
            "http://localhost:11434/v1/chat/completions"
        );
        assert_eq!(
            endpoint("https://openrouter.ai/api/", "chat/completions"),
            "https://openrouter.ai/api/v1/chat/completions"
        );
        assert!(check_base_url("x", "http://127.0.0.1:8080").is_ok());
        assert!(check_base_url("x", "ftp://example.com").is_err());
        assert!(check_base_url("x", "not a url").is_err());
    }
}
