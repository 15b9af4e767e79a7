//! The audit log: every mutation records what it changed in an `events` row, on the same
//! connection (the same transaction) as the change, so a change is never committed without its
//! record nor recorded without being committed.
//!
//! Services call [`record`] inside their transaction:
//!
//! ```ignore
//! let txn = self.db.conn().begin().await?;
//! let journal = journals::create(&txn, new).await?;
//! audit::record(&txn, Some(&caller.actor.user_id), "journal.saved", "Journal", &journal.id,
//!     json!({ "title": journal.title })).await?;
//! txn.commit().await?;
//! ```
//!
//! The summary is redacted here, whatever the caller passed: a value under a key that names a
//! secret (password, token, secret, PIN, key, hash, authorization, cookie) is replaced by
//! `"[redacted]"`, and long strings are cut, so the log can be read by administrators without
//! showing them anyone's credentials or whole private texts. The request id comes from the
//! request being served ([`in_request`], set by the HTTP and WebSocket transports); background
//! work records none.

use std::future::Future;

use persistence::audit::{self, NewEvent};
use persistence::sea_orm::ConnectionTrait;
use serde_json::Value;

use crate::error::ApiResult;

tokio::task_local! {
    static REQUEST_ID: Option<String>;
}

/// Runs `work` as part of the request `request_id`, so the audit rows it writes carry it.
pub async fn in_request<F: Future>(request_id: Option<String>, work: F) -> F::Output {
    REQUEST_ID.scope(request_id, work).await
}

/// The id of the request being served, if any.
pub fn request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok().flatten()
}

/// Longest string kept in a summary, in characters.
const MAX_TEXT: usize = 200;
/// What a redacted value reads as.
pub const REDACTED: &str = "[redacted]";

/// Whether a summary key names something secret.
fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    [
        "password",
        "token",
        "secret",
        "pin",
        "key",
        "hash",
        "authorization",
        "cookie",
        "credential",
    ]
    .iter()
    .any(|word| key.contains(word))
}

/// `summary` with secrets replaced and long strings cut.
pub fn redact(summary: Value) -> Value {
    match summary {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let v = if is_secret_key(&k) {
                        Value::String(REDACTED.to_owned())
                    } else {
                        redact(v)
                    };
                    (k, v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(redact).collect()),
        Value::String(s) if s.chars().count() > MAX_TEXT => {
            let mut cut: String = s.chars().take(MAX_TEXT).collect();
            cut.push('…');
            Value::String(cut)
        }
        other => other,
    }
}

/// Records `action` (`area.verb`, e.g. `journal.saved`; the area is the part before the dot) by
/// `actor_id` on the entity `entity_type`/`entity_id`, with `summary` redacted, on `conn`.
pub async fn record(
    conn: &impl ConnectionTrait,
    actor_id: Option<&str>,
    action: &str,
    entity_type: &str,
    entity_id: &str,
    summary: Value,
) -> ApiResult<()> {
    let source = action.split('.').next().unwrap_or(action).to_owned();
    audit::record(
        conn,
        NewEvent {
            action: action.to_owned(),
            source,
            actor_id: actor_id.map(str::to_owned),
            entity_type: Some(entity_type.to_owned()),
            entity_id: Some(entity_id.to_owned()),
            request_id: request_id(),
            summary: redact(summary),
        },
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_are_redacted_at_any_depth() {
        let out = redact(json!({
            "title": "kept",
            "password": "hunter2",
            "nested": { "apiKey": "sk-live", "accessToken": "t", "name": "kept" },
            "list": [{ "pinCode": "1234" }],
        }));
        assert_eq!(out["title"], "kept");
        assert_eq!(out["password"], REDACTED);
        assert_eq!(out["nested"]["apiKey"], REDACTED);
        assert_eq!(out["nested"]["accessToken"], REDACTED);
        assert_eq!(out["nested"]["name"], "kept");
        assert_eq!(out["list"][0]["pinCode"], REDACTED);
    }

    #[test]
    fn long_text_is_cut() {
        let out = redact(json!({ "content": "x".repeat(1000) }));
        assert_eq!(
            out["content"].as_str().map(|s| s.chars().count()),
            Some(201)
        );
    }
}
