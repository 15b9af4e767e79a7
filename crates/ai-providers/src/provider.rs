//! The `Provider` trait: one AI backend, held as `Arc<dyn Provider>` so tests can swap in fakes.

use async_trait::async_trait;

use crate::error::ProviderError;
use crate::types::{Completion, CompletionRequest, CompletionStream};

/// An AI backend.
///
/// `stream` resolves once the provider produced its first output (or finished without any),
/// after retrying failures that happened before that point; so an `Err` from `stream` means
/// nothing was produced, and an `Err` item inside the stream means the reply failed after
/// output started and is never retried. Dropping the stream cancels the call.
#[async_trait]
pub trait Provider: Send + Sync {
    /// `"anthropic"`, `"openai"`, `"local"` or a configured OpenAI-compatible provider's id.
    fn id(&self) -> &str;

    /// The whole reply at once.
    async fn complete(&self, req: CompletionRequest) -> Result<Completion, ProviderError>;

    /// The reply as it is produced.
    async fn stream(&self, req: CompletionRequest) -> Result<CompletionStream, ProviderError>;
}
