//! The task side of the store: the API's reads and writes, the queue's claims, fenced
//! transitions and the reaper's sweeps.

use async_trait::async_trait;
use vidgate_domain::{Millis, RequestId, TaskState};

use crate::Result;
use crate::model::{
    CancelOutcome, Charge, Completion, InsertOutcome, Lease, LogEntry, NewTask, ReapLimits,
    ReapReport, Slot, TaskRecord,
};

/// A page of one key's tasks, newest first (or oldest first with `ascending`). Tasks their
/// owner forgot (`forget_task`) are never listed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ListQuery {
    pub states: Option<Vec<TaskState>>,
    /// Only tasks older than this `seq` (the cursor of the previous page).
    pub before_seq: Option<i64>,
    /// Only tasks newer than this `seq`.
    pub after_seq: Option<i64>,
    /// Oldest first instead of newest first.
    pub ascending: bool,
    pub limit: i64,
}

#[async_trait]
pub trait TaskStore: Send + Sync {
    // --- the API side ---------------------------------------------------------------------

    /// Inserts a task (state `Queued`) with its dedup claims, in one transaction (its first
    /// log line, "accepted and queued", is read from the row). `Inserted` means committed.
    async fn insert_task(&self, task: NewTask) -> Result<InsertOutcome>;

    /// A task, only if it belongs to `key_id` (another key's task does not exist for you).
    async fn get_task(&self, key_id: &str, id: RequestId) -> Result<Option<TaskRecord>>;

    /// A task regardless of owner, for workers.
    async fn get_task_any(&self, id: RequestId) -> Result<Option<TaskRecord>>;

    async fn list_tasks(&self, key_id: &str, query: &ListQuery) -> Result<Vec<TaskRecord>>;

    /// How many queued tasks of the same pool will be dispatched before this one.
    async fn queue_position(&self, task: &TaskRecord) -> Result<i64>;

    /// A task of `key_id` and, while it is queued, its queue position: what a status poll
    /// needs. Backends answer it in one round trip; this default takes two.
    async fn task_status(
        &self,
        key_id: &str,
        id: RequestId,
    ) -> Result<Option<(TaskRecord, Option<i64>)>> {
        let Some(task) = self.get_task(key_id, id).await? else { return Ok(None) };
        let position = match task.state {
            TaskState::Queued => Some(self.queue_position(&task).await?),
            _ => None,
        };
        Ok(Some((task, position)))
    }

    async fn task_logs(&self, id: RequestId) -> Result<Vec<LogEntry>>;

    /// Cancels a queued task at once, or flags one that is with the upstream.
    async fn cancel_task(&self, key_id: &str, id: RequestId, now: Millis) -> Result<CancelOutcome>;

    /// Its owner deleted the task (OpenAI's `DELETE /v1/videos/{id}`): from now on it does
    /// not exist for `key_id` (reads, lists, cancel answer as for an unknown id), while the
    /// row stays for the workers that may still be ending it and for the ledger. `false`:
    /// no such task for this key (or already forgotten).
    async fn forget_task(&self, key_id: &str, id: RequestId, now: Millis) -> Result<bool>;

    // --- the dispatcher -------------------------------------------------------------------

    /// Claims the next queued task of `pool` (rank desc, then arrival) for the first account
    /// in `slots` with a free slot, leasing it to `owner` until `lease_until`. Atomic with the
    /// slot count, so concurrent dispatchers never exceed an account's limit. `None`: nothing
    /// claimable, or every account is full.
    async fn claim_next_queued(
        &self,
        pool: &str,
        slots: &[Slot],
        owner: &str,
        now: Millis,
        lease_until: Millis,
    ) -> Result<Option<TaskRecord>>;

    /// Submitting → Running: the upstream accepted it as `upstream_task_id`.
    async fn mark_running(
        &self,
        lease: Lease,
        upstream_task_id: &str,
        next_poll_at: Millis,
        now: Millis,
        log: LogEntry,
    ) -> Result<bool>;

    /// Submitting → Queued after a retryable failure; claimable again from `run_after`.
    async fn requeue(
        &self,
        lease: Lease,
        run_after: Millis,
        now: Millis,
        log: LogEntry,
    ) -> Result<bool>;

    // --- the poller -----------------------------------------------------------------------

    /// Claims a running task of `pool` that is due for a poll.
    async fn claim_next_poll(
        &self,
        pool: &str,
        owner: &str,
        now: Millis,
        lease_until: Millis,
    ) -> Result<Option<TaskRecord>>;

    /// Claims a request that timed out while the upstream had it and is due to be asked
    /// again (it is followed for `ReapLimits::reconcile_for`, so a late success is charged).
    async fn claim_next_reconcile(
        &self,
        pool: &str,
        owner: &str,
        now: Millis,
        lease_until: Millis,
    ) -> Result<Option<TaskRecord>>;

    /// Asks again at `next_poll_at`, or stops following it when that is past its window.
    async fn defer_reconcile(
        &self,
        lease: Lease,
        next_poll_at: Millis,
        now: Millis,
    ) -> Result<bool>;

    /// Stops following it. With a charge (it succeeded late), records its usage and cost
    /// and charges its key in the same transaction: one `late_charge` ledger row, at most.
    async fn end_reconcile(
        &self,
        lease: Lease,
        charge: Option<Charge>,
        now: Millis,
        log: LogEntry,
    ) -> Result<bool>;

    /// Records a poll that found the task still going; releases the poll lease.
    async fn record_poll(
        &self,
        lease: Lease,
        progress: i64,
        next_poll_at: Millis,
        now: Millis,
        log: Option<LogEntry>,
    ) -> Result<bool>;

    // --- both -----------------------------------------------------------------------------

    /// An upstream event says this running task finished: make it due for a poll now. Found by
    /// request id when the event names it, else by upstream task id. `false`: not running.
    async fn make_due(
        &self,
        id: Option<RequestId>,
        upstream_task_id: &str,
        now: Millis,
    ) -> Result<bool>;

    /// Heartbeat: pushes a held lease out to `until`. `false`: the lease was lost (reclaimed or
    /// released), and the caller must stop writing.
    async fn extend_lease(&self, lease: Lease, until: Millis) -> Result<bool>;

    /// Submitting/Running → a terminal state.
    async fn complete(
        &self,
        lease: Lease,
        completion: Completion,
        now: Millis,
        log: LogEntry,
    ) -> Result<bool>;

    async fn append_log(&self, id: RequestId, entry: LogEntry) -> Result<()>;

    /// One sweep: requeue expired submit leases, release expired poll leases, fail tasks past
    /// their deadline, purge expired dedup claims.
    async fn reap(&self, now: Millis, limits: ReapLimits) -> Result<ReapReport>;

    /// Tasks of `pool` holding an upstream slot, per account (for metrics and tests).
    async fn slots_in_use(&self, pool: &str) -> Result<Vec<(String, i64)>>;

    /// How many of `pool`'s tasks are in each active state, and when the oldest queued one
    /// arrived (for metrics; cheap however long the queue).
    async fn queue_stats(&self, pool: &str) -> Result<QueueStats>;
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueStats {
    pub queued: i64,
    pub submitting: i64,
    pub running: i64,
    pub oldest_queued_at: Option<Millis>,
}
