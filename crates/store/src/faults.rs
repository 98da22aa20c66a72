//! A store that fails on demand, for tests (feature `testing`): it wraps a real store and
//! delegates every call, except the next N calls of an operation a test named, which fail the
//! way an unreachable database fails, or answer "lease lost" (a fenced write that matched no
//! row). This reaches the branches a real database only takes in a race or an outage: a read
//! failing after a committed write, a lease lost between two steps of one attempt.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use vidgate_domain::pricing::Credits;
use vidgate_domain::{Millis, RequestId};

use crate::{
    Attempt, AttemptResult, CancelOutcome, Completion, Delivery, InsertOutcome, KeyRecord,
    KeyStore, Lease, ListQuery, LogEntry, NewKey, NewTask, QueueStats, ReapLimits, ReapReport,
    Result, Slot, Store, StoreError, StoreEvents, TaskRecord, TaskStore, WebhookSecrets,
    WebhookStore,
};

/// How an operation fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// As if the database were down (`StoreError::is_unavailable`).
    Unavailable,
    /// A fenced write answers `false`, as when another worker took the lease. Only for
    /// operations that answer `bool`; elsewhere it fails as `Unavailable`.
    LeaseLost,
}

pub struct FaultyStore {
    inner: Arc<dyn Store>,
    /// Operation name (the trait method's) → faults still to inject, in order.
    planned: Mutex<HashMap<&'static str, Vec<Fault>>>,
}

impl FaultyStore {
    pub fn new(inner: Arc<dyn Store>) -> Arc<FaultyStore> {
        Arc::new(FaultyStore { inner, planned: Mutex::default() })
    }

    /// The next `times` calls of `op` (a method name of the store traits) fail with `fault`.
    pub fn fail(&self, op: &'static str, fault: Fault, times: usize) {
        let mut planned = self.planned.lock().unwrap_or_else(|p| p.into_inner());
        planned.entry(op).or_default().extend(std::iter::repeat_n(fault, times));
    }

    /// Faults planned but not injected yet (a test checks its call was reached).
    pub fn pending(&self, op: &str) -> usize {
        let planned = self.planned.lock().unwrap_or_else(|p| p.into_inner());
        planned.get(op).map_or(0, Vec::len)
    }

    fn take(&self, op: &'static str) -> Option<Fault> {
        let mut planned = self.planned.lock().unwrap_or_else(|p| p.into_inner());
        let queue = planned.get_mut(op)?;
        (!queue.is_empty()).then(|| queue.remove(0))
    }

    fn check(&self, op: &'static str) -> Result<()> {
        match self.take(op) {
            Some(_) => Err(unavailable()),
            None => Ok(()),
        }
    }

    /// For fenced writes: `Some(false)` answers "lease lost" without touching the store.
    fn check_fenced(&self, op: &'static str) -> Result<Option<bool>> {
        match self.take(op) {
            Some(Fault::LeaseLost) => Ok(Some(false)),
            Some(Fault::Unavailable) => Err(unavailable()),
            None => Ok(None),
        }
    }
}

fn unavailable() -> StoreError {
    StoreError::Database(sqlx::Error::PoolTimedOut)
}

/// Delegates a call after checking for a planned fault.
macro_rules! pass {
    ($self:ident . $op:ident ( $($arg:expr),* )) => {{
        $self.check(stringify!($op))?;
        $self.inner.$op($($arg),*).await
    }};
}

/// Delegates a fenced write (`Result<bool>`), which may also "lose its lease".
macro_rules! fenced {
    ($self:ident . $op:ident ( $($arg:expr),* )) => {{
        if let Some(answer) = $self.check_fenced(stringify!($op))? {
            return Ok(answer);
        }
        $self.inner.$op($($arg),*).await
    }};
}

#[async_trait]
impl TaskStore for FaultyStore {
    /// With a `queue_position` fault planned, an insert answers no position of its own, so
    /// the caller's read after the commit is made (and meets the fault).
    async fn insert_task(&self, task: NewTask) -> Result<InsertOutcome> {
        let outcome = pass!(self.insert_task(task))?;
        Ok(match outcome {
            InsertOutcome::Inserted { task, .. } if self.pending("queue_position") > 0 => {
                InsertOutcome::Inserted { task, position: None }
            }
            other => other,
        })
    }
    async fn get_task(&self, key_id: &str, id: RequestId) -> Result<Option<TaskRecord>> {
        pass!(self.get_task(key_id, id))
    }
    async fn get_task_any(&self, id: RequestId) -> Result<Option<TaskRecord>> {
        pass!(self.get_task_any(id))
    }
    async fn list_tasks(&self, key_id: &str, query: &ListQuery) -> Result<Vec<TaskRecord>> {
        pass!(self.list_tasks(key_id, query))
    }
    async fn queue_position(&self, task: &TaskRecord) -> Result<i64> {
        pass!(self.queue_position(task))
    }
    async fn task_status(
        &self,
        key_id: &str,
        id: RequestId,
    ) -> Result<Option<(TaskRecord, Option<i64>)>> {
        pass!(self.task_status(key_id, id))
    }
    async fn task_logs(&self, id: RequestId) -> Result<Vec<LogEntry>> {
        pass!(self.task_logs(id))
    }
    async fn cancel_task(&self, key_id: &str, id: RequestId, now: Millis) -> Result<CancelOutcome> {
        pass!(self.cancel_task(key_id, id, now))
    }
    async fn forget_task(&self, key_id: &str, id: RequestId, now: Millis) -> Result<bool> {
        pass!(self.forget_task(key_id, id, now))
    }
    async fn claim_next_queued(
        &self,
        pool: &str,
        slots: &[Slot],
        owner: &str,
        now: Millis,
        lease_until: Millis,
    ) -> Result<Option<TaskRecord>> {
        pass!(self.claim_next_queued(pool, slots, owner, now, lease_until))
    }
    async fn mark_running(
        &self,
        lease: Lease,
        upstream_task_id: &str,
        next_poll_at: Millis,
        now: Millis,
        log: LogEntry,
    ) -> Result<bool> {
        fenced!(self.mark_running(lease, upstream_task_id, next_poll_at, now, log))
    }
    async fn requeue(
        &self,
        lease: Lease,
        run_after: Millis,
        now: Millis,
        log: LogEntry,
    ) -> Result<bool> {
        fenced!(self.requeue(lease, run_after, now, log))
    }
    async fn claim_next_poll(
        &self,
        pool: &str,
        owner: &str,
        now: Millis,
        lease_until: Millis,
    ) -> Result<Option<TaskRecord>> {
        pass!(self.claim_next_poll(pool, owner, now, lease_until))
    }
    async fn claim_next_reconcile(
        &self,
        pool: &str,
        owner: &str,
        now: Millis,
        lease_until: Millis,
    ) -> Result<Option<TaskRecord>> {
        pass!(self.claim_next_reconcile(pool, owner, now, lease_until))
    }
    async fn defer_reconcile(
        &self,
        lease: Lease,
        next_poll_at: Millis,
        now: Millis,
    ) -> Result<bool> {
        pass!(self.defer_reconcile(lease, next_poll_at, now))
    }
    async fn end_reconcile(
        &self,
        lease: Lease,
        end: crate::FollowEnd,
        now: Millis,
        log: LogEntry,
    ) -> Result<bool> {
        pass!(self.end_reconcile(lease, end, now, log))
    }
    async fn attach_upstream(
        &self,
        id: RequestId,
        upstream_task_id: &str,
        now: Millis,
    ) -> Result<bool> {
        pass!(self.attach_upstream(id, upstream_task_id, now))
    }
    async fn record_poll(
        &self,
        lease: Lease,
        progress: i64,
        next_poll_at: Millis,
        now: Millis,
        log: Option<LogEntry>,
    ) -> Result<bool> {
        fenced!(self.record_poll(lease, progress, next_poll_at, now, log))
    }
    async fn make_due(
        &self,
        id: Option<RequestId>,
        upstream_task_id: &str,
        now: Millis,
        min_gap: Millis,
    ) -> Result<bool> {
        fenced!(self.make_due(id, upstream_task_id, now, min_gap))
    }
    async fn extend_lease(&self, lease: Lease, until: Millis) -> Result<bool> {
        fenced!(self.extend_lease(lease, until))
    }
    async fn complete(
        &self,
        lease: Lease,
        completion: Completion,
        now: Millis,
        log: LogEntry,
    ) -> Result<bool> {
        fenced!(self.complete(lease, completion, now, log))
    }
    async fn append_log(&self, id: RequestId, entry: LogEntry) -> Result<()> {
        pass!(self.append_log(id, entry))
    }
    async fn reap(&self, now: Millis, limits: ReapLimits) -> Result<ReapReport> {
        pass!(self.reap(now, limits))
    }
    async fn slots_in_use(&self, pool: &str) -> Result<Vec<(String, i64)>> {
        pass!(self.slots_in_use(pool))
    }
    async fn queue_stats(&self, pool: &str) -> Result<QueueStats> {
        pass!(self.queue_stats(pool))
    }
}

#[async_trait]
impl KeyStore for FaultyStore {
    async fn create_key(&self, key: NewKey) -> Result<KeyRecord> {
        pass!(self.create_key(key))
    }
    async fn set_bootstrap_key(&self, key: Option<NewKey>, now: Millis) -> Result<()> {
        pass!(self.set_bootstrap_key(key, now))
    }
    async fn list_keys(&self) -> Result<Vec<KeyRecord>> {
        pass!(self.list_keys())
    }
    async fn revoke_key(&self, name: &str, now: Millis) -> Result<bool> {
        pass!(self.revoke_key(name, now))
    }
    async fn find_active_key(&self, key_hash: &str) -> Result<Option<KeyRecord>> {
        pass!(self.find_active_key(key_hash))
    }
    async fn count_active_keys(&self) -> Result<i64> {
        pass!(self.count_active_keys())
    }
    async fn active_key_hash(&self, key_id: &str) -> Result<Option<String>> {
        pass!(self.active_key_hash(key_id))
    }
    async fn key_by_id(&self, id: &str) -> Result<Option<KeyRecord>> {
        pass!(self.key_by_id(id))
    }
    async fn key_by_name(&self, name: &str) -> Result<Option<KeyRecord>> {
        pass!(self.key_by_name(name))
    }
    async fn set_key_limits(&self, name: &str, limits: crate::KeyLimits) -> Result<bool> {
        pass!(self.set_key_limits(name, limits))
    }
    async fn set_key_budget(&self, name: &str, budget: crate::KeyBudget) -> Result<bool> {
        pass!(self.set_key_budget(name, budget))
    }
    async fn webhook_secrets(&self, key_id: &str, now: Millis) -> Result<Option<WebhookSecrets>> {
        pass!(self.webhook_secrets(key_id, now))
    }
    async fn init_webhook_secret(&self, key_id: &str, secret: &str) -> Result<Option<String>> {
        pass!(self.init_webhook_secret(key_id, secret))
    }
    async fn rotate_webhook_secret(
        &self,
        name: &str,
        secret: &str,
        previous_until: Millis,
    ) -> Result<bool> {
        pass!(self.rotate_webhook_secret(name, secret, previous_until))
    }
}

#[async_trait]
impl WebhookStore for FaultyStore {
    async fn claim_due_delivery(
        &self,
        now: Millis,
        lease_until: Millis,
    ) -> Result<Option<Delivery>> {
        pass!(self.claim_due_delivery(now, lease_until))
    }
    async fn extend_delivery_lease(&self, delivery: &Delivery, until: Millis) -> Result<bool> {
        fenced!(self.extend_delivery_lease(delivery, until))
    }
    async fn freeze_payload(&self, delivery: &Delivery, payload: &str) -> Result<bool> {
        fenced!(self.freeze_payload(delivery, payload))
    }
    async fn record_attempt(
        &self,
        delivery: &Delivery,
        attempt: &Attempt,
        result: AttemptResult,
        now: Millis,
    ) -> Result<bool> {
        fenced!(self.record_attempt(delivery, attempt, result, now))
    }
    async fn delivery_for(
        &self,
        key_id: &str,
        task_id: RequestId,
    ) -> Result<Option<(Delivery, Vec<Attempt>)>> {
        pass!(self.delivery_for(key_id, task_id))
    }
    async fn redeliver(&self, key_id: &str, task_id: RequestId, now: Millis) -> Result<bool> {
        pass!(self.redeliver(key_id, task_id, now))
    }
}

#[async_trait]
impl crate::AccountStore for FaultyStore {
    async fn top_up(
        &self,
        key_id: &str,
        amount: Credits,
        note: &str,
        now: Millis,
    ) -> Result<crate::TopUp> {
        pass!(self.top_up(key_id, amount, note, now))
    }
    async fn balance(&self, key_id: &str, now: Millis) -> Result<Option<crate::Balance>> {
        pass!(self.balance(key_id, now))
    }
    async fn ledger(
        &self,
        key_id: Option<&str>,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<crate::LedgerEntry>> {
        pass!(self.ledger(key_id, after_seq, limit))
    }
    async fn usage(&self, query: &crate::UsageQuery) -> Result<Vec<crate::UsageRow>> {
        pass!(self.usage(query))
    }
}

#[async_trait]
impl crate::AuditStore for FaultyStore {
    async fn record_audit(&self, entry: crate::NewAudit) -> Result<()> {
        pass!(self.record_audit(entry))
    }
    async fn audit_log(&self, after_seq: i64, limit: i64) -> Result<Vec<crate::AuditEntry>> {
        pass!(self.audit_log(after_seq, limit))
    }
}

#[async_trait]
impl crate::MediaCatalog for FaultyStore {
    async fn record_media(&self, object: crate::MediaObject) -> Result<()> {
        pass!(self.record_media(object))
    }
    async fn media_of(&self, request_id: RequestId) -> Result<Vec<crate::MediaObject>> {
        pass!(self.media_of(request_id))
    }
    async fn expired_media(&self, now: Millis, limit: i64) -> Result<Vec<crate::MediaObject>> {
        pass!(self.expired_media(now, limit))
    }
    async fn mark_media_deleted(&self, id: RequestId, variant: &str, now: Millis) -> Result<bool> {
        pass!(self.mark_media_deleted(id, variant, now))
    }
    async fn media_totals(&self) -> Result<crate::MediaTotals> {
        pass!(self.media_totals())
    }
}

#[async_trait]
impl Store for FaultyStore {
    fn backend(&self) -> crate::Backend {
        self.inner.backend()
    }
    async fn schema_current(&self) -> Result<bool> {
        pass!(self.schema_current())
    }
    async fn events(&self) -> Result<Option<StoreEvents>> {
        pass!(self.events())
    }
}
