//! Time. All timestamps are UTC and truncated to whole microseconds: PostgreSQL stores
//! microseconds, so a value created in memory must equal the value read back, or keyset cursors
//! built from one would not match rows stored as the other.

use chrono::{DateTime, SubsecRound, Utc};

/// The current time, truncated to microseconds.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// How stale a "last used" mark may get before a request refreshes it. Sessions and API tokens
/// record use at most this often, so busy clients do not turn every read into a write.
pub const USE_MARK_INTERVAL: chrono::Duration = chrono::Duration::seconds(60);

/// Whether a credential last marked used at `last_used` should be marked again at `now`.
pub fn needs_use_mark(last_used: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    last_used.is_none_or(|at| now - at >= USE_MARK_INTERVAL)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Timelike;

    #[test]
    fn use_marks_are_refreshed_at_most_once_a_minute() {
        let t = now();
        assert!(needs_use_mark(None, t));
        assert!(!needs_use_mark(Some(t), t));
        assert!(!needs_use_mark(Some(t - chrono::Duration::seconds(59)), t));
        assert!(needs_use_mark(Some(t - chrono::Duration::seconds(60)), t));
    }

    #[test]
    fn now_has_microsecond_precision() {
        assert_eq!(now().nanosecond() % 1_000, 0);
    }
}
