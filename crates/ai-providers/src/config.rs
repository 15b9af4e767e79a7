//! Plain configuration structs. The gateway fills them from its environment; this crate reads
//! no environment variables. Every struct has a working `Default`, and keys never appear in
//! `Debug` output.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::catalogue::{ModelInfo, UnknownPricePolicy};

/// The official Anthropic API.
pub const ANTHROPIC_BASE_URL: &str = "https://api.anthropic.com";
/// The official OpenAI API.
pub const OPENAI_BASE_URL: &str = "https://api.openai.com";

/// Where an HTTP provider lives and the server's key for it.
///
/// `base_url` is the part before `/v1/...`; a trailing `/v1` is tolerated (so the usual
/// `OPENAI_BASE_URL` values such as `http://localhost:11434/v1` work as they are).
#[derive(Clone, PartialEq, Eq)]
pub struct HttpProviderConfig {
    pub base_url: String,
    /// The server's key; `None` means only callers' own keys can be used.
    pub api_key: Option<String>,
}

impl HttpProviderConfig {
    pub fn anthropic(api_key: Option<String>) -> Self {
        Self {
            base_url: ANTHROPIC_BASE_URL.to_owned(),
            api_key,
        }
    }

    pub fn openai(api_key: Option<String>) -> Self {
        Self {
            base_url: OPENAI_BASE_URL.to_owned(),
            api_key,
        }
    }
}

impl fmt::Debug for HttpProviderConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpProviderConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// An OpenAI-compatible server (Ollama, vLLM, llama.cpp, OpenRouter...) under its own id.
///
/// Unlike the official providers, a compatible server without a key is called without an
/// `Authorization` header (local servers need none). Its models are added to the catalogue with
/// `provider` set to `id`; leave their prices `None` unless they are known (`Some(0)` for a
/// self-hosted model that really costs nothing per token).
#[derive(Debug, Clone, PartialEq)]
pub struct OpenAiCompatibleConfig {
    pub id: String,
    pub http: HttpProviderConfig,
    pub models: Vec<ModelInfo>,
}

/// The offline `local` provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalConfig {
    /// Pause before each streamed word, so the demo looks like typing. Zero in tests.
    pub word_delay: Duration,
}

impl Default for LocalConfig {
    fn default() -> Self {
        Self {
            word_delay: Duration::from_millis(40),
        }
    }
}

/// Retries of failed calls (429, 5xx, 529, connection errors) before any output was produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryConfig {
    /// Attempts in total, the first included; 1 disables retries.
    pub max_attempts: u32,
    /// The first backoff; each further one doubles, with jitter.
    pub base_delay: Duration,
    /// The longest wait between attempts. A `retry-after` longer than this is not waited for:
    /// the error is returned at once with its `retry_after`.
    pub max_delay: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(20),
        }
    }
}

/// Deadlines for HTTP calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeoutConfig {
    /// Opening the connection (TCP and TLS).
    pub connect: Duration,
    /// From sending the request to the response headers and the first body bytes. A
    /// non-streamed completion only answers once generated, so this bounds its generation time.
    pub first_byte: Duration,
    /// The longest silence between two body chunks once the body started (Anthropic pings and
    /// SSE comment lines count as activity).
    pub idle: Duration,
}

impl Default for TimeoutConfig {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(10),
            first_byte: Duration::from_secs(120),
            idle: Duration::from_secs(60),
        }
    }
}

/// Everything [`crate::Providers::from_config`] needs.
#[derive(Debug, Clone, Default)]
pub struct ProvidersConfig {
    /// `None` registers Anthropic at its official URL with no server key, so callers' own keys
    /// still work.
    pub anthropic: Option<HttpProviderConfig>,
    /// `None` registers OpenAI at its official URL with no server key.
    pub openai: Option<HttpProviderConfig>,
    pub openai_compatible: Vec<OpenAiCompatibleConfig>,
    pub local: LocalConfig,
    pub retry: RetryConfig,
    pub timeouts: TimeoutConfig,
    /// A models file replacing the embedded `models.json` (same schema).
    pub catalogue_path: Option<PathBuf>,
    pub unknown_price: UnknownPricePolicy,
    /// Overrides [`crate::Providers::default_model`]'s choice; must be in the catalogue.
    pub default_model: Option<String>,
}
