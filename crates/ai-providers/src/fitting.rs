//! Token estimates and fitting a conversation into a model's context window. Pure functions.
//!
//! The estimate is the usual rough rule of about four characters per token (counted in Unicode
//! scalar values), rounded up, plus a small allowance per message for the role framing. It is
//! meant for budgeting and for providers that report no usage, not for billing exact amounts.

use crate::types::{ChatMessage, Role};

const CHARS_PER_TOKEN: usize = 4;
/// Tokens the wire formats spend on each message's role markers.
const MESSAGE_OVERHEAD: u32 = 4;

/// About four characters per token, rounded up; 0 only for the empty string.
pub fn estimate_tokens(text: &str) -> u32 {
    let chars = text.chars().count();
    u32::try_from(chars.div_ceil(CHARS_PER_TOKEN)).unwrap_or(u32::MAX)
}

/// The estimated input tokens of a prompt: system text plus every message with its framing.
pub fn estimate_prompt_tokens(system: Option<&str>, messages: &[ChatMessage]) -> u32 {
    let system = system.map_or(0, |s| estimate_tokens(s).saturating_add(MESSAGE_OVERHEAD));
    messages
        .iter()
        .fold(system, |sum, m| sum.saturating_add(message_tokens(m)))
}

fn message_tokens(message: &ChatMessage) -> u32 {
    estimate_tokens(&message.content).saturating_add(MESSAGE_OVERHEAD)
}

/// Drops the oldest turns until the prompt fits `context_window` with room for `max_tokens` of
/// reply. The system prompt is never dropped, nor the newest user message (nor anything after
/// it); when even those do not fit they are returned alone and the provider will refuse the
/// request. Kept messages stay contiguous and in order, and once something was dropped the
/// history starts with a user message (a reply without its question only confuses the model,
/// and Anthropic requires the first message to be the user's).
pub fn fit_to_context(
    system: Option<&str>,
    messages: Vec<ChatMessage>,
    context_window: u32,
    max_tokens: u32,
) -> Vec<ChatMessage> {
    let budget = context_window
        .saturating_sub(max_tokens)
        .saturating_sub(estimate_prompt_tokens(system, &[]));
    let protected_from = messages
        .iter()
        .rposition(|m| m.role == Role::User)
        .unwrap_or(messages.len());
    let mut used = messages[protected_from..]
        .iter()
        .fold(0u32, |sum, m| sum.saturating_add(message_tokens(m)));
    let mut start = protected_from;
    while start > 0 {
        let cost = message_tokens(&messages[start - 1]);
        if used.saturating_add(cost) > budget {
            break;
        }
        used += cost;
        start -= 1;
    }
    if start > 0 && protected_from < messages.len() {
        while start < protected_from && messages[start].role == Role::Assistant {
            start += 1;
        }
    }
    let mut messages = messages;
    messages.drain(..start);
    messages
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turns(n: usize, words: usize) -> Vec<ChatMessage> {
        (0..n)
            .map(|i| {
                let text = format!("m{i} ") + &"word ".repeat(words);
                if i % 2 == 0 {
                    ChatMessage::user(text)
                } else {
                    ChatMessage::assistant(text)
                }
            })
            .collect()
    }

    #[test]
    fn estimates() {
        assert_eq!(estimate_tokens(""), 0);
        assert_eq!(estimate_tokens("a"), 1);
        assert_eq!(estimate_tokens("abcd"), 1);
        assert_eq!(estimate_tokens("abcde"), 2);
        // Characters, not bytes.
        assert_eq!(estimate_tokens("日本語です"), 2);
        assert_eq!(
            estimate_prompt_tokens(Some("abcd"), &[ChatMessage::user("abcdefgh")]),
            1 + 4 + 2 + 4
        );
    }

    #[test]
    fn everything_is_kept_when_it_fits() {
        let messages = turns(5, 3);
        assert_eq!(
            fit_to_context(Some("be nice"), messages.clone(), 10_000, 1_000),
            messages
        );
    }

    #[test]
    fn oldest_turns_go_first_and_history_starts_with_a_user_turn() {
        let messages = turns(9, 20);
        let each = message_tokens(&messages[0]);
        // Room for the system prompt, a reply and about 4.5 messages.
        let system_cost = estimate_prompt_tokens(Some("sys"), &[]);
        let window = 100 + system_cost + each * 9 / 2;
        let fitted = fit_to_context(Some("sys"), messages.clone(), window, 100);
        // 4 would fit, but the oldest of them is an assistant reply: it goes too.
        assert_eq!(fitted, messages[6..].to_vec());
        assert_eq!(fitted[0].role, Role::User);
        assert_eq!(fitted.last(), messages.last());
    }

    #[test]
    fn the_newest_user_message_survives_even_when_nothing_fits() {
        let mut messages = turns(4, 50);
        messages.push(ChatMessage::user("word ".repeat(1000)));
        let fitted = fit_to_context(Some(&"s".repeat(400)), messages.clone(), 200, 100);
        assert_eq!(fitted, vec![messages[4].clone()]);
    }

    #[test]
    fn an_assistant_prefill_after_the_newest_user_message_is_kept() {
        let mut messages = turns(6, 50);
        messages.push(ChatMessage::user("q"));
        messages.push(ChatMessage::assistant("Sure,"));
        let fitted = fit_to_context(None, messages.clone(), 30, 10);
        assert_eq!(fitted, messages[6..].to_vec());
    }

    #[test]
    fn no_user_message_keeps_the_newest_that_fit() {
        let messages = vec![
            ChatMessage::assistant("a".repeat(400)),
            ChatMessage::assistant("hi"),
        ];
        let fitted = fit_to_context(None, messages.clone(), 50, 10);
        assert_eq!(fitted, vec![messages[1].clone()]);
        assert!(fit_to_context(None, Vec::new(), 50, 10).is_empty());
    }
}
