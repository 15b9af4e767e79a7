//! Callers authenticated in the last few seconds, so that a token sent again is not read again.
//!
//! Why: every authenticated request read its session from the database, one statement of four on
//! the small nested read of issue 8 (a quarter of its round trips and a sixth of its server CPU).
//! A client sends the same token many times a second (a page's queries, a script's loop), so the
//! caller it stands for is kept for [`AuthConfig::caller_cache`](crate::platform::config::AuthConfig)
//! (`COLLOQUY_CALLER_CACHE_MS`, 5 s by default).
//!
//! Why that is safe: a kept caller is served only while the [`AuthEpoch`] it was read under still
//! holds, and everything that ends or changes a credential through Colloquy (logout, revoking a
//! session or token, a password change, an admin deactivating, deleting or re-roling a user, a
//! guest upgraded or merged) publishes a sign-in event, which moves the epoch on this instance
//! before the mutation answers and on the others when their listener hears it (the same moment
//! their open WebSockets close). While an instance's listener is down nothing is kept. The
//! lifetime bounds only what no event announces: a change made in the database by hand, and a
//! listener whose connection died without an error. An entry also ends when its session or
//! token expires and when its once-a-minute use mark is due, so expiry and `lastUsedAt` read as
//! before. Tokens that are not valid are never kept: each try reads the database.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::Caller;
use crate::platform::events::AuthEpoch;

/// Callers by the hash of their token (the plaintext is never kept).
pub(super) struct KnownCallers {
    lifetime: Duration,
    entries: Mutex<HashMap<String, Known>>,
}

struct Known {
    caller: Caller,
    /// The epoch it was read under: it is served only while that is the current one.
    epoch: u64,
    until: Instant,
}

impl KnownCallers {
    /// Bounds memory against many distinct tokens; when full, what no longer holds is dropped,
    /// and everything if that is not enough (the next requests read their sessions again).
    const CAPACITY: usize = 10_000;

    /// Keeps callers for `lifetime` at most; zero keeps none.
    pub fn new(lifetime: Duration) -> Self {
        Self {
            lifetime,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, Known>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The caller kept for `token_hash`, if it still holds under `epoch`.
    pub fn get(&self, epoch: &AuthEpoch, token_hash: &str) -> Option<Caller> {
        if self.lifetime.is_zero() {
            return None;
        }
        let current = epoch.current()?;
        let mut entries = self.entries();
        let known = entries.get(token_hash)?;
        if known.epoch == current && Instant::now() < known.until {
            return Some(known.caller.clone());
        }
        entries.remove(token_hash);
        None
    }

    /// Keeps `caller`, read from the database after `ticket` was taken (`epoch.current()` before
    /// the read), for `valid_for` at most. Nothing is kept when the epoch moved since the ticket:
    /// the read may have come before a change that the event announced.
    pub fn keep(
        &self,
        epoch: &AuthEpoch,
        ticket: Option<u64>,
        token_hash: String,
        caller: Caller,
        valid_for: Duration,
    ) {
        let Some(ticket) = ticket else { return };
        let lifetime = self.lifetime.min(valid_for);
        if lifetime.is_zero() {
            return;
        }
        let now = Instant::now();
        let mut entries = self.entries();
        // Checked under the lock only to keep the map small: an epoch that moves right after
        // this check leaves an entry that `get` never serves.
        if epoch.current() != Some(ticket) {
            return;
        }
        if entries.len() >= Self::CAPACITY {
            entries.retain(|_, k| k.epoch == ticket && k.until > now);
            if entries.len() >= Self::CAPACITY {
                entries.clear();
            }
        }
        entries.insert(
            token_hash,
            Known {
                caller,
                epoch: ticket,
                until: now + lifetime,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use core_domain::{Actor, Role};

    use super::*;
    use crate::platform::events::{AuthEvent, EventBus};

    fn caller(user: &str) -> Caller {
        Caller {
            actor: Actor::new(user.to_owned(), Role::User),
            session_id: Some(format!("session of {user}")),
            scopes: None,
            token_id: None,
        }
    }

    const LONG: Duration = Duration::from_secs(60);

    #[test]
    fn a_caller_is_served_until_a_sign_in_event_and_not_kept_from_a_read_before_one() {
        let bus = EventBus::default();
        let epoch = bus.auth_epoch();
        let known = KnownCallers::new(LONG);

        let ticket = epoch.current();
        known.keep(epoch, ticket, "h1".into(), caller("ada"), LONG);
        assert_eq!(known.get(epoch, "h1").unwrap().actor.user_id, "ada");
        assert!(known.get(epoch, "h2").is_none());

        // Any sign-in event ends every kept caller at once (before `publish_auth` returns).
        bus.publish_auth(AuthEvent::SessionEnded {
            session_id: "another one".into(),
        });
        assert!(known.get(epoch, "h1").is_none());

        // A read that began before an event is not kept after it: it may predate the change.
        let before = epoch.current();
        bus.publish_auth(AuthEvent::UserChanged {
            user_id: "ada".into(),
        });
        known.keep(epoch, before, "h1".into(), caller("ada"), LONG);
        assert!(known.get(epoch, "h1").is_none());

        // One that began after it is.
        known.keep(epoch, epoch.current(), "h1".into(), caller("ada"), LONG);
        assert!(known.get(epoch, "h1").is_some());
    }

    #[test]
    fn a_caller_ends_with_its_credential_and_nothing_is_kept_with_a_zero_lifetime() {
        let bus = EventBus::default();
        let epoch = bus.auth_epoch();
        let known = KnownCallers::new(LONG);
        known.keep(
            epoch,
            epoch.current(),
            "h".into(),
            caller("ada"),
            Duration::ZERO,
        );
        assert!(
            known.get(epoch, "h").is_none(),
            "a session that expires now (or whose use mark is due) is read again"
        );

        let off = KnownCallers::new(Duration::ZERO);
        off.keep(epoch, epoch.current(), "h".into(), caller("ada"), LONG);
        assert!(off.get(epoch, "h").is_none());
    }

    #[test]
    fn many_tokens_stay_bounded() {
        let bus = EventBus::default();
        let epoch = bus.auth_epoch();
        let known = KnownCallers::new(LONG);
        for i in 0..KnownCallers::CAPACITY + 10 {
            known.keep(epoch, epoch.current(), format!("h{i}"), caller("ada"), LONG);
        }
        assert!(known.entries().len() <= KnownCallers::CAPACITY);
        let last = format!("h{}", KnownCallers::CAPACITY + 9);
        assert!(known.get(epoch, &last).is_some(), "the newest is kept");
    }
}
