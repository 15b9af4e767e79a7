//! The pure rules of research data: what an observation note and a telemetry event may hold.

use chrono::{DateTime, Duration, SubsecRound, Utc};

use crate::validation::ValidationError;

/// Longest observation note, in characters.
pub const MAX_NOTE_LEN: usize = 10_000;
/// Most telemetry events one call may record.
pub const MAX_EVENTS_PER_CALL: usize = 100;
/// Largest `properties` object of one event, in bytes of compact JSON.
pub const MAX_PROPERTIES_BYTES: usize = 8 * 1024;
/// How far ahead of the server's clock an event's `occurredAt` may be (clock skew).
pub const MAX_FUTURE_SKEW: Duration = Duration::minutes(5);
/// How old an event's `occurredAt` may be (clients that were offline send late, not forever).
pub const MAX_EVENT_AGE: Duration = Duration::days(30);

/// A note's text: not blank, at most [`MAX_NOTE_LEN`] characters.
pub fn check_note(content: &str) -> Result<(), ValidationError> {
    if content.trim().is_empty() {
        return Err(ValidationError::new("content", "must not be empty"));
    }
    if content.chars().count() > MAX_NOTE_LEN {
        return Err(ValidationError::new(
            "content",
            format!("must be at most {MAX_NOTE_LEN} characters"),
        ));
    }
    Ok(())
}

/// An event name: a lowercase letter, then up to 63 of `a-z 0-9 _ . : -`
/// (`conversation_started`, `scenario.opened`, `coach:tip-shown`).
pub fn check_event_name(name: &str) -> Result<(), ValidationError> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase());
    let rest_ok = chars.all(|c| {
        c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.' | ':' | '-')
    });
    if first_ok && rest_ok && name.len() <= 64 {
        Ok(())
    } else {
        Err(ValidationError::new(
            "events.name",
            format!(
                "{:?} is not an event name: a lowercase letter, then up to 63 of a-z, 0-9, _ . : -",
                name.chars().take(80).collect::<String>()
            ),
        ))
    }
}

/// An event's properties: a JSON object (null means `{}`) of at most [`MAX_PROPERTIES_BYTES`].
pub fn check_properties(
    properties: Option<serde_json::Value>,
) -> Result<serde_json::Value, ValidationError> {
    let value = match properties {
        None | Some(serde_json::Value::Null) => return Ok(serde_json::json!({})),
        Some(v) => v,
    };
    if !value.is_object() {
        return Err(ValidationError::new(
            "events.properties",
            "must be a JSON object",
        ));
    }
    let size = serde_json::to_vec(&value)
        .map(|b| b.len())
        .unwrap_or(usize::MAX);
    if size > MAX_PROPERTIES_BYTES {
        return Err(ValidationError::new(
            "events.properties",
            format!("must be at most {MAX_PROPERTIES_BYTES} bytes of JSON (got {size})"),
        ));
    }
    Ok(value)
}

/// When an event happened: `occurred_at` when given (not after `now` + [`MAX_FUTURE_SKEW`], not
/// before `now` − [`MAX_EVENT_AGE`]), else `now`.
pub fn event_time(
    occurred_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, ValidationError> {
    let Some(at) = occurred_at else {
        return Ok(now);
    };
    if at > now + MAX_FUTURE_SKEW {
        return Err(ValidationError::new(
            "events.occurredAt",
            "must not be in the future",
        ));
    }
    if at < now - MAX_EVENT_AGE {
        return Err(ValidationError::new(
            "events.occurredAt",
            "must be within the last 30 days",
        ));
    }
    Ok(at.trunc_subsecs(6))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_names() {
        for ok in [
            "a",
            "message_sent",
            "scenario.opened",
            "coach:tip-shown",
            "x9",
        ] {
            assert!(check_event_name(ok).is_ok(), "{ok}");
        }
        let long = format!("a{}", "b".repeat(63));
        assert!(check_event_name(&long).is_ok());
        for bad in [
            "",
            "9lives",
            "Upper",
            "has space",
            "emoji😀",
            "_x",
            &format!("{long}c"),
        ] {
            let e = check_event_name(bad).unwrap_err();
            assert_eq!(e.field, "events.name", "{bad}");
        }
    }

    #[test]
    fn properties_are_bounded_objects() {
        assert_eq!(check_properties(None).unwrap(), serde_json::json!({}));
        assert!(check_properties(Some(serde_json::json!([1]))).is_err());
        assert!(check_properties(Some(serde_json::json!({"a": 1}))).is_ok());
        let big = serde_json::json!({ "s": "x".repeat(MAX_PROPERTIES_BYTES) });
        assert_eq!(
            check_properties(Some(big)).unwrap_err().field,
            "events.properties"
        );
    }

    #[test]
    fn event_times() {
        let now = crate::time::now();
        assert_eq!(event_time(None, now).unwrap(), now);
        assert!(event_time(Some(now - Duration::days(1)), now).is_ok());
        assert!(event_time(Some(now + Duration::minutes(1)), now).is_ok());
        assert!(event_time(Some(now + Duration::hours(1)), now).is_err());
        assert!(event_time(Some(now - Duration::days(31)), now).is_err());
    }

    #[test]
    fn notes() {
        assert!(check_note("seems anxious at turn 3").is_ok());
        assert!(check_note("  ").is_err());
        assert!(check_note(&"x".repeat(MAX_NOTE_LEN + 1)).is_err());
    }
}
