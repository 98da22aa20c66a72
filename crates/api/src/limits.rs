//! Per-key limits at the HTTP edge: a token bucket for create calls and one for every other
//! call of a key (429 with `Retry-After` when empty), the per-key body size, and the queue
//! limits handed to the store (which checks them in the insert's transaction). Buckets run on
//! the app's clock, so tests drive them exactly. They live in each process, and hold across
//! replicas by shares: with N replicas alive (`replicas.rs`, from the store's heartbeat
//! table), each one enforces 1/N of a key's rate and burst, so a balancer spreading a key's
//! calls over them admits what one process would. (A key whose calls all reach one replica
//! gets 1/N there: never more than its rate, possibly less. The per-address bucket for
//! unknown keys stays per process.)
//!
//! Not `governor`: its buckets run on its own clock, and vidgate's limits differ per key and
//! change at run time (`vidgate keys limits`); a bucket is a dozen lines.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use vidgate_domain::Millis;
use vidgate_store::{KeyLimits, KeyRecord, QueueLimits};

use crate::ApiError;

/// The configured defaults (`[limits]`); 0 turns a limit off.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LimitsConfig {
    pub create_rate: f64,
    pub create_burst: i64,
    pub read_rate: f64,
    pub read_burst: i64,
    pub max_queued_per_key: i64,
    pub max_queue_length: i64,
    /// Status streams one key may have open at once (0: no limit).
    pub max_streams_per_key: usize,
    /// Per client address: calls that ask the store about a key or token it does not know
    /// (unknown keys, stream tokens), per second, in bursts of `unauthenticated_burst`.
    pub unauthenticated_rate: f64,
    pub unauthenticated_burst: i64,
}

impl LimitsConfig {
    /// No limits at all.
    pub const OFF: LimitsConfig = LimitsConfig {
        create_rate: 0.0,
        create_burst: 0,
        read_rate: 0.0,
        read_burst: 0,
        max_queued_per_key: 0,
        max_queue_length: 0,
        max_streams_per_key: 0,
        unauthenticated_rate: 0.0,
        unauthenticated_burst: 0,
    };

    /// The queue limits for a create by `key` (its own setting, else the default).
    pub fn queue(&self, key: &KeyRecord) -> QueueLimits {
        let positive = |n: i64| (n > 0).then_some(n);
        QueueLimits {
            per_key: positive(key.limits.max_queued.unwrap_or(self.max_queued_per_key)),
            total: positive(self.max_queue_length),
        }
    }
}

/// Which bucket a call draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Bucket {
    Create,
    Read,
    /// Calls from one client address that reach the store without a known key.
    Unauthenticated,
}

#[derive(Debug, Clone, Copy)]
struct State {
    tokens: f64,
    at: Millis,
}

/// Buckets kept after this many keys have been seen are pruned of full (idle) ones.
const PRUNE_AT: usize = 50_000;

pub struct RateLimiter {
    buckets: Mutex<HashMap<(String, Bucket), State>>,
    /// How many replicas share each key's limits (1 alone).
    replicas: AtomicU64,
}

impl Default for RateLimiter {
    fn default() -> Self {
        RateLimiter { buckets: Mutex::default(), replicas: AtomicU64::new(1) }
    }
}

impl RateLimiter {
    /// Sets how many replicas share each key's limits (from the last heartbeat).
    pub fn set_replicas(&self, n: u64) {
        self.replicas.store(n.max(1), Ordering::Relaxed);
    }

    pub fn replicas(&self) -> u64 {
        self.replicas.load(Ordering::Relaxed)
    }

    /// Takes a token from the bucket of the key `key_id` (whose own limits are `own`), or
    /// says in how many seconds one will be there.
    pub fn take(
        &self,
        key_id: &str,
        own: &KeyLimits,
        bucket: Bucket,
        cfg: &LimitsConfig,
        now: Millis,
    ) -> Result<(), ApiError> {
        self.draw(key_id, own, bucket, cfg, now, 1.0)
    }

    /// Like `take`, but only checks that a token is there, taking none.
    pub fn peek(
        &self,
        key_id: &str,
        bucket: Bucket,
        cfg: &LimitsConfig,
        now: Millis,
    ) -> Result<(), ApiError> {
        self.draw(key_id, &KeyLimits::default(), bucket, cfg, now, 0.0)
    }

    fn draw(
        &self,
        key_id: &str,
        own: &KeyLimits,
        bucket: Bucket,
        cfg: &LimitsConfig,
        now: Millis,
        cost: f64,
    ) -> Result<(), ApiError> {
        let (rate, burst) = match bucket {
            Bucket::Create => (
                own.create_rate.unwrap_or(cfg.create_rate),
                own.create_burst.unwrap_or(cfg.create_burst),
            ),
            Bucket::Read => (cfg.read_rate, cfg.read_burst),
            Bucket::Unauthenticated => (cfg.unauthenticated_rate, cfg.unauthenticated_burst),
        };
        if rate.is_nan() || rate <= 0.0 {
            return Ok(());
        }
        // This replica's share of a key's limits; an address's bucket is its own.
        let share = match bucket {
            Bucket::Create | Bucket::Read => self.replicas() as f64,
            Bucket::Unauthenticated => 1.0,
        };
        let (full_rate, full_burst) = (rate, burst.max(1));
        let rate = rate / share;
        let burst = (full_burst as f64 / share).max(1.0);
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= PRUNE_AT {
            buckets.retain(|_, s| s.tokens + (now - s.at) as f64 / 1000.0 * rate < burst);
        }
        let state =
            buckets.entry((key_id.to_owned(), bucket)).or_insert(State { tokens: burst, at: now });
        let elapsed = (now - state.at).max(0) as f64 / 1000.0;
        state.tokens = (state.tokens + elapsed * rate).min(burst);
        state.at = now;
        if state.tokens >= 1.0 {
            state.tokens -= cost;
            return Ok(());
        }
        let wait = ((1.0 - state.tokens) / rate).ceil().max(1.0) as u64;
        let detail = match bucket {
            Bucket::Create => format!(
                "rate limit: this key may make {full_rate} create calls per second (bursts of {full_burst}); retry in {wait} s"
            ),
            Bucket::Read => format!(
                "rate limit: this key may make {full_rate} calls per second (bursts of {full_burst}); retry in {wait} s"
            ),
            Bucket::Unauthenticated => format!(
                "too many calls with unknown keys or tokens from this address; retry in {wait} s"
            ),
        };
        Err(ApiError::TooManyRequests {
            detail,
            code: crate::ErrorCode::RateLimited,
            retry_after: wait,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(limits: KeyLimits) -> KeyRecord {
        KeyRecord {
            id: "k".into(),
            name: "k".into(),
            prefix: "vg_".into(),
            created_at: 0,
            revoked_at: None,
            limits,
            role: Default::default(),
            budget: Default::default(),
        }
    }

    fn cfg() -> LimitsConfig {
        LimitsConfig { create_rate: 2.0, create_burst: 3, read_rate: 0.0, ..LimitsConfig::OFF }
    }

    #[test]
    fn a_burst_passes_then_the_rate_refills_it() {
        let (l, k) = (RateLimiter::default(), key(KeyLimits::default()));
        for _ in 0..3 {
            l.take(&k.id, &k.limits, Bucket::Create, &cfg(), 0).unwrap();
        }
        match l.take(&k.id, &k.limits, Bucket::Create, &cfg(), 0) {
            Err(ApiError::TooManyRequests { retry_after, .. }) => assert_eq!(retry_after, 1),
            other => panic!("{other:?}"),
        }
        l.take(&k.id, &k.limits, Bucket::Create, &cfg(), 500).unwrap();
        assert!(l.take(&k.id, &k.limits, Bucket::Create, &cfg(), 500).is_err());
        // Reads are unlimited here, and a key's own rate wins over the default.
        for _ in 0..100 {
            l.take(&k.id, &k.limits, Bucket::Read, &cfg(), 500).unwrap();
        }
        let slow = key(KeyLimits {
            create_rate: Some(0.1),
            create_burst: Some(1),
            ..KeyLimits::default()
        });
        let l = RateLimiter::default();
        l.take(&slow.id, &slow.limits, Bucket::Create, &cfg(), 0).unwrap();
        match l.take(&slow.id, &slow.limits, Bucket::Create, &cfg(), 0) {
            Err(ApiError::TooManyRequests { retry_after, .. }) => assert_eq!(retry_after, 10),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn queue_limits_take_the_keys_own_setting_and_zero_means_none() {
        let c = LimitsConfig { max_queued_per_key: 5, max_queue_length: 0, ..LimitsConfig::OFF };
        assert_eq!(
            c.queue(&key(KeyLimits::default())),
            QueueLimits { per_key: Some(5), total: None }
        );
        let own = key(KeyLimits { max_queued: Some(0), ..KeyLimits::default() });
        assert_eq!(c.queue(&own), QueueLimits { per_key: None, total: None });
    }

    #[test]
    fn with_two_replicas_each_takes_half_of_a_keys_rate_and_burst() {
        let (l, k) = (RateLimiter::default(), key(KeyLimits::default()));
        let cfg = LimitsConfig { create_rate: 2.0, create_burst: 4, ..LimitsConfig::OFF };
        l.set_replicas(2);
        for _ in 0..2 {
            l.take(&k.id, &k.limits, Bucket::Create, &cfg, 0).unwrap();
        }
        match l.take(&k.id, &k.limits, Bucket::Create, &cfg, 0) {
            // The answer states the key's whole limit, and the wait at this replica's share.
            Err(ApiError::TooManyRequests { retry_after, detail, .. }) => {
                assert_eq!(retry_after, 1);
                assert!(detail.contains("2 create calls per second (bursts of 4)"), "{detail}");
            }
            other => panic!("{other:?}"),
        }
        // A second refills one token here (1/s), not two.
        l.take(&k.id, &k.limits, Bucket::Create, &cfg, 1000).unwrap();
        assert!(l.take(&k.id, &k.limits, Bucket::Create, &cfg, 1000).is_err());
        // Back to one replica: the whole rate again.
        l.set_replicas(0);
        assert_eq!(l.replicas(), 1, "never fewer than this one");
    }
}
