//! The offline `local` provider and its one model, `local-echo`: what the server chats with
//! when no provider key is configured.
//!
//! It is deterministic and says plainly what it is: a reply is
//! `(local-echo: offline demo model, not a real AI) You said: <the newest user message>`,
//! streamed word by word (each delta is a word with the whitespace that follows it) with
//! [`LocalConfig::word_delay`] before each word. A title request (see [`crate::title`]) is
//! answered with the first words of the first user message. Token counts are estimates (about
//! four characters per token, at least 1 each way), and the reply stops at `max_tokens` with
//! stop reason `max_tokens`, else `end_turn`. A structured-output request (`json`) is answered,
//! whole, with a labelled sample valid against its schema ([`crate::structured::sample`]).

use async_trait::async_trait;

use crate::config::LocalConfig;
use crate::error::ProviderError;
use crate::fitting::{estimate_prompt_tokens, estimate_tokens};
use crate::provider::Provider;
use crate::title::{fallback_title, is_title_request};
use crate::types::{Completion, CompletionRequest, CompletionStream, Role, StreamEvent, Usage};

pub const LOCAL_PROVIDER_ID: &str = "local";
pub const LOCAL_MODEL: &str = "local-echo";
/// How every ordinary reply starts.
pub const LOCAL_REPLY_PREFIX: &str = "(local-echo: offline demo model, not a real AI)";

/// The offline demo provider.
#[derive(Debug, Clone, Default)]
pub struct LocalProvider {
    config: LocalConfig,
}

impl LocalProvider {
    pub fn new(config: LocalConfig) -> Self {
        Self { config }
    }

    /// The reply cut into stream deltas, and the stop reason.
    fn reply(&self, req: &CompletionRequest) -> Result<(Vec<String>, &'static str), ProviderError> {
        if req.model != LOCAL_MODEL {
            return Err(ProviderError::UnknownModel(req.model.clone()));
        }
        let text = if is_title_request(req) {
            let first = req.messages.iter().find(|m| m.role == Role::User);
            fallback_title(first.map_or("", |m| m.content.as_str()))
        } else {
            let newest = req.messages.iter().rev().find(|m| m.role == Role::User);
            match newest.map(|m| m.content.trim()).filter(|t| !t.is_empty()) {
                Some(said) => format!("{LOCAL_REPLY_PREFIX} You said: {said}"),
                None => format!("{LOCAL_REPLY_PREFIX} You sent an empty message."),
            }
        };
        let mut words = Vec::new();
        let mut length = String::new();
        for word in text.split_inclusive(char::is_whitespace) {
            length.push_str(word);
            if estimate_tokens(&length) > req.max_tokens {
                return Ok((words, "max_tokens"));
            }
            words.push(word.to_owned());
        }
        Ok((words, "end_turn"))
    }

    fn usage(req: &CompletionRequest, output: &str) -> Usage {
        Usage {
            input_tokens: estimate_prompt_tokens(req.system.as_deref(), &req.messages).max(1),
            output_tokens: estimate_tokens(output).max(1),
        }
    }
}

#[async_trait]
impl Provider for LocalProvider {
    fn id(&self) -> &str {
        LOCAL_PROVIDER_ID
    }

    async fn complete(&self, req: CompletionRequest) -> Result<Completion, ProviderError> {
        if let Some(json) = &req.json {
            // Structured output: a labelled sample valid against the schema, whole.
            if req.model != LOCAL_MODEL {
                return Err(ProviderError::UnknownModel(req.model.clone()));
            }
            let text = crate::structured::sample(&json.schema).to_string();
            return Ok(Completion {
                usage: Self::usage(&req, &text),
                text,
                stop_reason: Some("end_turn".to_owned()),
            });
        }
        let (words, stop_reason) = self.reply(&req)?;
        let text = words.concat();
        Ok(Completion {
            usage: Self::usage(&req, &text),
            text,
            stop_reason: Some(stop_reason.to_owned()),
        })
    }

    async fn stream(&self, req: CompletionRequest) -> Result<CompletionStream, ProviderError> {
        let (words, stop_reason) = self.reply(&req)?;
        let usage = Self::usage(&req, &words.concat());
        let delay = self.config.word_delay;
        Ok(Box::pin(async_stream::stream! {
            for word in words {
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                yield Ok(StreamEvent::Delta(word));
            }
            yield Ok(StreamEvent::Finished {
                usage,
                stop_reason: Some(stop_reason.to_owned()),
            });
        }))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use futures::StreamExt;

    use super::*;
    use crate::title::title_request;
    use crate::types::ChatMessage;

    fn instant() -> LocalProvider {
        LocalProvider::new(LocalConfig {
            word_delay: Duration::ZERO,
        })
    }

    fn request(text: &str) -> CompletionRequest {
        CompletionRequest::new(
            LOCAL_MODEL,
            vec![
                ChatMessage::user("earlier"),
                ChatMessage::assistant("reply"),
                ChatMessage::user(text),
            ],
            1024,
        )
    }

    async fn collect(stream: CompletionStream) -> Vec<StreamEvent> {
        stream.map(|e| e.unwrap()).collect().await
    }

    #[tokio::test]
    async fn streams_word_by_word_and_matches_complete() {
        let provider = instant();
        let events = collect(provider.stream(request("Hello there!")).await.unwrap()).await;
        let (last, deltas) = events.split_last().unwrap();
        let deltas: Vec<&str> = deltas
            .iter()
            .map(|e| match e {
                StreamEvent::Delta(d) => d.as_str(),
                StreamEvent::Finished { .. } => panic!("finished twice"),
            })
            .collect();
        assert_eq!(deltas[..3], ["(local-echo: ", "offline ", "demo "]);
        assert_eq!(deltas[deltas.len() - 2..], ["Hello ", "there!"]);
        let text = deltas.concat();
        assert_eq!(
            text,
            "(local-echo: offline demo model, not a real AI) You said: Hello there!"
        );
        let completion = provider.complete(request("Hello there!")).await.unwrap();
        assert_eq!(completion.text, text);
        let StreamEvent::Finished { usage, stop_reason } = last else {
            panic!("no Finished");
        };
        assert_eq!(*usage, completion.usage);
        assert_eq!(usage.output_tokens, estimate_tokens(&text));
        assert!(usage.input_tokens >= 1);
        assert_eq!(stop_reason.as_deref(), Some("end_turn"));
        // Deterministic.
        assert_eq!(
            provider.complete(request("Hello there!")).await.unwrap(),
            completion
        );
    }

    #[tokio::test]
    async fn max_tokens_cuts_the_reply() {
        let mut req = request("one two three four five six seven eight nine ten");
        req.max_tokens = 5;
        let completion = instant().complete(req).await.unwrap();
        assert!(estimate_tokens(&completion.text) <= 5);
        assert!(completion.text.starts_with("(local-echo:"));
        assert_eq!(completion.stop_reason.as_deref(), Some("max_tokens"));
        assert!(completion.usage.output_tokens >= 1);
    }

    #[tokio::test]
    async fn answers_title_requests_with_the_first_words() {
        let req = title_request(
            LOCAL_MODEL,
            "Plan a three day trip to Lisbon in spring please",
        );
        let completion = instant().complete(req).await.unwrap();
        assert_eq!(completion.text, "Plan a three day trip to");
    }

    #[tokio::test]
    async fn refuses_other_models_and_handles_empty_input() {
        let mut req = request("hi");
        req.model = "gpt-4o".into();
        assert!(matches!(
            instant().complete(req).await,
            Err(ProviderError::UnknownModel(m)) if m == "gpt-4o"
        ));
        let empty = CompletionRequest::new(LOCAL_MODEL, Vec::new(), 100);
        let completion = instant().complete(empty).await.unwrap();
        assert!(completion.text.ends_with("You sent an empty message."));
        assert_eq!(completion.usage.input_tokens, 1);
    }

    #[tokio::test]
    async fn waits_before_each_word() {
        let delay = Duration::from_millis(5);
        let provider = LocalProvider::new(LocalConfig { word_delay: delay });
        let started = std::time::Instant::now();
        let events = collect(provider.stream(request("hi")).await.unwrap()).await;
        let words = u32::try_from(events.len() - 1).unwrap();
        assert!(words > 5);
        assert!(started.elapsed() >= delay * words);
    }
}
