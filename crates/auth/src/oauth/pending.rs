//! Sign-ins between the redirect to the provider and the callback.
//!
//! Each started sign-in is remembered under its `state` with the PKCE verifier, the provider and
//! the guest user (if any) who started it, so the callback can finish it and link the identity
//! to that guest. Entries are single-use and expire after a TTL (10 minutes by default), and the
//! store is bounded, so abandoned sign-ins cannot grow it without limit.
//!
//! The store is in memory and per server instance: with several gateway instances behind a load
//! balancer, the callback must reach the instance that started the sign-in, or this store must
//! move to the database (same operations: insert, take once, prune).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use crate::AuthError;

/// How long a started sign-in stays valid by default.
pub const DEFAULT_PENDING_TTL: Duration = Duration::from_secs(10 * 60);
/// How many sign-ins may be pending at once by default.
pub const DEFAULT_MAX_PENDING: usize = 10_000;

type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// A started sign-in.
#[derive(Clone, PartialEq, Eq)]
pub struct PendingAuthorization {
    /// The PKCE verifier for the code exchange.
    pub pkce_verifier: String,
    /// The provider id; the callback must come from the same provider.
    pub provider: String,
    /// The guest user who started the sign-in, whose data the identity will keep or merge.
    pub guest_user_id: Option<String>,
    /// When the sign-in started.
    pub created_at: DateTime<Utc>,
}

impl fmt::Debug for PendingAuthorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingAuthorization")
            .field("pkce_verifier", &"<redacted>")
            .field("provider", &self.provider)
            .field("guest_user_id", &self.guest_user_id)
            .field("created_at", &self.created_at)
            .finish()
    }
}

/// In-memory, per-instance store of started sign-ins keyed by `state`.
pub struct PendingAuthorizations {
    entries: Mutex<HashMap<String, PendingAuthorization>>,
    ttl: TimeDelta,
    max_entries: usize,
    clock: Clock,
}

impl Default for PendingAuthorizations {
    fn default() -> Self {
        PendingAuthorizations::new()
    }
}

impl fmt::Debug for PendingAuthorizations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingAuthorizations")
            .field("len", &self.len())
            .field("ttl", &self.ttl)
            .field("max_entries", &self.max_entries)
            .finish()
    }
}

impl PendingAuthorizations {
    /// An empty store with [`DEFAULT_PENDING_TTL`] and [`DEFAULT_MAX_PENDING`].
    pub fn new() -> Self {
        PendingAuthorizations {
            entries: Mutex::new(HashMap::new()),
            ttl: to_delta(DEFAULT_PENDING_TTL),
            max_entries: DEFAULT_MAX_PENDING,
            clock: Arc::new(Utc::now),
        }
    }

    /// The same store with entries expiring after `ttl`.
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = to_delta(ttl);
        self
    }

    /// The same store holding at most `max_entries` pending sign-ins.
    pub fn with_max_entries(mut self, max_entries: usize) -> Self {
        self.max_entries = max_entries;
        self
    }

    /// The same store reading time from `clock` instead of the system clock, for tests.
    pub fn with_clock(mut self, clock: impl Fn() -> DateTime<Utc> + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Remembers a started sign-in under its `state`.
    ///
    /// [`AuthError::TooManyPendingAuthorizations`] when the store is full of unexpired entries.
    pub fn insert(
        &self,
        state: impl Into<String>,
        pkce_verifier: impl Into<String>,
        provider: impl Into<String>,
        guest_user_id: Option<String>,
    ) -> Result<(), AuthError> {
        let now = (self.clock)();
        let mut entries = self.lock();
        if entries.len() >= self.max_entries {
            self.prune_locked(&mut entries, now);
            if entries.len() >= self.max_entries {
                return Err(AuthError::TooManyPendingAuthorizations);
            }
        }
        entries.insert(
            state.into(),
            PendingAuthorization {
                pkce_verifier: pkce_verifier.into(),
                provider: provider.into(),
                guest_user_id,
                created_at: now,
            },
        );
        Ok(())
    }

    /// Removes and returns the sign-in started under `state`; `None` when there is none, it was
    /// already taken, or it has expired. A `state` therefore works once.
    pub fn take(&self, state: &str) -> Option<PendingAuthorization> {
        let now = (self.clock)();
        let pending = self.lock().remove(state)?;
        (!self.is_expired(&pending, now)).then_some(pending)
    }

    /// Drops expired entries and returns how many were dropped. Inserting prunes when the store
    /// is full; call this periodically to free memory sooner.
    pub fn prune(&self) -> usize {
        let now = (self.clock)();
        let mut entries = self.lock();
        self.prune_locked(&mut entries, now)
    }

    /// Number of entries held, expired ones included until pruned.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn prune_locked(
        &self,
        entries: &mut HashMap<String, PendingAuthorization>,
        now: DateTime<Utc>,
    ) -> usize {
        let before = entries.len();
        entries.retain(|_, pending| !self.is_expired(pending, now));
        before - entries.len()
    }

    fn is_expired(&self, pending: &PendingAuthorization, now: DateTime<Utc>) -> bool {
        now - pending.created_at >= self.ttl
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, PendingAuthorization>> {
        // Every critical section leaves the map consistent, so a panic elsewhere while holding
        // the lock does not make its contents unusable.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn to_delta(ttl: Duration) -> TimeDelta {
    TimeDelta::from_std(ttl).unwrap_or(TimeDelta::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A clock the test moves by hand.
    fn manual_clock() -> (
        Arc<Mutex<DateTime<Utc>>>,
        impl Fn() -> DateTime<Utc> + Send + Sync,
    ) {
        let now = Arc::new(Mutex::new(Utc::now()));
        let reader = Arc::clone(&now);
        (now, move || *reader.lock().unwrap())
    }

    fn advance(clock: &Mutex<DateTime<Utc>>, by: Duration) {
        let mut now = clock.lock().unwrap();
        *now += TimeDelta::from_std(by).unwrap();
    }

    #[test]
    fn take_returns_the_entry_once() {
        let store = PendingAuthorizations::new();
        store
            .insert("s1", "verifier", "google", Some("guest-1".to_owned()))
            .unwrap();
        let pending = store.take("s1").unwrap();
        assert_eq!(pending.pkce_verifier, "verifier");
        assert_eq!(pending.provider, "google");
        assert_eq!(pending.guest_user_id.as_deref(), Some("guest-1"));
        assert!(store.take("s1").is_none());
        assert!(store.take("unknown").is_none());
        assert!(store.is_empty());
    }

    #[test]
    fn entries_expire_after_the_ttl() {
        let (now, clock) = manual_clock();
        let store = PendingAuthorizations::new().with_clock(clock);
        store.insert("fresh", "v1", "github", None).unwrap();
        store.insert("stale", "v2", "github", None).unwrap();

        advance(&now, DEFAULT_PENDING_TTL - Duration::from_secs(1));
        assert!(store.take("fresh").is_some());

        advance(&now, Duration::from_secs(1));
        assert!(store.take("stale").is_none());
        // An expired entry is consumed by the attempt, not left behind.
        assert!(store.is_empty());
    }

    #[test]
    fn prune_drops_only_expired_entries() {
        let (now, clock) = manual_clock();
        let store = PendingAuthorizations::new()
            .with_ttl(Duration::from_secs(60))
            .with_clock(clock);
        store.insert("old", "v", "google", None).unwrap();
        advance(&now, Duration::from_secs(30));
        store.insert("new", "v", "google", None).unwrap();
        advance(&now, Duration::from_secs(30));
        assert_eq!(store.prune(), 1);
        assert_eq!(store.len(), 1);
        assert!(store.take("new").is_some());
    }

    #[test]
    fn a_full_store_prunes_then_refuses() {
        let (now, clock) = manual_clock();
        let store = PendingAuthorizations::new()
            .with_ttl(Duration::from_secs(60))
            .with_max_entries(2)
            .with_clock(clock);
        store.insert("a", "v", "google", None).unwrap();
        store.insert("b", "v", "google", None).unwrap();
        assert!(matches!(
            store.insert("c", "v", "google", None),
            Err(AuthError::TooManyPendingAuthorizations)
        ));
        advance(&now, Duration::from_secs(60));
        store.insert("c", "v", "google", None).unwrap();
        assert_eq!(store.len(), 1);
    }

    #[test]
    fn debug_hides_verifiers() {
        let store = PendingAuthorizations::new();
        store.insert("s", "the-verifier", "google", None).unwrap();
        let pending = store.take("s").unwrap();
        assert!(!format!("{pending:?} {store:?}").contains("the-verifier"));
    }
}
