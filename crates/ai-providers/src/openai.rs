//! OpenAI Chat Completions (`POST {base}/v1/chat/completions`, `Authorization: Bearer`), for
//! OpenAI itself and for any compatible server (Ollama, vLLM, llama.cpp, OpenRouter...).
//!
//! Streams ask for `stream_options.include_usage`, so usage arrives in a last chunk with
//! `choices: []` before `data: [DONE]`. Compatible servers that send no usage are tolerated:
//! the usage is then estimated (about four characters per token over the prompt and over the
//! text produced, see [`crate::estimate_tokens`]) and a warning is logged, so the call is still
//! counted, approximately, rather than recorded as free. The same applies to a non-streamed
//! reply without `usage`. A stream that ends without `[DONE]` but after a `finish_reason` is
//! accepted as complete; without either it is [`ProviderError::StreamInterrupted`].
//!
//! OpenAI itself gets `max_completion_tokens` (the only spelling its newer models accept);
//! compatible servers get the older `max_tokens`, which they all understand.

use async_trait::async_trait;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue};
use serde::{Deserialize, Serialize};

use crate::config::{HttpProviderConfig, RetryConfig, TimeoutConfig};
use crate::error::{ConfigError, ProviderError};
use crate::fitting::{estimate_prompt_tokens, estimate_tokens};
use crate::http::{self, Call, Decoder, ErrorDetail, HttpCore};
use crate::provider::Provider;
use crate::sse::SseEvent;
use crate::types::{Completion, CompletionRequest, CompletionStream, StreamEvent, Usage};

pub const OPENAI_PROVIDER_ID: &str = "openai";

/// OpenAI or an OpenAI-compatible server.
pub struct OpenAiProvider {
    id: String,
    core: HttpCore,
    url: String,
    api_key: Option<String>,
    /// Official OpenAI needs a key; a local compatible server usually does not.
    key_required: bool,
    max_tokens_field: MaxTokensField,
}

#[derive(Clone, Copy)]
enum MaxTokensField {
    MaxCompletionTokens,
    MaxTokens,
}

impl OpenAiProvider {
    /// OpenAI itself, under the id `openai`.
    pub fn openai(
        config: HttpProviderConfig,
        retry: RetryConfig,
        timeouts: TimeoutConfig,
    ) -> Result<Self, ConfigError> {
        Self::build(OPENAI_PROVIDER_ID.to_owned(), config, retry, timeouts, true)
    }

    /// A compatible server under its own id; without a key it is called without
    /// `Authorization`.
    pub fn compatible(
        id: impl Into<String>,
        config: HttpProviderConfig,
        retry: RetryConfig,
        timeouts: TimeoutConfig,
    ) -> Result<Self, ConfigError> {
        Self::build(id.into(), config, retry, timeouts, false)
    }

    fn build(
        id: String,
        config: HttpProviderConfig,
        retry: RetryConfig,
        timeouts: TimeoutConfig,
        official: bool,
    ) -> Result<Self, ConfigError> {
        if id.is_empty() {
            return Err(ConfigError::EmptyProviderId);
        }
        http::check_base_url(&id, &config.base_url)?;
        Ok(Self {
            core: HttpCore::new(retry, timeouts)?,
            url: http::endpoint(&config.base_url, "chat/completions"),
            api_key: config.api_key,
            key_required: official,
            max_tokens_field: if official {
                MaxTokensField::MaxCompletionTokens
            } else {
                MaxTokensField::MaxTokens
            },
            id,
        })
    }

    fn call<'a>(
        &'a self,
        req: &'a CompletionRequest,
        stream: bool,
    ) -> Result<Call<'a>, ProviderError> {
        let mut headers = HeaderMap::new();
        match req.api_key.as_deref().or(self.api_key.as_deref()) {
            Some(key) => {
                headers.insert(
                    AUTHORIZATION,
                    http::secret_header(&format!("Bearer {key}"))?,
                );
            }
            None if self.key_required => return Err(ProviderError::NoApiKey),
            None => {}
        }
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let accept = if stream {
            "text/event-stream"
        } else {
            "application/json"
        };
        headers.insert(ACCEPT, HeaderValue::from_static(accept));
        let system = req.system.as_deref().map(|content| WireMessage {
            role: "system",
            content,
        });
        let turns = req.messages.iter().map(|m| WireMessage {
            role: m.role.as_str(),
            content: &m.content,
        });
        let (max_tokens, max_completion_tokens) = match self.max_tokens_field {
            MaxTokensField::MaxTokens => (Some(req.max_tokens), None),
            MaxTokensField::MaxCompletionTokens => (None, Some(req.max_tokens)),
        };
        let body = WireRequest {
            model: &req.model,
            messages: system.into_iter().chain(turns).collect(),
            max_tokens,
            max_completion_tokens,
            temperature: req.temperature,
            stream,
            stream_options: stream.then_some(StreamOptions {
                include_usage: true,
            }),
            response_format: req.json.as_ref().map(|j| {
                serde_json::json!({
                    "type": "json_schema",
                    "json_schema": {
                        "name": j.name,
                        "description": j.description,
                        "schema": j.schema,
                        "strict": true,
                    },
                })
            }),
        };
        let body = serde_json::to_vec(&body)
            .map_err(|e| ProviderError::BadRequest(format!("unserialisable request: {e}")))?;
        Ok(Call {
            url: &self.url,
            headers,
            body: body.into(),
            model: &req.model,
        })
    }
}

#[async_trait]
impl Provider for OpenAiProvider {
    fn id(&self) -> &str {
        &self.id
    }

    async fn complete(&self, req: CompletionRequest) -> Result<Completion, ProviderError> {
        let call = self.call(&req, false)?;
        let reply: WireReply = self.core.post_json(&call).await?;
        if let Some(error) = reply.error {
            return Err(stream_error(&error, &req.model));
        }
        let choice = reply
            .choices
            .into_iter()
            .find(|c| c.index == 0)
            .ok_or_else(|| http::invalid("a chat completion without choices"))?;
        let text = choice.message.and_then(|m| m.content).unwrap_or_default();
        let usage = match reply.usage {
            Some(usage) => usage.into(),
            None => estimated_usage(&self.id, &req, &text),
        };
        Ok(Completion {
            text,
            usage,
            stop_reason: choice.finish_reason,
        })
    }

    async fn stream(&self, req: CompletionRequest) -> Result<CompletionStream, ProviderError> {
        let call = self.call(&req, true)?;
        let prompt_estimate = estimate_prompt_tokens(req.system.as_deref(), &req.messages);
        self.core
            .post_stream(&call, || OpenAiDecoder {
                provider: self.id.clone(),
                model: req.model.clone(),
                prompt_estimate,
                produced: String::new(),
                usage: None,
                stop_reason: None,
            })
            .await
    }
}

fn estimated_usage(provider: &str, req: &CompletionRequest, text: &str) -> Usage {
    tracing::warn!(provider, model = %req.model, "the provider reported no usage; estimating it");
    Usage {
        input_tokens: estimate_prompt_tokens(req.system.as_deref(), &req.messages).max(1),
        output_tokens: estimate_tokens(text),
    }
}

#[derive(Serialize)]
struct WireRequest<'a> {
    model: &'a str,
    messages: Vec<WireMessage<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_completion_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_options: Option<StreamOptions>,
    /// Structured output: `{"type": "json_schema", "json_schema": {name, schema, strict}}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    response_format: Option<serde_json::Value>,
}

#[derive(Serialize)]
struct WireMessage<'a> {
    role: &'static str,
    content: &'a str,
}

#[derive(Serialize)]
struct StreamOptions {
    include_usage: bool,
}

#[derive(Deserialize)]
struct WireUsage {
    #[serde(default)]
    prompt_tokens: u32,
    #[serde(default)]
    completion_tokens: u32,
}

impl From<WireUsage> for Usage {
    fn from(u: WireUsage) -> Self {
        Usage {
            input_tokens: u.prompt_tokens,
            output_tokens: u.completion_tokens,
        }
    }
}

#[derive(Deserialize)]
struct WireReply {
    #[serde(default)]
    choices: Vec<ReplyChoice>,
    #[serde(default)]
    usage: Option<WireUsage>,
    #[serde(default)]
    error: Option<ErrorDetail>,
}

#[derive(Deserialize)]
struct ReplyChoice {
    #[serde(default)]
    index: u32,
    #[serde(default)]
    message: Option<ReplyMessage>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct ReplyMessage {
    #[serde(default)]
    content: Option<String>,
}

#[derive(Deserialize)]
struct Chunk {
    #[serde(default)]
    choices: Vec<ChunkChoice>,
    #[serde(default)]
    usage: Option<WireUsage>,
    #[serde(default)]
    error: Option<ErrorDetail>,
}

#[derive(Deserialize)]
struct ChunkChoice {
    #[serde(default)]
    index: u32,
    #[serde(default)]
    delta: Option<ChunkDelta>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct ChunkDelta {
    #[serde(default)]
    content: Option<String>,
}

/// The running state of one Chat Completions stream.
struct OpenAiDecoder {
    provider: String,
    model: String,
    prompt_estimate: u32,
    /// The text produced so far, kept only for estimating usage when none is reported.
    produced: String,
    usage: Option<Usage>,
    stop_reason: Option<String>,
}

impl OpenAiDecoder {
    fn finished(&mut self) -> StreamEvent {
        let usage = self.usage.unwrap_or_else(|| {
            tracing::warn!(
                provider = %self.provider,
                model = %self.model,
                "the provider reported no usage; estimating it"
            );
            Usage {
                input_tokens: self.prompt_estimate.max(1),
                output_tokens: estimate_tokens(&self.produced),
            }
        });
        StreamEvent::Finished {
            usage,
            stop_reason: self.stop_reason.take(),
        }
    }
}

impl Decoder for OpenAiDecoder {
    fn event(&mut self, event: SseEvent) -> Result<Option<StreamEvent>, ProviderError> {
        if event.data.trim() == "[DONE]" {
            return Ok(Some(self.finished()));
        }
        let chunk: Chunk = serde_json::from_str(&event.data)
            .map_err(|e| http::invalid(format!("unreadable chat completion chunk: {e}")))?;
        if let Some(error) = chunk.error {
            return Err(stream_error(&error, &self.model));
        }
        if let Some(usage) = chunk.usage {
            self.usage = Some(usage.into());
        }
        let mut delta = None;
        for choice in chunk.choices.into_iter().filter(|c| c.index == 0) {
            if choice.finish_reason.is_some() {
                self.stop_reason = choice.finish_reason;
            }
            if let Some(text) = choice
                .delta
                .and_then(|d| d.content)
                .filter(|t| !t.is_empty())
            {
                if self.usage.is_none() {
                    self.produced.push_str(&text);
                }
                delta = Some(StreamEvent::Delta(text));
            }
        }
        Ok(delta)
    }

    fn end(&mut self) -> Result<StreamEvent, ProviderError> {
        if self.stop_reason.is_some() {
            Ok(self.finished())
        } else {
            Err(ProviderError::StreamInterrupted)
        }
    }
}

/// Maps an `{"error": ...}` payload inside a 200 answer to a `ProviderError`.
fn stream_error(error: &ErrorDetail, model: &str) -> ProviderError {
    // Some compatible servers (vLLM) put the HTTP status in `code`.
    if let Some(status) = error
        .code
        .as_ref()
        .and_then(serde_json::Value::as_u64)
        .and_then(|c| u16::try_from(c).ok())
        .and_then(|c| StatusCode::from_u16(c).ok())
    {
        return http::status_error(status, error, model, None);
    }
    let code = error.code.as_ref().and_then(serde_json::Value::as_str);
    match (error.kind.as_deref(), code) {
        (_, Some("rate_limit_exceeded"))
        | (Some("rate_limit_exceeded" | "tokens" | "requests"), _) => {
            ProviderError::RateLimited { retry_after: None }
        }
        (_, Some("invalid_api_key")) | (Some("authentication_error"), _) => {
            ProviderError::Unauthorized
        }
        (_, Some("model_not_found")) => ProviderError::UnknownModel(model.to_owned()),
        (Some("invalid_request_error"), _) => {
            ProviderError::BadRequest(error.message_or("the request was refused"))
        }
        _ => ProviderError::Upstream { status: 500 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ChatMessage;
    use crate::sse::SseParser;

    fn decoder() -> OpenAiDecoder {
        OpenAiDecoder {
            provider: "openai".into(),
            model: "m".into(),
            prompt_estimate: 7,
            produced: String::new(),
            usage: None,
            stop_reason: None,
        }
    }

    fn decode(body: &[u8]) -> Vec<Result<StreamEvent, String>> {
        let mut parser = SseParser::new();
        let mut decoder = decoder();
        let mut out = Vec::new();
        for event in parser.push(body).into_iter().chain(parser.finish()) {
            match decoder.event(event) {
                Ok(Some(e)) => {
                    let done = matches!(e, StreamEvent::Finished { .. });
                    out.push(Ok(e));
                    if done {
                        return out;
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    out.push(Err(e.reason().to_owned()));
                    return out;
                }
            }
        }
        out.push(decoder.end().map_err(|e| e.reason().to_owned()));
        out
    }

    fn hello(usage: Usage) -> Vec<Result<StreamEvent, String>> {
        vec![
            Ok(StreamEvent::Delta("Hello".into())),
            Ok(StreamEvent::Delta(" there".into())),
            Ok(StreamEvent::Delta("!".into())),
            Ok(StreamEvent::Finished {
                usage,
                stop_reason: Some("stop".into()),
            }),
        ]
    }

    #[test]
    fn fixture_stream_decodes() {
        let events = decode(include_bytes!("../fixtures/openai/chat.stream.sse"));
        assert_eq!(
            events,
            hello(Usage {
                input_tokens: 19,
                output_tokens: 3
            })
        );
    }

    #[test]
    fn a_stream_without_usage_is_estimated() {
        // The README's recipe: drop `usage` from every chunk and the usage-only chunk.
        let fixture = include_str!("../fixtures/openai/chat.stream.sse");
        let without: String = fixture
            .split("\n\n")
            .filter(|e| !e.contains("\"choices\":[]"))
            .map(|e| e.replace(",\"usage\":null", ""))
            .collect::<Vec<_>>()
            .join("\n\n");
        assert!(!without.contains("usage"));
        let events = decode(without.as_bytes());
        // 7 estimated for the prompt; "Hello there!" is 12 characters, 3 tokens.
        assert_eq!(
            events,
            hello(Usage {
                input_tokens: 7,
                output_tokens: 3
            })
        );
        // And a server that also forgets `[DONE]` still finished, thanks to `finish_reason`.
        let no_done = without.replace("data: [DONE]", "");
        assert_eq!(decode(no_done.as_bytes()).len(), 4);
    }

    #[test]
    fn fixture_error_stream_fails_after_output() {
        let events = decode(include_bytes!("../fixtures/openai/chat.stream-error.sse"));
        assert_eq!(
            events,
            vec![
                Ok(StreamEvent::Delta("Hello".into())),
                Err("upstream_error".into())
            ]
        );
    }

    #[test]
    fn cut_stream_is_interrupted() {
        let full = include_str!("../fixtures/openai/chat.stream.sse");
        let cut = &full[..full.find("\" there\"").unwrap()];
        assert_eq!(
            decode(cut.as_bytes()).last(),
            Some(&Err("stream_interrupted".into()))
        );
    }

    #[test]
    fn error_payload_mapping() {
        let detail = |kind: Option<&str>, code: serde_json::Value| ErrorDetail {
            kind: kind.map(str::to_owned),
            message: Some("msg".into()),
            code: Some(code),
        };
        let map = |d: ErrorDetail| stream_error(&d, "m").reason();
        assert_eq!(
            map(detail(Some("tokens"), "rate_limit_exceeded".into())),
            "rate_limited"
        );
        assert_eq!(
            map(detail(
                Some("invalid_request_error"),
                "invalid_api_key".into()
            )),
            "unauthorized"
        );
        assert_eq!(
            map(detail(
                Some("invalid_request_error"),
                serde_json::Value::Null
            )),
            "bad_request"
        );
        assert_eq!(
            map(detail(Some("BadRequestError"), 400.into())),
            "bad_request"
        );
        assert_eq!(
            map(detail(Some("server_error"), serde_json::Value::Null)),
            "upstream_error"
        );
    }

    #[test]
    fn request_body_shape() {
        let official = OpenAiProvider::openai(
            HttpProviderConfig::openai(None),
            RetryConfig::default(),
            TimeoutConfig::default(),
        )
        .unwrap();
        let mut req = CompletionRequest::new("gpt-4o-mini", vec![ChatMessage::user("Hi")], 50);
        assert!(matches!(
            official.call(&req, true),
            Err(ProviderError::NoApiKey)
        ));
        req.api_key = Some("sk-user".into());
        req.system = Some("Be brief.".into());
        let call = official.call(&req, true).unwrap();
        assert_eq!(call.url, "https://api.openai.com/v1/chat/completions");
        assert_eq!(call.headers[AUTHORIZATION], "Bearer sk-user");
        let body: serde_json::Value = serde_json::from_slice(&call.body).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"model": "gpt-4o-mini", "max_completion_tokens": 50,
                "messages": [{"role": "system", "content": "Be brief."},
                             {"role": "user", "content": "Hi"}],
                "stream": true, "stream_options": {"include_usage": true}})
        );

        let ollama = OpenAiProvider::compatible(
            "ollama",
            HttpProviderConfig {
                base_url: "http://localhost:11434/v1".into(),
                api_key: None,
            },
            RetryConfig::default(),
            TimeoutConfig::default(),
        )
        .unwrap();
        assert_eq!(ollama.id(), "ollama");
        req.api_key = None;
        let call = ollama.call(&req, false).unwrap();
        assert_eq!(call.url, "http://localhost:11434/v1/chat/completions");
        assert!(call.headers.get(AUTHORIZATION).is_none());
        let body: serde_json::Value = serde_json::from_slice(&call.body).unwrap();
        assert_eq!(body["max_tokens"], 50);
        assert!(body.get("stream").is_none() && body.get("stream_options").is_none());
    }
}
