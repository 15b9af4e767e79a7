//! Anthropic Messages API: `POST {base}/v1/messages` with `x-api-key` and
//! `anthropic-version: 2023-06-01`.
//!
//! Streams are read by the `type` inside each event's data (the `event:` line says the same).
//! Input tokens come from `message_start` and, when present, `message_delta`; output tokens from
//! `message_delta` (it holds the running total). Only `text_delta`s become output: thinking,
//! tool and citation deltas are skipped. Unknown event types are ignored, as the API's
//! versioning policy asks. Cache token counts are not added to the input tokens: Colloquy sends
//! no `cache_control`, so they are zero.

use async_trait::async_trait;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderValue};
use serde::{Deserialize, Serialize};

use crate::config::{HttpProviderConfig, RetryConfig, TimeoutConfig};
use crate::error::{ConfigError, ProviderError};
use crate::http::{self, Call, Decoder, ErrorDetail, HttpCore};
use crate::provider::Provider;
use crate::sse::SseEvent;
use crate::types::{Completion, CompletionRequest, CompletionStream, StreamEvent, Usage};

pub const ANTHROPIC_PROVIDER_ID: &str = "anthropic";
pub const ANTHROPIC_VERSION: &str = "2023-06-01";

/// The Anthropic provider.
pub struct AnthropicProvider {
    core: HttpCore,
    url: String,
    api_key: Option<String>,
}

impl AnthropicProvider {
    pub fn new(
        config: HttpProviderConfig,
        retry: RetryConfig,
        timeouts: TimeoutConfig,
    ) -> Result<Self, ConfigError> {
        http::check_base_url(ANTHROPIC_PROVIDER_ID, &config.base_url)?;
        Ok(Self {
            core: HttpCore::new(retry, timeouts)?,
            url: http::endpoint(&config.base_url, "messages"),
            api_key: config.api_key,
        })
    }

    fn call<'a>(
        &'a self,
        req: &'a CompletionRequest,
        stream: bool,
    ) -> Result<Call<'a>, ProviderError> {
        let key = req
            .api_key
            .as_deref()
            .or(self.api_key.as_deref())
            .ok_or(ProviderError::NoApiKey)?;
        let mut headers = HeaderMap::new();
        headers.insert("x-api-key", http::secret_header(key)?);
        headers.insert(
            "anthropic-version",
            HeaderValue::from_static(ANTHROPIC_VERSION),
        );
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let accept = if stream {
            "text/event-stream"
        } else {
            "application/json"
        };
        headers.insert(ACCEPT, HeaderValue::from_static(accept));
        let body = WireRequest {
            model: &req.model,
            max_tokens: req.max_tokens,
            system: req.system.as_deref(),
            messages: req
                .messages
                .iter()
                .map(|m| WireMessage {
                    role: m.role.as_str(),
                    content: &m.content,
                })
                .collect(),
            temperature: req.temperature,
            stream,
            tools: req.json.as_ref().map(|j| {
                vec![WireTool {
                    name: &j.name,
                    description: &j.description,
                    input_schema: &j.schema,
                }]
            }),
            tool_choice: req.json.as_ref().map(|j| WireToolChoice {
                kind: "tool",
                name: &j.name,
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
impl Provider for AnthropicProvider {
    fn id(&self) -> &str {
        ANTHROPIC_PROVIDER_ID
    }

    async fn complete(&self, req: CompletionRequest) -> Result<Completion, ProviderError> {
        let call = self.call(&req, false)?;
        let reply: WireReply = self.core.post_json(&call).await?;
        // Structured output arrives as the forced tool's input; text blocks otherwise.
        let tool_input = reply.content.iter().find_map(|block| match block {
            WireBlock::ToolUse { input } if req.json.is_some() => Some(input.to_string()),
            _ => None,
        });
        let text = match tool_input {
            Some(json) => json,
            None => reply
                .content
                .into_iter()
                .filter_map(|block| match block {
                    WireBlock::Text { text } => Some(text),
                    WireBlock::ToolUse { .. } | WireBlock::Other => None,
                })
                .collect(),
        };
        Ok(Completion {
            text,
            usage: Usage {
                input_tokens: reply.usage.input_tokens.unwrap_or(0),
                output_tokens: reply.usage.output_tokens.unwrap_or(0),
            },
            stop_reason: reply.stop_reason,
        })
    }

    async fn stream(&self, req: CompletionRequest) -> Result<CompletionStream, ProviderError> {
        let call = self.call(&req, true)?;
        let model = req.model.clone();
        self.core
            .post_stream(&call, || AnthropicDecoder::new(model.clone()))
            .await
    }
}

#[derive(Serialize)]
struct WireRequest<'a> {
    model: &'a str,
    max_tokens: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    system: Option<&'a str>,
    messages: Vec<WireMessage<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    tools: Option<Vec<WireTool<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<WireToolChoice<'a>>,
}

/// The one tool of a structured-output request: its input schema is the answer's schema.
#[derive(Serialize)]
struct WireTool<'a> {
    name: &'a str,
    description: &'a str,
    input_schema: &'a serde_json::Value,
}

/// `{"type": "tool", "name": ...}`: the model must answer by calling that tool.
#[derive(Serialize)]
struct WireToolChoice<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    name: &'a str,
}

#[derive(Serialize)]
struct WireMessage<'a> {
    role: &'static str,
    content: &'a str,
}

#[derive(Deserialize)]
struct WireReply {
    content: Vec<WireBlock>,
    stop_reason: Option<String>,
    usage: WireUsage,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum WireBlock {
    Text {
        text: String,
    },
    ToolUse {
        input: serde_json::Value,
    },
    #[serde(other)]
    Other,
}

#[derive(Deserialize, Default)]
struct WireUsage {
    #[serde(default)]
    input_tokens: Option<u32>,
    #[serde(default)]
    output_tokens: Option<u32>,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum WireEvent {
    MessageStart {
        message: StartedMessage,
    },
    ContentBlockDelta {
        delta: BlockDelta,
    },
    MessageDelta {
        delta: MessageDeltaBody,
        #[serde(default)]
        usage: Option<WireUsage>,
    },
    MessageStop {},
    Error {
        error: ErrorDetail,
    },
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
struct StartedMessage {
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum BlockDelta {
    TextDelta {
        text: String,
    },
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
struct MessageDeltaBody {
    #[serde(default)]
    stop_reason: Option<String>,
}

/// The running state of one Anthropic stream.
struct AnthropicDecoder {
    model: String,
    usage: Usage,
    stop_reason: Option<String>,
}

impl AnthropicDecoder {
    fn new(model: String) -> Self {
        Self {
            model,
            usage: Usage::default(),
            stop_reason: None,
        }
    }

    fn add_usage(&mut self, usage: Option<WireUsage>) {
        let Some(usage) = usage else { return };
        if let Some(input) = usage.input_tokens {
            self.usage.input_tokens = input;
        }
        if let Some(output) = usage.output_tokens {
            self.usage.output_tokens = output;
        }
    }

    fn finished(&mut self) -> StreamEvent {
        StreamEvent::Finished {
            usage: self.usage,
            stop_reason: self.stop_reason.take(),
        }
    }
}

impl Decoder for AnthropicDecoder {
    fn event(&mut self, event: SseEvent) -> Result<Option<StreamEvent>, ProviderError> {
        let parsed: WireEvent = serde_json::from_str(&event.data)
            .map_err(|e| http::invalid(format!("unreadable Anthropic event: {e}")))?;
        match parsed {
            WireEvent::MessageStart { message } => self.add_usage(message.usage),
            WireEvent::ContentBlockDelta {
                delta: BlockDelta::TextDelta { text },
            } if !text.is_empty() => return Ok(Some(StreamEvent::Delta(text))),
            WireEvent::MessageDelta { delta, usage } => {
                if delta.stop_reason.is_some() {
                    self.stop_reason = delta.stop_reason;
                }
                self.add_usage(usage);
            }
            WireEvent::MessageStop {} => return Ok(Some(self.finished())),
            WireEvent::Error { error } => return Err(stream_error(&error, &self.model)),
            WireEvent::ContentBlockDelta { .. } | WireEvent::Other => {}
        }
        Ok(None)
    }

    fn end(&mut self) -> Result<StreamEvent, ProviderError> {
        // A `message_delta` with a stop reason means the reply was complete even if the
        // closing `message_stop` got lost.
        if self.stop_reason.is_some() {
            Ok(self.finished())
        } else {
            Err(ProviderError::StreamInterrupted)
        }
    }
}

/// Maps an `event: error` (documented error types) to a `ProviderError`.
fn stream_error(error: &ErrorDetail, model: &str) -> ProviderError {
    match error.kind.as_deref() {
        Some("overloaded_error") => ProviderError::Overloaded,
        Some("rate_limit_error") => ProviderError::RateLimited { retry_after: None },
        Some("authentication_error" | "permission_error") => ProviderError::Unauthorized,
        Some("invalid_request_error" | "request_too_large") => {
            ProviderError::BadRequest(error.message_or("the request was refused"))
        }
        Some("not_found_error") => ProviderError::UnknownModel(model.to_owned()),
        Some("timeout_error") => ProviderError::Upstream { status: 504 },
        _ => ProviderError::Upstream { status: 500 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sse::SseParser;

    fn decode(body: &[u8]) -> Vec<Result<StreamEvent, String>> {
        let mut parser = SseParser::new();
        let mut decoder = AnthropicDecoder::new("m".into());
        let mut out = Vec::new();
        for event in parser.push(body).into_iter().chain(parser.finish()) {
            match decoder.event(event) {
                Ok(Some(e)) => out.push(Ok(e)),
                Ok(None) => {}
                Err(e) => {
                    out.push(Err(e.reason().to_owned()));
                    return out;
                }
            }
        }
        if !matches!(out.last(), Some(Ok(StreamEvent::Finished { .. }))) {
            out.push(decoder.end().map_err(|e| e.reason().to_owned()));
        }
        out
    }

    #[test]
    fn fixture_stream_decodes() {
        let events = decode(include_bytes!("../fixtures/anthropic/messages.stream.sse"));
        assert_eq!(
            events,
            vec![
                Ok(StreamEvent::Delta("Hello".into())),
                Ok(StreamEvent::Delta(" there".into())),
                Ok(StreamEvent::Delta("!".into())),
                Ok(StreamEvent::Finished {
                    usage: Usage {
                        input_tokens: 12,
                        output_tokens: 6
                    },
                    stop_reason: Some("end_turn".into())
                }),
            ]
        );
    }

    #[test]
    fn fixture_error_stream_fails_after_output() {
        let events = decode(include_bytes!(
            "../fixtures/anthropic/messages.stream-error.sse"
        ));
        assert_eq!(
            events,
            vec![
                Ok(StreamEvent::Delta("Hello".into())),
                Err("overloaded".into())
            ]
        );
    }

    #[test]
    fn truncated_stream_is_interrupted_unless_the_stop_reason_arrived() {
        let full = include_str!("../fixtures/anthropic/messages.stream.sse");
        let cut = &full[..full.find("event: content_block_stop").unwrap()];
        assert_eq!(
            decode(cut.as_bytes()).last(),
            Some(&Err("stream_interrupted".into()))
        );
        let no_stop = &full[..full.find("event: message_stop").unwrap()];
        assert!(matches!(
            decode(no_stop.as_bytes()).last(),
            Some(Ok(StreamEvent::Finished { .. }))
        ));
    }

    #[test]
    fn other_deltas_and_unknown_events_are_skipped() {
        let body = concat!(
            "event: content_block_delta\n",
            "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"hm\"}}\n\n",
            "event: future_thing\n",
            "data: {\"type\":\"future_thing\",\"x\":1}\n\n",
            "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"text_delta\",\"text\":\"ok\"}}\n\n",
            "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"max_tokens\"},\"usage\":{\"output_tokens\":3}}\n\n",
            "data: {\"type\":\"message_stop\"}\n\n",
        );
        assert_eq!(
            decode(body.as_bytes()),
            vec![
                Ok(StreamEvent::Delta("ok".into())),
                Ok(StreamEvent::Finished {
                    usage: Usage {
                        input_tokens: 0,
                        output_tokens: 3
                    },
                    stop_reason: Some("max_tokens".into())
                }),
            ]
        );
        assert_eq!(
            decode(b"data: not json\n\n"),
            vec![Err("invalid_response".into())]
        );
    }

    #[test]
    fn request_body_shape() {
        let provider = AnthropicProvider::new(
            HttpProviderConfig::anthropic(Some("sk-ant-server".into())),
            RetryConfig::default(),
            TimeoutConfig::default(),
        )
        .unwrap();
        let mut req = CompletionRequest::new(
            "claude-sonnet-4-20250514",
            vec![crate::ChatMessage::user("Hi")],
            100,
        );
        let call = provider.call(&req, true).unwrap();
        assert_eq!(call.url, "https://api.anthropic.com/v1/messages");
        assert_eq!(call.headers["x-api-key"], "sk-ant-server");
        let body: serde_json::Value = serde_json::from_slice(&call.body).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"model": "claude-sonnet-4-20250514", "max_tokens": 100,
                "messages": [{"role": "user", "content": "Hi"}], "stream": true})
        );
        req.system = Some("Be brief.".into());
        req.temperature = Some(0.5);
        req.api_key = Some("sk-ant-user".into());
        let call = provider.call(&req, false).unwrap();
        assert_eq!(call.headers["x-api-key"], "sk-ant-user");
        let body: serde_json::Value = serde_json::from_slice(&call.body).unwrap();
        assert_eq!(body["system"], "Be brief.");
        assert_eq!(body["temperature"], 0.5);
        assert!(body.get("stream").is_none());
    }
}
