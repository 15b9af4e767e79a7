#![doc = include_str!("../README.md")]

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
pub mod structured;
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
    ChatMessage, Completion, CompletionRequest, CompletionStream, JsonOutput, Role, StreamEvent,
    Usage,
};
