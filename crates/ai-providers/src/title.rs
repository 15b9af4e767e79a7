//! Conversation titles: the one prompt every provider gets asked, and tidying its answer.
//!
//! The gateway builds the request with [`title_request`] and sends it with
//! [`crate::Provider::complete`]. A request is a title request when its system prompt is exactly
//! [`TITLE_SYSTEM_PROMPT`]; the offline local provider recognises it that way and answers with
//! [`fallback_title`] (the first words of the message), which is also what the gateway can use
//! when a provider fails.

use crate::types::{ChatMessage, CompletionRequest};

/// The system prompt of a title request.
pub const TITLE_SYSTEM_PROMPT: &str = "You name conversations. Reply with a short title (at most \
six words) for a conversation that starts with the user's message. Reply with the title only: \
no quotes, no final punctuation.";

/// Enough for six words in any language.
pub const TITLE_MAX_TOKENS: u32 = 24;

/// Titles longer than this are cut at a word boundary.
const MAX_TITLE_CHARS: usize = 60;
/// Only the start of a long first message is sent: it is enough to name it and costs less.
const MAX_PROMPT_CHARS: usize = 2_000;
const FALLBACK_WORDS: usize = 6;
const DEFAULT_TITLE: &str = "New Conversation";

/// The request asking `model` to name a conversation that starts with `first_message`.
pub fn title_request(model: &str, first_message: &str) -> CompletionRequest {
    let excerpt: String = first_message.chars().take(MAX_PROMPT_CHARS).collect();
    CompletionRequest {
        system: Some(TITLE_SYSTEM_PROMPT.to_owned()),
        temperature: Some(0.0),
        ..CompletionRequest::new(model, vec![ChatMessage::user(excerpt)], TITLE_MAX_TOKENS)
    }
}

/// Whether `req` was built by [`title_request`].
pub fn is_title_request(req: &CompletionRequest) -> bool {
    req.system.as_deref() == Some(TITLE_SYSTEM_PROMPT)
}

/// Tidies a model's answer: one line, no surrounding quotes, no `Title:` prefix, no final
/// punctuation, at most 60 characters. `None` when nothing is left.
pub fn clean_title(raw: &str) -> Option<String> {
    let line = raw.lines().map(str::trim).find(|l| !l.is_empty())?;
    let line = strip_prefix_ignore_case(line, "title:").unwrap_or(line);
    let line = line
        .trim()
        .trim_matches(|c: char| matches!(c, '"' | '\'' | '“' | '”' | '‘' | '’' | '*' | '#' | '`'))
        .trim()
        .trim_end_matches(['.', '!', '?', ':', ';', ','])
        .trim();
    let collapsed = line.split_whitespace().collect::<Vec<_>>().join(" ");
    let title = truncate_at_word(&collapsed, MAX_TITLE_CHARS);
    (!title.is_empty()).then_some(title)
}

/// The first few words of `first_message`, or "New Conversation" when it has none.
pub fn fallback_title(first_message: &str) -> String {
    let words: Vec<&str> = first_message
        .split_whitespace()
        .take(FALLBACK_WORDS)
        .collect();
    clean_title(&words.join(" ")).unwrap_or_else(|| DEFAULT_TITLE.to_owned())
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

fn truncate_at_word(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_owned();
    }
    let cut: String = text.chars().take(max_chars).collect();
    match cut.rfind(' ') {
        Some(space) if space > 0 => cut[..space].to_owned(),
        _ => cut,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_shape() {
        let req = title_request("gpt-4o-mini", &"x".repeat(5000));
        assert!(is_title_request(&req));
        assert_eq!(req.messages.len(), 1);
        assert_eq!(req.messages[0].content.len(), MAX_PROMPT_CHARS);
        assert_eq!(req.max_tokens, TITLE_MAX_TOKENS);
        let mut other = req.clone();
        other.system = Some("You are a pirate.".into());
        assert!(!is_title_request(&other));
    }

    #[test]
    fn cleaning() {
        assert_eq!(
            clean_title("\"Trip to Lisbon.\"\n").as_deref(),
            Some("Trip to Lisbon")
        );
        assert_eq!(
            clean_title("Title: **Rust   lifetimes**").as_deref(),
            Some("Rust lifetimes")
        );
        assert_eq!(
            clean_title("\n\nFirst line\nsecond").as_deref(),
            Some("First line")
        );
        assert_eq!(clean_title("  \"\" "), None);
        let long = clean_title(&"word ".repeat(40)).unwrap();
        assert!(long.chars().count() <= MAX_TITLE_CHARS);
        assert!(long.ends_with("word"));
    }

    #[test]
    fn fallback_takes_the_first_words() {
        assert_eq!(
            fallback_title("How do I bake sourdough bread at home without a starter?"),
            "How do I bake sourdough bread"
        );
        assert_eq!(fallback_title("Hi!"), "Hi");
        assert_eq!(fallback_title("   "), "New Conversation");
    }
}
