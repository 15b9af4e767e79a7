//! Abuse limits on guessing: sign-in and one-time-token attempts (login, password reset, contact
//! verification, admin PIN) are limited per account and per address, on top of the per-caller
//! request limit. Every attempt counts, successful or not, so the limit cannot be probed for
//! which attempts failed.

use crate::error::{ApiError, ApiResult};
use crate::platform::rate_limit::RateLimiter;

/// Token buckets for one kind of attempt, keyed by account and by address.
#[derive(Debug)]
pub struct AttemptLimits {
    account: RateLimiter,
    address: RateLimiter,
}

impl AttemptLimits {
    /// `per_minute` attempts per account; each address gets five times as many across accounts.
    pub fn new(per_minute: u32) -> Self {
        Self {
            account: RateLimiter::new(per_minute),
            address: RateLimiter::new(per_minute.saturating_mul(5)),
        }
    }

    /// Takes one attempt of `kind` for `account` (a normalised email or a user id) and `address`;
    /// RATE_LIMITED when either is exhausted.
    pub fn check(&self, kind: &str, account: Option<&str>, address: Option<&str>) -> ApiResult<()> {
        if let Some(address) = address {
            self.address
                .check(&format!("{kind}:{address}"))
                .map_err(|retry_after| ApiError::RateLimited { retry_after })?;
        }
        if let Some(account) = account {
            self.account
                .check(&format!("{kind}:{account}"))
                .map_err(|retry_after| ApiError::RateLimited { retry_after })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_account_and_per_address() {
        let limits = AttemptLimits::new(2);
        assert!(limits.check("login", Some("a"), Some("ip1")).is_ok());
        assert!(limits.check("login", Some("a"), Some("ip2")).is_ok());
        let err = limits.check("login", Some("a"), Some("ip3")).unwrap_err();
        assert_eq!(
            err.code(),
            "RATE_LIMITED",
            "the account is exhausted from any address"
        );
        for n in 0..10 {
            assert!(
                limits
                    .check("login", Some(&format!("b{n}")), Some("ip9"))
                    .is_ok()
            );
        }
        let err = limits
            .check("login", Some("fresh"), Some("ip9"))
            .unwrap_err();
        assert_eq!(
            err.code(),
            "RATE_LIMITED",
            "the address is exhausted across accounts"
        );
        assert!(
            limits.check("pin", Some("a"), Some("ip1")).is_ok(),
            "kinds are independent"
        );
    }
}
