//! An incremental Server-Sent Events parser (WHATWG HTML "event stream interpretation").
//!
//! Bytes go in as they arrive, in chunks cut anywhere: inside a UTF-8 character, between the CR
//! and LF of a CRLF, inside a field name. Lines end with CRLF, LF or CR. Lines are decoded only
//! once complete, so a split character is never seen half; invalid UTF-8 becomes U+FFFD as the
//! spec says. `:` lines are comments (keep-alives). Several `data:` lines join with `\n`. An event
//! without `event:` has `event == None` (the spec's "message"). A blank line dispatches; a block
//! with no `data:` line dispatches nothing.
//!
//! One leniency: at the end of the body, [`SseParser::finish`] dispatches a last event whose lines
//! were complete but which lacked the closing blank line (some OpenAI-compatible servers end with
//! `data: [DONE]\n`). A final line without its line terminator is discarded, since it may have
//! been cut.

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    /// The `event:` field, `None` when absent.
    pub event: Option<String>,
    /// The `data:` lines joined with `\n`.
    pub data: String,
    /// The `id:` field, `None` when absent.
    pub id: Option<String>,
}

/// Incremental parser state. Feed it with [`SseParser::push`]; call [`SseParser::finish`] at EOF.
#[derive(Debug, Default)]
pub struct SseParser {
    /// Bytes of the line being received (no terminator).
    line: Vec<u8>,
    /// The previous chunk ended with CR: a leading LF in the next chunk belongs to it.
    after_cr: bool,
    /// A byte-order mark is skipped at the start of the first line only.
    started: bool,
    event: Option<String>,
    data: String,
    has_data: bool,
    id: Option<String>,
}

impl SseParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds a chunk and returns the events it completed, in order.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<SseEvent> {
        let mut out = Vec::new();
        let mut rest = chunk;
        if self.after_cr && !rest.is_empty() {
            self.after_cr = false;
            if rest[0] == b'\n' {
                rest = &rest[1..];
            }
        }
        while let Some(pos) = rest.iter().position(|&b| b == b'\n' || b == b'\r') {
            self.line.extend_from_slice(&rest[..pos]);
            let terminator = rest[pos];
            rest = &rest[pos + 1..];
            if terminator == b'\r' {
                match rest.first() {
                    Some(b'\n') => rest = &rest[1..],
                    Some(_) => {}
                    None => self.after_cr = true,
                }
            }
            let mut line = std::mem::take(&mut self.line);
            if !self.started {
                self.started = true;
                if line.starts_with(BOM) {
                    line.drain(..BOM.len());
                }
            }
            if let Some(event) = self.process_line(&line) {
                out.push(event);
            }
        }
        self.line.extend_from_slice(rest);
        out
    }

    /// Ends the stream: returns a last event that lacked its blank line, if any.
    pub fn finish(&mut self) -> Option<SseEvent> {
        self.line.clear();
        self.after_cr = false;
        self.dispatch()
    }

    fn process_line(&mut self, line: &[u8]) -> Option<SseEvent> {
        if line.is_empty() {
            return self.dispatch();
        }
        if line[0] == b':' {
            return None;
        }
        let text = String::from_utf8_lossy(line);
        let (field, value) = match text.find(':') {
            Some(i) => {
                let value = &text[i + 1..];
                (&text[..i], value.strip_prefix(' ').unwrap_or(value))
            }
            None => (text.as_ref(), ""),
        };
        match field {
            "event" => self.event = Some(value.to_owned()),
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            // The spec ignores ids containing NUL.
            "id" if !value.contains('\0') => self.id = Some(value.to_owned()),
            // `retry` and unknown fields do not concern a one-shot reader.
            _ => {}
        }
        None
    }

    fn dispatch(&mut self) -> Option<SseEvent> {
        let event = self.event.take();
        if !self.has_data {
            return None;
        }
        self.has_data = false;
        Some(SseEvent {
            event,
            data: std::mem::take(&mut self.data),
            id: self.id.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(event: Option<&str>, data: &str) -> SseEvent {
        SseEvent {
            event: event.map(str::to_owned),
            data: data.to_owned(),
            id: None,
        }
    }

    fn parse_all(chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut p = SseParser::new();
        let mut out = Vec::new();
        for c in chunks {
            out.extend(p.push(c));
        }
        out.extend(p.finish());
        out
    }

    /// Every way of cutting `input` in two, and byte by byte, gives the same events.
    fn assert_split_invariant(input: &[u8], expected: &[SseEvent]) {
        assert_eq!(parse_all(&[input]), expected, "whole");
        for cut in 0..=input.len() {
            let (a, b) = input.split_at(cut);
            assert_eq!(parse_all(&[a, b]), expected, "cut at {cut}");
        }
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(parse_all(&bytes), expected, "byte by byte");
    }

    #[test]
    fn named_and_unnamed_events() {
        let input = b"event: ping\ndata: {\"a\":1}\n\ndata: plain\n\n";
        assert_split_invariant(input, &[ev(Some("ping"), "{\"a\":1}"), ev(None, "plain")]);
    }

    #[test]
    fn every_line_ending() {
        let expected = [ev(Some("x"), "1"), ev(None, "2")];
        assert_split_invariant(b"event: x\r\ndata: 1\r\n\r\ndata: 2\r\n\r\n", &expected);
        assert_split_invariant(b"event: x\rdata: 1\r\rdata: 2\r\r", &expected);
        assert_split_invariant(b"event: x\ndata: 1\r\n\rdata: 2\n\r\n", &expected);
    }

    #[test]
    fn crlf_split_between_cr_and_lf_is_one_line_ending() {
        let mut p = SseParser::new();
        assert!(p.push(b"data: a\r").is_empty());
        // This LF ends the same line as the CR; the next CR ends the blank line.
        assert_eq!(p.push(b"\n\r\n"), vec![ev(None, "a")]);
    }

    #[test]
    fn comments_are_ignored() {
        assert_split_invariant(
            b": keep-alive\n\n:another\ndata: x\n: mid\n\n",
            &[ev(None, "x")],
        );
    }

    #[test]
    fn multi_line_data_joins_with_newline() {
        assert_split_invariant(
            b"data: first\ndata:second\ndata\ndata:  indented\n\n",
            &[ev(None, "first\nsecond\n\n indented")],
        );
    }

    #[test]
    fn utf8_split_inside_a_character() {
        let input = "data: héllo → 世界 🎉\n\n".as_bytes();
        assert_split_invariant(input, &[ev(None, "héllo → 世界 🎉")]);
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        let events = parse_all(&[b"data: a\xFFb\n\n"]);
        assert_eq!(events, vec![ev(None, "a\u{FFFD}b")]);
    }

    #[test]
    fn block_without_data_dispatches_nothing_and_resets_event_name() {
        assert_split_invariant(b"event: lonely\n\ndata: x\n\n", &[ev(None, "x")]);
    }

    #[test]
    fn id_and_unknown_fields() {
        let events = parse_all(&[b"id: 7\nretry: 10\nfoo: bar\ndata: x\n\n"]);
        assert_eq!(
            events,
            vec![SseEvent {
                event: None,
                data: "x".into(),
                id: Some("7".into())
            }]
        );
    }

    #[test]
    fn bom_is_stripped_only_at_start() {
        assert_split_invariant(b"\xEF\xBB\xBFdata: x\n\n", &[ev(None, "x")]);
    }

    #[test]
    fn finish_dispatches_complete_lines_but_drops_a_cut_line() {
        assert_eq!(parse_all(&[b"data: [DONE]\n"]), vec![ev(None, "[DONE]")]);
        assert_eq!(parse_all(&[b"data: [DONE]"]), vec![]);
        assert_eq!(
            parse_all(&[b"data: a\n\ndata: {\"cut"]),
            vec![ev(None, "a")]
        );
    }

    #[test]
    fn the_fixtures_parse_the_same_however_they_are_cut() {
        let anthropic = include_bytes!("../fixtures/anthropic/messages.stream.sse");
        let whole = parse_all(&[anthropic]);
        assert_eq!(whole.len(), 9);
        assert_eq!(whole[2], ev(Some("ping"), "{\"type\": \"ping\"}"));
        for size in 1..40 {
            let chunks: Vec<&[u8]> = anthropic.chunks(size).collect();
            assert_eq!(parse_all(&chunks), whole, "chunk size {size}");
        }
        let crlf = String::from_utf8_lossy(anthropic).replace('\n', "\r\n");
        for size in [1, 2, 3, 7] {
            let chunks: Vec<&[u8]> = crlf.as_bytes().chunks(size).collect();
            assert_eq!(parse_all(&chunks), whole, "crlf chunk size {size}");
        }
        let openai = parse_all(&[include_bytes!("../fixtures/openai/chat.stream.sse")]);
        assert_eq!(openai.len(), 7);
        assert_eq!(openai[6], ev(None, "[DONE]"));
    }
}
