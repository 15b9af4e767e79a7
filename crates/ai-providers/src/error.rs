//! The crate's two error types: [`ProviderError`] for calls, [`ConfigError`] for set-up.
//!
//! Conventions: every `ProviderError` has a stable snake_case [`ProviderError::reason`] that the
//! gateway exposes as `extensions.reason`; the `Display` text is for logs. Only `BadRequest`
//! carries provider-written text (the provider's explanation of what it refused), and it is
//! the only variant whose text is meant to be shown to a user.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Which deadline ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeoutPhase {
    /// Opening the TCP/TLS connection.
    Connect,
    /// From sending the request to the response headers and the first body bytes.
    FirstByte,
    /// The longest silence allowed between two pieces of a response body.
    Idle,
}

impl fmt::Display for TimeoutPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimeoutPhase::Connect => "connect",
            TimeoutPhase::FirstByte => "first byte",
            TimeoutPhase::Idle => "idle",
        })
    }
}

/// Why a provider call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProviderError {
    /// The key was missing, wrong or lacks permission (HTTP 401/403).
    #[error("the provider rejected the API key")]
    Unauthorized,
    /// HTTP 429, or a rate-limit error inside a stream.
    #[error("the provider rate-limited the request")]
    RateLimited { retry_after: Option<Duration> },
    /// Anthropic's 529 / `overloaded_error`.
    #[error("the provider is overloaded")]
    Overloaded,
    /// The provider refused the request (HTTP 400/413/422); holds the provider's explanation.
    #[error("the provider refused the request: {0}")]
    BadRequest(String),
    #[error("the provider did not answer in time ({0} timeout)")]
    Timeout(TimeoutPhase),
    /// The response body ended or broke before the reply was complete.
    #[error("the provider's stream was interrupted")]
    StreamInterrupted,
    /// Any other non-success status; also an in-stream `api_error`/`server_error` (status 500).
    #[error("the provider answered with HTTP status {status}")]
    Upstream { status: u16 },
    /// Neither the request nor the provider's configuration has a key.
    #[error("no API key is configured for this provider")]
    NoApiKey,
    /// The model is not in the catalogue, its provider is not configured, or the provider
    /// answered 404 for it.
    #[error("unknown model `{0}`")]
    UnknownModel(String),
    /// The model has no known price and the policy is [`crate::UnknownPricePolicy::Refuse`].
    #[error("model `{0}` has no known price")]
    UnpricedModel(String),
    /// The request never got an HTTP answer (DNS, refused or reset connection, TLS...).
    #[error("could not reach the provider")]
    Transport(#[source] Arc<reqwest::Error>),
    /// The provider answered something this crate cannot read; the text says what (for logs).
    #[error("the provider sent an unreadable response: {0}")]
    InvalidResponse(String),
}

impl ProviderError {
    /// A stable snake_case code for clients and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            ProviderError::Unauthorized => "unauthorized",
            ProviderError::RateLimited { .. } => "rate_limited",
            ProviderError::Overloaded => "overloaded",
            ProviderError::BadRequest(_) => "bad_request",
            ProviderError::Timeout(TimeoutPhase::Connect) => "connect_timeout",
            ProviderError::Timeout(TimeoutPhase::FirstByte) => "first_byte_timeout",
            ProviderError::Timeout(TimeoutPhase::Idle) => "idle_timeout",
            ProviderError::StreamInterrupted => "stream_interrupted",
            ProviderError::Upstream { .. } => "upstream_error",
            ProviderError::NoApiKey => "no_api_key",
            ProviderError::UnknownModel(_) => "unknown_model",
            ProviderError::UnpricedModel(_) => "unpriced_model",
            ProviderError::Transport(_) => "transport_error",
            ProviderError::InvalidResponse(_) => "invalid_response",
        }
    }

    /// Whether trying the same request again may succeed. Retries happen only before any output
    /// was produced. Timeouts are not retried: each one already cost a full deadline.
    pub fn is_retryable(&self) -> bool {
        match self {
            ProviderError::RateLimited { .. }
            | ProviderError::Overloaded
            | ProviderError::Transport(_) => true,
            ProviderError::Upstream { status } => *status >= 500,
            ProviderError::Unauthorized
            | ProviderError::BadRequest(_)
            | ProviderError::Timeout(_)
            | ProviderError::StreamInterrupted
            | ProviderError::NoApiKey
            | ProviderError::UnknownModel(_)
            | ProviderError::UnpricedModel(_)
            | ProviderError::InvalidResponse(_) => false,
        }
    }
}

/// Why the providers could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("provider `{id}`: invalid base URL `{url}`")]
    InvalidBaseUrl { id: String, url: String },
    #[error("provider id `{0}` is used twice")]
    DuplicateProvider(String),
    #[error("provider id must not be empty")]
    EmptyProviderId,
    #[error("could not build the HTTP client")]
    HttpClient(#[source] reqwest::Error),
    #[error("could not read the model catalogue {path}")]
    CatalogueRead {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the model catalogue is not valid JSON for its schema")]
    CatalogueParse(#[source] serde_json::Error),
    #[error("the model catalogue names `{0}` twice")]
    DuplicateModel(String),
    #[error("default model `{0}` is not in the catalogue")]
    UnknownDefaultModel(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_distinct_snake_case() {
        let all = [
            ProviderError::Unauthorized,
            ProviderError::RateLimited { retry_after: None },
            ProviderError::Overloaded,
            ProviderError::BadRequest("x".into()),
            ProviderError::Timeout(TimeoutPhase::Connect),
            ProviderError::Timeout(TimeoutPhase::FirstByte),
            ProviderError::Timeout(TimeoutPhase::Idle),
            ProviderError::StreamInterrupted,
            ProviderError::Upstream { status: 502 },
            ProviderError::NoApiKey,
            ProviderError::UnknownModel("m".into()),
            ProviderError::UnpricedModel("m".into()),
            ProviderError::InvalidResponse("x".into()),
        ];
        let mut seen = std::collections::HashSet::new();
        for e in &all {
            let r = e.reason();
            assert!(r.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{r}");
            assert!(seen.insert(r), "duplicate reason {r}");
        }
    }

    #[test]
    fn retryable_statuses() {
        assert!(ProviderError::RateLimited { retry_after: None }.is_retryable());
        assert!(ProviderError::Overloaded.is_retryable());
        assert!(ProviderError::Upstream { status: 500 }.is_retryable());
        assert!(ProviderError::Upstream { status: 503 }.is_retryable());
        assert!(!ProviderError::Upstream { status: 418 }.is_retryable());
        assert!(!ProviderError::Unauthorized.is_retryable());
        assert!(!ProviderError::StreamInterrupted.is_retryable());
        assert!(!ProviderError::Timeout(TimeoutPhase::Idle).is_retryable());
    }
}
