//! Abuse limits on guessing: sign-in and one-time-token attempts (login, password reset, contact
//! verification, admin PIN) are limited per account and per address, on top of the per-caller
//! request limit. Every attempt counts, successful or not, so the limit cannot be probed for
//! which attempts failed. With PostgreSQL the limits hold across every instance: each attempt the
//! in-memory bucket lets through is counted in the database (attempts are rare and
//! security-sensitive, so no leases: one statement per attempt and key); on SQLite, in memory.

use persistence::Db;

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
    /// In this process only.
    pub fn new(per_minute: u32) -> Self {
        Self {
            account: RateLimiter::new(per_minute),
            address: RateLimiter::new(per_minute.saturating_mul(5)),
        }
    }

    /// Like [`AttemptLimits::new`], across every instance using `db` when it is PostgreSQL.
    pub fn across_instances(per_minute: u32, db: &Db) -> Self {
        Self {
            account: RateLimiter::across_instances("attempt:account", per_minute, db, 1),
            address: RateLimiter::across_instances(
                "attempt:address",
                per_minute.saturating_mul(5),
                db,
                1,
            ),
        }
    }

    /// Takes one attempt of `kind` for `account` (a normalised email or a user id) and `address`;
    /// RATE_LIMITED when either is exhausted.
    pub async fn check(
        &self,
        kind: &str,
        account: Option<&str>,
        address: Option<&str>,
    ) -> ApiResult<()> {
        if let Some(address) = address {
            self.address
                .check(&format!("{kind}:{address}"))
                .await
                .map_err(|retry_after| ApiError::RateLimited { retry_after })?;
        }
        if let Some(account) = account {
            self.account
                .check(&format!("{kind}:{account}"))
                .await
                .map_err(|retry_after| ApiError::RateLimited { retry_after })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn limits_per_account_and_per_address() {
        let limits = AttemptLimits::new(2);
        assert!(limits.check("login", Some("a"), Some("ip1")).await.is_ok());
        assert!(limits.check("login", Some("a"), Some("ip2")).await.is_ok());
        let err = limits
            .check("login", Some("a"), Some("ip3"))
            .await
            .unwrap_err();
        assert_eq!(
            err.code(),
            "RATE_LIMITED",
            "the account is exhausted from any address"
        );
        for n in 0..10 {
            assert!(
                limits
                    .check("login", Some(&format!("b{n}")), Some("ip9"))
                    .await
                    .is_ok()
            );
        }
        let err = limits
            .check("login", Some("fresh"), Some("ip9"))
            .await
            .unwrap_err();
        assert_eq!(
            err.code(),
            "RATE_LIMITED",
            "the address is exhausted across accounts"
        );
        assert!(
            limits.check("pin", Some("a"), Some("ip1")).await.is_ok(),
            "kinds are independent"
        );
    }
}
