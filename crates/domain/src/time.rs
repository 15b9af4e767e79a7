//! Time. All timestamps are UTC and truncated to whole microseconds: PostgreSQL stores
//! microseconds, so a value created in memory must equal the value read back, or keyset cursors
//! built from one would not match rows stored as the other.

use chrono::{DateTime, SubsecRound, Utc};

/// The current time, truncated to microseconds.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Timelike;

    #[test]
    fn now_has_microsecond_precision() {
        assert_eq!(now().nanosecond() % 1_000, 0);
    }
}
