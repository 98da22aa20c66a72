//! What every worker shares: the store, the provider, the clock, wake-up signals and policy.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use vidgate_domain::{Clock, RetryPolicy};
use vidgate_providers::Provider;
use vidgate_store::{Slot, Store};

pub struct WorkerContext {
    pub store: Arc<dyn Store>,
    pub provider: Arc<dyn Provider>,
    pub clock: Arc<dyn Clock>,
    /// Names this process in leases (`host:pid:random`), for operators reading the table.
    pub owner: String,
    /// Backoff for retryable upstream errors on submit and poll.
    pub retry: RetryPolicy,
    /// How long a dispatcher may hold a task while submitting before the reaper takes it back.
    pub submit_lease: Duration,
    /// Rung when a slot frees or a task arrives.
    pub wake_dispatcher: Arc<Notify>,
    /// Rung when a task starts running or a cancel needs attention.
    pub wake_poller: Arc<Notify>,
}

impl WorkerContext {
    pub fn slots(&self) -> Vec<Slot> {
        self.provider.accounts().into_iter().map(|a| Slot { account: a.id, limit: a.concurrency }).collect()
    }

    pub fn pool(&self) -> &str {
        self.provider.pool()
    }

    pub fn now(&self) -> i64 {
        self.clock.now_ms()
    }
}

pub(crate) fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}
