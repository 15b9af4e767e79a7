//! AI providers for Colloquy: the [`Provider`] trait, Anthropic Messages, OpenAI Chat
//! Completions (and any OpenAI-compatible server), the offline `local-echo` model, the model
//! catalogue with prices, and prompt fitting.
//!
//! Conventions:
//! - Providers are held as `Arc<dyn Provider>` in [`Providers`], built from plain config structs
//!   ([`ProvidersConfig`]); this crate reads no environment variables.
//! - Streaming: [`Provider::stream`] resolves at the first output, after retrying what failed
//!   before it (429, 5xx, 529, connection errors; `retry-after` honoured). Once output started,
//!   errors are yielded inside the stream and never retried; the caller keeps what it got.
//!   Dropping the stream cancels the call.
//! - Errors: [`ProviderError`] with a stable [`ProviderError::reason`] code; set-up errors are
//!   [`ConfigError`].
//! - Money: integer micro-dollars; an unknown price is `None`, never zero.
//! - The `testing` feature adds [`testing::FakeProvider`], a local server speaking both wire
//!   formats from the recorded fixtures in `fixtures/`.

mod anthropic;
mod catalogue;
mod config;
mod error;
mod fitting;
mod http;
mod local;
mod openai;
mod provider;
mod registry;
pub mod sse;
#[cfg(feature = "testing")]
pub mod testing;
pub mod title;
mod types;

pub use anthropic::{ANTHROPIC_PROVIDER_ID, ANTHROPIC_VERSION, AnthropicProvider};
pub use catalogue::{Catalogue, ModelInfo, UnknownPricePolicy};
pub use config::{
    ANTHROPIC_BASE_URL, HttpProviderConfig, LocalConfig, OPENAI_BASE_URL, OpenAiCompatibleConfig,
    ProvidersConfig, RetryConfig, TimeoutConfig,
};
pub use error::{ConfigError, ProviderError, TimeoutPhase};
pub use fitting::{estimate_prompt_tokens, estimate_tokens, fit_to_context};
pub use local::{LOCAL_MODEL, LOCAL_PROVIDER_ID, LOCAL_REPLY_PREFIX, LocalProvider};
pub use openai::{OPENAI_PROVIDER_ID, OpenAiProvider};
pub use provider::Provider;
pub use registry::{DEFAULT_ANTHROPIC_MODEL, DEFAULT_OPENAI_MODEL, Providers};
pub use types::{
    ChatMessage, Completion, CompletionRequest, CompletionStream, Role, StreamEvent, Usage,
};
