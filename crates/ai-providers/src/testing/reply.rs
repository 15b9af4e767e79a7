//! [`FakeReply`]: what the fake server answers to one request, and how it renders as bytes.
//!
//! The default reply is the recorded fixture, byte for byte. Custom text or usage regenerates
//! the stream in the fixture's shape. Framing variations (CRLF, comment lines, chunk sizes)
//! apply to the rendered bytes, so they combine with every reply.

use std::time::Duration;

use bytes::Bytes;
use serde_json::{Value, json};

use crate::types::Usage;

const ANTHROPIC_STREAM: &str = include_str!("../../fixtures/anthropic/messages.stream.sse");
const ANTHROPIC_STREAM_ERROR: &str =
    include_str!("../../fixtures/anthropic/messages.stream-error.sse");
const ANTHROPIC_RESPONSE: &str = include_str!("../../fixtures/anthropic/messages.response.json");
const ANTHROPIC_401: &str = include_str!("../../fixtures/anthropic/error.401.json");
const ANTHROPIC_429: &str = include_str!("../../fixtures/anthropic/error.429.json");
const ANTHROPIC_500: &str = include_str!("../../fixtures/anthropic/error.500.json");
const ANTHROPIC_529: &str = include_str!("../../fixtures/anthropic/error.529.json");
const OPENAI_STREAM: &str = include_str!("../../fixtures/openai/chat.stream.sse");
const OPENAI_STREAM_ERROR: &str = include_str!("../../fixtures/openai/chat.stream-error.sse");
const OPENAI_RESPONSE: &str = include_str!("../../fixtures/openai/chat.response.json");
const OPENAI_401: &str = include_str!("../../fixtures/openai/error.401.json");
const OPENAI_429: &str = include_str!("../../fixtures/openai/error.429.json");
const OPENAI_500: &str = include_str!("../../fixtures/openai/error.500.json");

/// The fixtures' reply text and usage.
pub const FIXTURE_DELTAS: [&str; 3] = ["Hello", " there", "!"];
pub const ANTHROPIC_FIXTURE_USAGE: Usage = Usage {
    input_tokens: 12,
    output_tokens: 6,
};
pub const OPENAI_FIXTURE_USAGE: Usage = Usage {
    input_tokens: 19,
    output_tokens: 3,
};

/// The two wire formats the fake speaks, chosen by the request path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireFormat {
    /// `POST /v1/messages`
    Anthropic,
    /// `POST /v1/chat/completions`
    OpenAi,
}

/// What the fake answers to one request. Build one with [`FakeReply::success`],
/// [`FakeReply::text`], [`FakeReply::error`] or [`FakeReply::stream_error`], then adjust it.
/// Streamed or not follows the request's `"stream"` field.
#[derive(Debug, Clone)]
pub struct FakeReply {
    kind: Kind,
    usage: Option<Usage>,
    include_usage: bool,
    ending: Ending,
    chunk_size: Option<usize>,
    chunk_delay: Duration,
    crlf: bool,
    comments: bool,
    retry_after: Option<u64>,
    /// A structured-output answer (see [`FakeReply::json`]).
    json: Option<Value>,
}

#[derive(Debug, Clone)]
enum Kind {
    Success { deltas: Option<Vec<String>> },
    Error { status: u16 },
    StreamError { after: usize },
}

/// How the body ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    Complete,
    /// Send the body up to the n-th delta, then stay silent until the fake is dropped.
    StallAfter(usize),
    /// Send the body up to the n-th delta, then break the connection.
    CutAfter(usize),
}

/// A reply rendered for one request.
pub(crate) struct Rendered {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub parts: Vec<Bytes>,
    pub chunk_delay: Duration,
    pub ending: Ending,
}

impl FakeReply {
    fn new(kind: Kind) -> Self {
        Self {
            kind,
            usage: None,
            include_usage: true,
            ending: Ending::Complete,
            chunk_size: None,
            chunk_delay: Duration::ZERO,
            crlf: false,
            comments: false,
            retry_after: None,
            json: None,
        }
    }

    /// A structured-output answer: for Anthropic a `tool_use` content block whose `input` is
    /// `value` (stop reason `tool_use`), for OpenAI the message content holding `value` as JSON
    /// text. Streamed requests get `value` as the text of the reply.
    pub fn json(value: Value) -> Self {
        let mut reply = Self::new(Kind::Success {
            deltas: Some(vec![value.to_string()]),
        });
        reply.json = Some(value);
        reply
    }

    /// The recorded fixture reply: "Hello", " there", "!" with the fixture's usage.
    pub fn success() -> Self {
        Self::new(Kind::Success { deltas: None })
    }

    /// A successful reply made of these deltas, in the fixture's shape.
    pub fn text<I, S>(deltas: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::new(Kind::Success {
            deltas: Some(deltas.into_iter().map(Into::into).collect()),
        })
    }

    /// An error status with the fixture body for it (Anthropic 401/429/500/529, OpenAI
    /// 401/429/500), or a body of the same shape for other statuses.
    pub fn error(status: u16) -> Self {
        Self::new(Kind::Error { status })
    }

    /// The fixture stream that fails after "Hello": Anthropic's `event: error`
    /// (`overloaded_error`), OpenAI's `data: {"error": ...}` (`server_error`). A non-streamed
    /// request gets the 500 error instead.
    pub fn stream_error() -> Self {
        Self::new(Kind::StreamError { after: 1 })
    }

    /// Like [`FakeReply::stream_error`], but the error event follows the `deltas`-th delta of
    /// the fixture reply (0: before any output, which a client may retry).
    pub fn stream_error_after(deltas: usize) -> Self {
        Self::new(Kind::StreamError { after: deltas })
    }

    /// Reports this usage instead of the fixture's.
    pub fn with_usage(mut self, input_tokens: u32, output_tokens: u32) -> Self {
        self.usage = Some(Usage {
            input_tokens,
            output_tokens,
        });
        self
    }

    /// OpenAI format only: no `usage` anywhere, as a server that ignores `include_usage`.
    /// (The fake also leaves usage out when the request did not ask for it.)
    pub fn without_usage(mut self) -> Self {
        self.include_usage = false;
        self
    }

    /// Sends the stream up to and including the `deltas`-th delta, then goes silent (headers
    /// and those bytes sent, no more) until the fake is dropped. For a non-streamed request,
    /// sends the headers and no body.
    pub fn stall_after(mut self, deltas: usize) -> Self {
        self.ending = Ending::StallAfter(deltas);
        self
    }

    /// Sends the stream up to and including the `deltas`-th delta, then breaks the connection.
    /// For a non-streamed request, breaks it halfway through the body.
    pub fn cut_after(mut self, deltas: usize) -> Self {
        self.ending = Ending::CutAfter(deltas);
        self
    }

    /// Writes the body in pieces of `bytes` bytes (cutting through lines, CRLFs and UTF-8).
    pub fn chunked(mut self, bytes: usize) -> Self {
        self.chunk_size = Some(bytes.max(1));
        self
    }

    /// Waits this long before each piece, so pieces reach the client separately.
    pub fn chunk_delay(mut self, delay: Duration) -> Self {
        self.chunk_delay = delay;
        self
    }

    /// Ends lines with CRLF instead of LF.
    pub fn crlf(mut self) -> Self {
        self.crlf = true;
        self
    }

    /// Puts a `: keep-alive` comment line before every event.
    pub fn with_comments(mut self) -> Self {
        self.comments = true;
        self
    }

    /// Adds a `retry-after` header (seconds).
    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    pub(crate) fn render(
        &self,
        format: WireFormat,
        streaming: bool,
        usage_requested: bool,
    ) -> Rendered {
        let mut headers = Vec::new();
        if let Some(seconds) = self.retry_after {
            headers.push(("retry-after", seconds.to_string()));
        }
        let include_usage = self.include_usage && usage_requested;
        let (status, body, events_end) = match (&self.kind, streaming) {
            (Kind::Error { status }, _) => (*status, error_body(format, *status), None),
            (Kind::StreamError { .. }, false) => (500, error_body(format, 500), None),
            (Kind::StreamError { after }, true) => {
                let fixture = match format {
                    WireFormat::Anthropic => ANTHROPIC_STREAM_ERROR,
                    WireFormat::OpenAi => OPENAI_STREAM_ERROR,
                };
                let body = if *after == 1 {
                    fixture.to_owned()
                } else {
                    failing_stream(format, fixture, *after)
                };
                let end = self.cut_point(&split_fixture(&body, format));
                (200, body, Some(end))
            }
            (Kind::Success { deltas }, true) => {
                let events = match (format, deltas, self.usage) {
                    (WireFormat::Anthropic, None, None) => split_fixture(ANTHROPIC_STREAM, format),
                    (WireFormat::OpenAi, None, None) if include_usage => {
                        split_fixture(OPENAI_STREAM, format)
                    }
                    (WireFormat::OpenAi, None, None) => without_usage(OPENAI_STREAM),
                    (WireFormat::Anthropic, deltas, usage) => anthropic_events(
                        deltas.as_deref(),
                        usage.unwrap_or(ANTHROPIC_FIXTURE_USAGE),
                    ),
                    (WireFormat::OpenAi, deltas, usage) => openai_events(
                        deltas.as_deref(),
                        include_usage.then(|| usage.unwrap_or(OPENAI_FIXTURE_USAGE)),
                    ),
                };
                let end = self.cut_point(&events);
                let body: String = events.into_iter().map(|(text, _)| text).collect();
                (200, body, Some(end))
            }
            (Kind::Success { .. }, false)
                if format == WireFormat::Anthropic && self.json.is_some() =>
            {
                (200, tool_use_body(self.json.as_ref(), self.usage), None)
            }
            (Kind::Success { deltas }, false) => (
                200,
                response_body(format, deltas.as_deref(), self.usage, include_usage),
                None,
            ),
        };
        headers.push(("content-type", content_type(status, streaming).to_owned()));
        if streaming && status == 200 {
            headers.push(("cache-control", "no-cache".to_owned()));
        }
        let (body, ending) = match (status, events_end, self.ending) {
            // Error statuses are always sent whole.
            (200, Some(end), ending) => (body[..end].to_owned(), ending),
            (200, None, Ending::StallAfter(_)) => (String::new(), self.ending),
            (200, None, Ending::CutAfter(_)) => {
                let half = (0..=body.len() / 2)
                    .rev()
                    .find(|&i| body.is_char_boundary(i))
                    .unwrap_or(0);
                (body[..half].to_owned(), self.ending)
            }
            _ => (body, Ending::Complete),
        };
        let body = self.frame(body);
        let parts = match self.chunk_size {
            Some(size) => body
                .as_bytes()
                .chunks(size)
                .map(Bytes::copy_from_slice)
                .collect(),
            None if body.is_empty() => Vec::new(),
            None => vec![Bytes::from(body)],
        };
        Rendered {
            status,
            headers,
            parts,
            chunk_delay: self.chunk_delay,
            ending,
        }
    }

    /// The byte length of the events up to the cut point (all of them when complete).
    fn cut_point(&self, events: &[(String, bool)]) -> usize {
        let limit = match self.ending {
            Ending::Complete => None,
            Ending::StallAfter(n) | Ending::CutAfter(n) => Some(n),
        };
        let mut length = 0;
        let mut deltas = 0;
        for (text, is_delta) in events {
            if limit == Some(deltas) {
                break;
            }
            length += text.len();
            deltas += usize::from(*is_delta);
        }
        length
    }

    fn frame(&self, body: String) -> String {
        let body = if self.comments {
            let mut framed = String::with_capacity(body.len() * 2);
            let mut at_event_start = true;
            for line in body.split_inclusive('\n') {
                if at_event_start && line != "\n" {
                    framed.push_str(": keep-alive\n");
                }
                at_event_start = line == "\n";
                framed.push_str(line);
            }
            framed
        } else {
            body
        };
        if self.crlf {
            body.replace('\n', "\r\n")
        } else {
            body
        }
    }
}

fn content_type(status: u16, streaming: bool) -> &'static str {
    if status == 200 && streaming {
        "text/event-stream; charset=utf-8"
    } else {
        "application/json"
    }
}

/// The fixture's events (each with its closing blank line) and whether each is a text delta.
fn split_fixture(fixture: &str, format: WireFormat) -> Vec<(String, bool)> {
    fixture
        .split_inclusive("\n\n")
        .map(|event| (event.to_owned(), is_delta(event, format)))
        .collect()
}

fn is_delta(event: &str, format: WireFormat) -> bool {
    let Some(data) = event.lines().find_map(|l| l.strip_prefix("data: ")) else {
        return false;
    };
    let Ok(value) = serde_json::from_str::<Value>(data) else {
        return false;
    };
    match format {
        WireFormat::Anthropic => value["delta"]["type"] == "text_delta",
        WireFormat::OpenAi => value["choices"][0]["delta"]["content"]
            .as_str()
            .is_some_and(|t| !t.is_empty()),
    }
}

/// The success stream up to the `after`-th delta, then the error event of `fixture`.
fn failing_stream(format: WireFormat, fixture: &str, after: usize) -> String {
    let events = match format {
        WireFormat::Anthropic => split_fixture(ANTHROPIC_STREAM, format),
        WireFormat::OpenAi => split_fixture(OPENAI_STREAM, format),
    };
    let mut body = String::new();
    let mut deltas = 0;
    for (event, is_delta) in events {
        if is_delta {
            if deltas == after {
                break;
            }
            deltas += 1;
        }
        body.push_str(&event);
    }
    let error_event = fixture.split_inclusive("\n\n").last().unwrap_or_default();
    body.push_str(error_event);
    body
}

/// The README's recipe for a stream without `include_usage`.
fn without_usage(fixture: &str) -> Vec<(String, bool)> {
    split_fixture(fixture, WireFormat::OpenAi)
        .into_iter()
        .filter(|(event, _)| !event.contains("\"choices\":[]"))
        .map(|(event, delta)| (event.replace(",\"usage\":null", ""), delta))
        .collect()
}

fn sse(event: Option<&str>, data: &Value) -> String {
    match event {
        Some(name) => format!("event: {name}\ndata: {data}\n\n"),
        None => format!("data: {data}\n\n"),
    }
}

fn anthropic_events(deltas: Option<&[String]>, usage: Usage) -> Vec<(String, bool)> {
    let fixture_deltas: Vec<String> = FIXTURE_DELTAS.iter().map(|d| (*d).to_owned()).collect();
    let deltas = deltas.unwrap_or(&fixture_deltas);
    let mut events = vec![
        (
            sse(
                Some("message_start"),
                &json!({"type": "message_start", "message": {
                    "model": "claude-sonnet-4-5-20250929", "id": "msg_01FakeStream0000000000001",
                    "type": "message", "role": "assistant", "content": [], "stop_reason": null,
                    "stop_sequence": null,
                    "usage": {"input_tokens": usage.input_tokens, "output_tokens": 1}}}),
            ),
            false,
        ),
        (
            sse(
                Some("content_block_start"),
                &json!({"type": "content_block_start", "index": 0,
                    "content_block": {"type": "text", "text": ""}}),
            ),
            false,
        ),
        (sse(Some("ping"), &json!({"type": "ping"})), false),
    ];
    for delta in deltas {
        let data = json!({"type": "content_block_delta", "index": 0,
            "delta": {"type": "text_delta", "text": delta}});
        events.push((sse(Some("content_block_delta"), &data), true));
    }
    events.push((
        sse(
            Some("content_block_stop"),
            &json!({"type": "content_block_stop", "index": 0}),
        ),
        false,
    ));
    events.push((
        sse(
            Some("message_delta"),
            &json!({"type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": null},
                "usage": {"input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens}}),
        ),
        false,
    ));
    events.push((
        sse(Some("message_stop"), &json!({"type": "message_stop"})),
        false,
    ));
    events
}

fn openai_events(deltas: Option<&[String]>, usage: Option<Usage>) -> Vec<(String, bool)> {
    let fixture_deltas: Vec<String> = FIXTURE_DELTAS.iter().map(|d| (*d).to_owned()).collect();
    let deltas = deltas.unwrap_or(&fixture_deltas);
    let chunk = |delta: Value, finish: Value| {
        let mut chunk = json!({"id": "chatcmpl-FakeStream0000000000000001",
            "object": "chat.completion.chunk", "created": 1741569952,
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]});
        if usage.is_some() {
            chunk["usage"] = Value::Null;
        }
        chunk
    };
    let mut events = vec![(
        sse(
            None,
            &chunk(
                json!({"role": "assistant", "content": "", "refusal": null}),
                Value::Null,
            ),
        ),
        false,
    )];
    for delta in deltas {
        events.push((
            sse(None, &chunk(json!({"content": delta}), Value::Null)),
            true,
        ));
    }
    events.push((sse(None, &chunk(json!({}), json!("stop"))), false));
    if let Some(usage) = usage {
        let data = json!({"id": "chatcmpl-FakeStream0000000000000001",
            "object": "chat.completion.chunk", "created": 1741569952,
            "model": "gpt-4o-mini-2024-07-18", "choices": [],
            "usage": {"prompt_tokens": usage.input_tokens,
                "completion_tokens": usage.output_tokens,
                "total_tokens": usage.input_tokens + usage.output_tokens}});
        events.push((sse(None, &data), false));
    }
    events.push(("data: [DONE]\n\n".to_owned(), false));
    events
}

fn response_body(
    format: WireFormat,
    deltas: Option<&[String]>,
    usage: Option<Usage>,
    include_usage: bool,
) -> String {
    let fixture = match format {
        WireFormat::Anthropic => ANTHROPIC_RESPONSE,
        WireFormat::OpenAi => OPENAI_RESPONSE,
    };
    if deltas.is_none() && usage.is_none() && include_usage {
        return fixture.to_owned();
    }
    let Ok(mut value) = serde_json::from_str::<Value>(fixture) else {
        return fixture.to_owned();
    };
    let text = deltas.map(|d| d.concat());
    match format {
        WireFormat::Anthropic => {
            if let Some(text) = text {
                value["content"][0]["text"] = json!(text);
            }
            if let Some(usage) = usage {
                value["usage"]["input_tokens"] = json!(usage.input_tokens);
                value["usage"]["output_tokens"] = json!(usage.output_tokens);
            }
        }
        WireFormat::OpenAi => {
            if let Some(text) = text {
                value["choices"][0]["message"]["content"] = json!(text);
            }
            if let Some(usage) = usage {
                value["usage"]["prompt_tokens"] = json!(usage.input_tokens);
                value["usage"]["completion_tokens"] = json!(usage.output_tokens);
                value["usage"]["total_tokens"] = json!(usage.input_tokens + usage.output_tokens);
            }
            if !include_usage && let Some(object) = value.as_object_mut() {
                object.remove("usage");
            }
        }
    }
    value.to_string()
}

/// The fixture's non-streamed Anthropic body with one `tool_use` block holding `input`.
fn tool_use_body(input: Option<&Value>, usage: Option<Usage>) -> String {
    let Ok(mut value) = serde_json::from_str::<Value>(ANTHROPIC_RESPONSE) else {
        return ANTHROPIC_RESPONSE.to_owned();
    };
    value["content"] = json!([{
        "type": "tool_use",
        "id": "toolu_01FakeToolUse000000000001",
        "name": "result",
        "input": input.cloned().unwrap_or(Value::Null),
    }]);
    value["stop_reason"] = json!("tool_use");
    if let Some(usage) = usage {
        value["usage"]["input_tokens"] = json!(usage.input_tokens);
        value["usage"]["output_tokens"] = json!(usage.output_tokens);
    }
    value.to_string()
}

fn error_body(format: WireFormat, status: u16) -> String {
    let fixture = match (format, status) {
        (WireFormat::Anthropic, 401) => Some(ANTHROPIC_401),
        (WireFormat::Anthropic, 429) => Some(ANTHROPIC_429),
        (WireFormat::Anthropic, 500) => Some(ANTHROPIC_500),
        (WireFormat::Anthropic, 529) => Some(ANTHROPIC_529),
        (WireFormat::OpenAi, 401) => Some(OPENAI_401),
        (WireFormat::OpenAi, 429) => Some(OPENAI_429),
        (WireFormat::OpenAi, 500) => Some(OPENAI_500),
        _ => None,
    };
    if let Some(fixture) = fixture {
        return fixture.to_owned();
    }
    let message = format!("fake error with status {status}");
    match format {
        WireFormat::Anthropic => {
            let kind = match status {
                400 => "invalid_request_error",
                401 => "authentication_error",
                403 => "permission_error",
                404 => "not_found_error",
                413 => "request_too_large",
                429 => "rate_limit_error",
                529 => "overloaded_error",
                _ => "api_error",
            };
            json!({"type": "error", "error": {"type": kind, "message": message},
                "request_id": "req_011CFakeOther000000000001"})
            .to_string()
        }
        WireFormat::OpenAi => {
            let kind = if status < 500 {
                "invalid_request_error"
            } else {
                "server_error"
            };
            json!({"error": {"message": message, "type": kind, "param": null, "code": null}})
                .to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(r: &Rendered) -> String {
        r.parts
            .iter()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect()
    }

    #[test]
    fn default_replies_are_the_fixtures_byte_for_byte() {
        let r = FakeReply::success().render(WireFormat::Anthropic, true, true);
        assert_eq!(body(&r), ANTHROPIC_STREAM);
        let r = FakeReply::success().render(WireFormat::OpenAi, true, true);
        assert_eq!(body(&r), OPENAI_STREAM);
        let r = FakeReply::success().render(WireFormat::OpenAi, false, true);
        assert_eq!(body(&r), OPENAI_RESPONSE);
        let r = FakeReply::error(529)
            .retry_after(2)
            .render(WireFormat::Anthropic, true, true);
        assert_eq!((r.status, body(&r).as_str()), (529, ANTHROPIC_529));
        assert!(r.headers.contains(&("retry-after", "2".to_owned())));
    }

    #[test]
    fn generated_streams_have_the_fixture_events() {
        let generated = anthropic_events(None, ANTHROPIC_FIXTURE_USAGE);
        let fixture = split_fixture(ANTHROPIC_STREAM, WireFormat::Anthropic);
        assert_eq!(generated.len(), fixture.len());
        for ((g, gd), (f, fd)) in generated.iter().zip(&fixture) {
            assert_eq!(g.lines().next(), f.lines().next());
            assert_eq!(gd, fd);
        }
        let generated = openai_events(None, Some(OPENAI_FIXTURE_USAGE));
        let fixture = split_fixture(OPENAI_STREAM, WireFormat::OpenAi);
        let flags = |v: &[(String, bool)]| v.iter().map(|e| e.1).collect::<Vec<_>>();
        assert_eq!(flags(&generated), flags(&fixture));
    }

    #[test]
    fn without_usage_follows_the_readme_recipe() {
        let r = FakeReply::success()
            .without_usage()
            .render(WireFormat::OpenAi, true, true);
        let text = body(&r);
        assert!(!text.contains("usage"));
        assert_eq!(text.matches("data: ").count(), 6);
    }

    #[test]
    fn stall_and_cut_stop_after_the_nth_delta() {
        let r = FakeReply::success()
            .cut_after(1)
            .render(WireFormat::Anthropic, true, true);
        let text = body(&r);
        assert!(text.ends_with("\"text\":\"Hello\"}}\n\n"));
        assert_eq!(r.ending, Ending::CutAfter(1));
        let r = FakeReply::text(["a", "b"])
            .stall_after(2)
            .render(WireFormat::OpenAi, true, true);
        let text = body(&r);
        let last = text.trim_end().rsplit("\n\n").next().unwrap();
        assert!(last.contains("\"content\":\"b\""), "{last}");
        assert!(!text.contains("\"stop\""));
        assert_eq!(r.ending, Ending::StallAfter(2));
    }

    #[test]
    fn stream_errors_after_any_delta() {
        let r = FakeReply::stream_error_after(0).render(WireFormat::Anthropic, true, true);
        let text = body(&r);
        assert!(!text.contains("text_delta"));
        assert!(text.starts_with("event: message_start"));
        assert!(text.ends_with("\"overloaded_error\", \"message\": \"Overloaded\"}}\n\n"));
        let r = FakeReply::stream_error_after(2).render(WireFormat::OpenAi, true, true);
        let text = body(&r);
        assert_eq!(text.matches("\"content\":\"").count(), 3);
        assert!(text.ends_with("\"code\":null}}\n\n"));
    }

    #[test]
    fn framing_variations() {
        let r = FakeReply::success()
            .crlf()
            .with_comments()
            .chunked(5)
            .render(WireFormat::Anthropic, true, true);
        assert!(r.parts.iter().all(|p| p.len() <= 5));
        let text = body(&r);
        assert!(text.starts_with(": keep-alive\r\nevent: message_start\r\n"));
        assert_eq!(text.matches(": keep-alive").count(), 9);
        assert!(!text.replace("\r\n", "").contains('\n'));
    }
}
