//! The provider-neutral request, reply and stream types.
//!
//! Conventions: token counts are `u32`; a request carries the conversation as plain text turns
//! (the system prompt apart, as Anthropic wants it); `api_key` is never printed by `Debug`.

use std::fmt;
use std::pin::Pin;

use futures::Stream;

use crate::error::ProviderError;

/// Who said a turn. System text travels in [`CompletionRequest::system`], not as a turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    User,
    Assistant,
}

impl Role {
    /// The role's name on both wire formats.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

/// One turn of the conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
}

impl ChatMessage {
    pub fn user(content: impl Into<String>) -> Self {
        Self {
            role: Role::User,
            content: content.into(),
        }
    }

    pub fn assistant(content: impl Into<String>) -> Self {
        Self {
            role: Role::Assistant,
            content: content.into(),
        }
    }
}

/// What to ask a provider for.
#[derive(Clone, PartialEq)]
pub struct CompletionRequest {
    pub model: String,
    pub system: Option<String>,
    pub messages: Vec<ChatMessage>,
    pub max_tokens: u32,
    pub temperature: Option<f32>,
    /// The caller's own key for this provider; when `None` the provider's configured key is used.
    pub api_key: Option<String>,
    /// Ask for one JSON value matching a schema instead of prose (structured output): Anthropic
    /// gets a single tool it must use, OpenAI `response_format: json_schema`. The reply's
    /// [`Completion::text`] is then the JSON text. Non-streaming only.
    pub json: Option<JsonOutput>,
}

/// A request for structured output: a JSON value valid against `schema`, named `name` (letters,
/// digits, `_` and `-`, as both APIs want).
#[derive(Debug, Clone, PartialEq)]
pub struct JsonOutput {
    pub name: String,
    pub description: String,
    pub schema: serde_json::Value,
}

impl CompletionRequest {
    /// A request with no system prompt, no temperature and no per-request key.
    pub fn new(model: impl Into<String>, messages: Vec<ChatMessage>, max_tokens: u32) -> Self {
        Self {
            model: model.into(),
            system: None,
            messages,
            max_tokens,
            temperature: None,
            api_key: None,
            json: None,
        }
    }
}

// Keys must not reach logs, so `Debug` is written by hand.
impl fmt::Debug for CompletionRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompletionRequest")
            .field("model", &self.model)
            .field("system", &self.system)
            .field("messages", &self.messages)
            .field("max_tokens", &self.max_tokens)
            .field("temperature", &self.temperature)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("json", &self.json.as_ref().map(|j| &j.name))
            .finish()
    }
}

/// Tokens billed for one call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Usage {
    pub input_tokens: u32,
    pub output_tokens: u32,
}

/// A whole (non-streamed) reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    pub text: String,
    pub usage: Usage,
    /// The provider's own word for why it stopped (`end_turn`, `stop`, `max_tokens`, `length`...).
    pub stop_reason: Option<String>,
}

/// One item of a streamed reply. `Finished` is always the last item of a successful stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamEvent {
    Delta(String),
    Finished {
        usage: Usage,
        stop_reason: Option<String>,
    },
}

/// A streamed reply. Dropping it cancels the call (the HTTP body is dropped with it). An `Err`
/// after some `Delta`s means the reply failed mid-way: what was received so far stays valid.
pub type CompletionStream = Pin<Box<dyn Stream<Item = Result<StreamEvent, ProviderError>> + Send>>;
