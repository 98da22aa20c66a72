//! Durable webhook deliveries. One is enqueued (`sql/webhooks.rs::enqueue`) when a task with a
//! webhook URL ends, in the transaction that ends it; senders claim due deliveries with a lease, record every
//! attempt, and schedule the next one or finish.

use async_trait::async_trait;
use vidgate_domain::{DeliveryId, KeyId, Millis, RequestId};

use crate::Result;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    Pending,
    Delivered,
    /// Gave up: a non-retryable answer, or the retry schedule ran out.
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> DeliveryState {
        match s {
            "delivered" => DeliveryState::Delivered,
            "failed" => DeliveryState::Failed,
            _ => DeliveryState::Pending,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// Standard Webhooks' `webhook-id`.
    pub id: DeliveryId,
    pub task_id: RequestId,
    pub key_id: KeyId,
    pub url: String,
    /// Frozen at the first attempt.
    pub payload: Option<String>,
    pub state: DeliveryState,
    /// Attempts made in the current round.
    pub attempts: i64,
    pub next_attempt_at: Millis,
    pub created_at: Millis,
    pub delivered_at: Option<Millis>,
    pub fence: i64,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
}

/// One attempt, as recorded and as `GET …/webhooks` lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    pub at: Millis,
    /// The receiver's HTTP status, if it answered.
    pub status: Option<i64>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

/// What an attempt leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptResult {
    Delivered,
    RetryAt(Millis),
    Failed,
}

impl AttemptResult {
    /// Its name in metrics and logs: `delivered`, `retrying`, `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptResult::Delivered => "delivered",
            AttemptResult::RetryAt(_) => "retrying",
            AttemptResult::Failed => "failed",
        }
    }
}

#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// Claims the delivery that is due first, leased until `lease_until`.
    async fn claim_due_delivery(
        &self,
        now: Millis,
        lease_until: Millis,
    ) -> Result<Option<Delivery>>;

    /// Extends a claimed delivery's lease while its attempt runs (fenced); `false`: the claim
    /// is gone (another sender has it now).
    async fn extend_delivery_lease(&self, delivery: &Delivery, until: Millis) -> Result<bool>;

    /// Stores the payload the first attempt built (fenced).
    async fn freeze_payload(&self, delivery: &Delivery, payload: &str) -> Result<bool>;

    /// Records an attempt and what follows from it, releasing the lease (fenced).
    async fn record_attempt(
        &self,
        delivery: &Delivery,
        attempt: &Attempt,
        result: AttemptResult,
        now: Millis,
    ) -> Result<bool>;

    /// A request's delivery and its attempts, only for the key that owns the request.
    async fn delivery_for(
        &self,
        key_id: &KeyId,
        task_id: RequestId,
    ) -> Result<Option<(Delivery, Vec<Attempt>)>>;

    /// Sends a request's delivery again (same `webhook-id`, a new round of attempts).
    async fn redeliver(&self, key_id: &KeyId, task_id: RequestId, now: Millis) -> Result<bool>;
}
