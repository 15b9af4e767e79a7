//! Per-caller rate limits, per minute, keyed by caller (a user id, or an IP address when
//! anonymous). Every instance keeps a token bucket per key in memory: the cheap first filter.
//! With PostgreSQL a limit also holds across every instance sharing the database: a fixed
//! one-minute window counter per key in the database (`persistence::limits`), which never grants
//! more than the limit per window in total. On SQLite one server owns the file, so the in-memory
//! bucket is the whole limit.
//!
//! **Leases.** A limit checked on every request (the GraphQL request limit) must not cost a
//! statement per request, so each instance takes permits from the window's counter in blocks of
//! `block` (one UPDATE) and spends them locally; a block's unspent permits expire with the window.
//! The bound: across all instances at most `per_minute` checks pass per window, exactly; and since
//! each other instance may hold up to `block - 1` unspent permits, a caller spreading requests
//! over `I` instances is refused after at least `per_minute - (I - 1) * (block - 1)` of them.
//! It costs one statement per `block` requests per key and instance, and one per key and
//! instance in each minute it is used. Limits checked rarely (sends, sign-in attempts) use
//! blocks of 1: every check that the bucket lets through asks the database. Once the database has
//! refused a key for a window, this instance refuses it without asking until the window ends.
//! A fixed window lets a caller who waited spend a window's permits at its end and the next
//! window's at its start (the buckets smooth that per instance). When the database cannot be
//! reached the in-memory limit alone applies (logged).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use persistence::Db;
use persistence::sea_orm::DbBackend;

/// The length of a shared window, in seconds: limits are per minute.
const WINDOW_SECS: i64 = 60;

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// Allows `per_minute` events per key per minute, with bursts up to `per_minute`; in memory.
#[derive(Debug)]
struct Buckets {
    per_minute: u32,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl Buckets {
    fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn check_at(&self, key: &str, now: Instant) -> Result<(), Duration> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let capacity = f64::from(self.per_minute);
        let per_sec = capacity / 60.0;
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() > 100_000 {
            // Forget full buckets so memory stays bounded under many distinct callers.
            buckets.retain(|_, b| {
                b.tokens + now.duration_since(b.updated).as_secs_f64() * per_sec < capacity
            });
        }
        let bucket = buckets.entry(key.to_owned()).or_insert(Bucket {
            tokens: capacity,
            updated: now,
        });
        let refill = now.duration_since(bucket.updated).as_secs_f64() * per_sec;
        bucket.tokens = (bucket.tokens + refill).min(capacity);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / per_sec))
        }
    }
}

/// This instance's permits of one key's current window.
#[derive(Debug, Default)]
struct Lease {
    window_start: i64,
    /// Permits taken from the database and not spent yet.
    left: i64,
    /// The database granted nothing more in this window.
    exhausted: bool,
}

/// The database side of a limit (PostgreSQL only).
#[derive(Debug)]
struct Shared {
    db: Db,
    /// Names the limit in the counter's key (`request`, `send`, `login`...).
    kind: &'static str,
    /// Permits taken from the database at once.
    block: i64,
    leases: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Lease>>>>,
}

/// One per-minute limit: see the module documentation.
#[derive(Debug)]
pub struct RateLimiter {
    local: Buckets,
    shared: Option<Shared>,
}

impl RateLimiter {
    /// A limit kept in this process only (0 disables it).
    pub fn new(per_minute: u32) -> Self {
        Self {
            local: Buckets::new(per_minute),
            shared: None,
        }
    }

    /// A limit that, on PostgreSQL, holds across every instance using `db`, taking `block`
    /// permits from the database at a time (at least 1); in process only on SQLite. `kind` names
    /// the limit in the database.
    pub fn across_instances(kind: &'static str, per_minute: u32, db: &Db, block: u32) -> Self {
        let shared = (db.backend() == DbBackend::Postgres && per_minute > 0).then(|| Shared {
            db: db.clone(),
            kind,
            block: i64::from(block.clamp(1, per_minute)),
            leases: Mutex::new(HashMap::new()),
        });
        Self {
            local: Buckets::new(per_minute),
            shared,
        }
    }

    /// The lease block for a limit checked on every request: a twentieth of the limit (at most
    /// 50), so a key costs at most about 20 statements per minute and instance, and an instance
    /// strands at most 5% of the limit.
    pub fn request_block(per_minute: u32) -> u32 {
        (per_minute / 20).clamp(1, 50)
    }

    /// Takes one permit for `key`, or says how long until one may be available.
    pub async fn check(&self, key: &str) -> Result<(), Duration> {
        self.local.check_at(key, Instant::now())?;
        match &self.shared {
            Some(shared) => shared.check(key, i64::from(self.local.per_minute)).await,
            None => Ok(()),
        }
    }
}

impl Shared {
    async fn check(&self, key: &str, limit: i64) -> Result<(), Duration> {
        let now = core_domain::time::now();
        let (secs, nanos) = (now.timestamp(), now.timestamp_subsec_nanos());
        let window_start = secs - secs.rem_euclid(WINDOW_SECS);
        let until_next =
            Duration::from_secs(u64::try_from(window_start + WINDOW_SECS - secs).unwrap_or(1))
                .saturating_sub(Duration::from_nanos(u64::from(nanos)));
        let lease = self.lease(key, window_start);
        let mut lease = lease.lock().await;
        if lease.window_start != window_start {
            *lease = Lease {
                window_start,
                ..Lease::default()
            };
        }
        if lease.left == 0 {
            if lease.exhausted {
                return Err(until_next);
            }
            let counter = format!("{}:{key}", self.kind);
            match persistence::limits::take(
                self.db.conn(),
                &counter,
                window_start,
                limit,
                self.block,
            )
            .await
            {
                Ok(0) => {
                    lease.exhausted = true;
                    return Err(until_next);
                }
                Ok(granted) => lease.left = granted,
                Err(error) => {
                    tracing::warn!(%error, limit = self.kind, "cannot reach the shared rate limit; only this instance's applies");
                    return Ok(());
                }
            }
        }
        lease.left -= 1;
        Ok(())
    }

    /// The lease of `key`, created when missing; forgets leases of past windows when many.
    fn lease(&self, key: &str, window_start: i64) -> Arc<tokio::sync::Mutex<Lease>> {
        let mut leases = self.leases.lock().unwrap_or_else(PoisonError::into_inner);
        if leases.len() > 100_000 {
            leases.retain(|_, l| {
                Arc::strong_count(l) > 1
                    || l.try_lock().is_ok_and(|l| l.window_start == window_start)
            });
        }
        Arc::clone(leases.entry(key.to_owned()).or_default())
    }
}

/// Deletes the shared counters of windows that ended (PostgreSQL; nothing to do on SQLite).
pub async fn purge_past_windows(db: &Db) -> Result<u64, persistence::StoreError> {
    if db.backend() != DbBackend::Postgres {
        return Ok(0);
    }
    let now = core_domain::time::now().timestamp();
    persistence::limits::purge_before(db.conn(), now - now.rem_euclid(WINDOW_SECS)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_a_burst_then_refuses_then_refills() {
        let limiter = Buckets::new(3);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(limiter.check_at("u", t0).is_ok());
        }
        let wait = limiter.check_at("u", t0).unwrap_err();
        assert!(
            wait > Duration::from_secs(19) && wait <= Duration::from_secs(20),
            "{wait:?}"
        );
        assert!(
            limiter.check_at("other", t0).is_ok(),
            "keys are independent"
        );
        assert!(limiter.check_at("u", t0 + Duration::from_secs(20)).is_ok());
    }

    #[test]
    fn zero_means_unlimited() {
        let limiter = Buckets::new(0);
        for _ in 0..1000 {
            assert!(limiter.check_at("u", Instant::now()).is_ok());
        }
    }
}
