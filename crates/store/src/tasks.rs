//! The task side of the store: the API's reads and writes, the queue's claims, fenced
//! transitions and the reaper's sweeps.

use async_trait::async_trait;
use vidgate_domain::KeyId;
use vidgate_domain::{Millis, Pool, RequestId, TaskState};

use crate::Result;
use crate::claimed::{Claimed, FollowClaim, PollClaim, SubmitClaim};
use crate::model::{
    CancelOutcome, Completion, FollowEnd, InsertOutcome, Lease, LogEntry, NewTask, ReapLimits,
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
    async fn get_task(&self, key_id: &KeyId, id: RequestId) -> Result<Option<TaskRecord>>;

    /// A task regardless of owner, for workers.
    async fn get_task_any(&self, id: RequestId) -> Result<Option<TaskRecord>>;

    async fn list_tasks(&self, key_id: &KeyId, query: &ListQuery) -> Result<Vec<TaskRecord>>;

    /// How many queued tasks of the same pool will be dispatched before this one.
    async fn queue_position(&self, task: &TaskRecord) -> Result<i64>;

    /// A task of `key_id` and, while it is queued, its queue position: what a status poll
    /// needs. Backends answer it in one round trip; this default takes two.
    async fn task_status(
        &self,
        key_id: &KeyId,
        id: RequestId,
    ) -> Result<Option<(TaskRecord, Option<i64>)>> {
        let Some(task) = self.get_task(key_id, id).await? else { return Ok(None) };
        let position = match task.state() {
            TaskState::Queued => Some(self.queue_position(&task).await?),
            _ => None,
        };
        Ok(Some((task, position)))
    }

    async fn task_logs(&self, id: RequestId) -> Result<Vec<LogEntry>>;

    /// Cancels a queued task that never reached the upstream at once (its hold released).
    /// One that may be with the upstream is flagged: a job the upstream has runs to its end
    /// and is charged as the upstream charges it (the upstream has no cancel call).
    async fn cancel_task(
        &self,
        key_id: &KeyId,
        id: RequestId,
        now: Millis,
    ) -> Result<CancelOutcome>;

    /// Its owner deleted the task (OpenAI's `DELETE /v1/videos/{id}`): from now on it does
    /// not exist for `key_id` (reads, lists, cancel answer as for an unknown id), while the
    /// row stays for the workers that may still be ending it and for the ledger. `false`:
    /// no such task for this key (or already forgotten).
    async fn forget_task(&self, key_id: &KeyId, id: RequestId, now: Millis) -> Result<bool>;

    // --- the dispatcher -------------------------------------------------------------------

    /// Claims the next queued task of `pool` (rank desc, then arrival) for the first account
    /// in `slots` with a free slot, leasing it to `owner` until `lease_until`. Atomic with the
    /// slot count, so concurrent dispatchers never exceed an account's limit. `None`: nothing
    /// claimable, or every account is full.
    async fn claim_next_queued(
        &self,
        pool: Pool,
        slots: &[Slot],
        owner: &str,
        now: Millis,
        lease_until: Millis,
    ) -> Result<Option<Claimed<SubmitClaim>>>;

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
        pool: Pool,
        owner: &str,
        now: Millis,
        lease_until: Millis,
    ) -> Result<Option<Claimed<PollClaim>>>;

    /// Claims a detached job (`Completion::Detached`) that is due to be asked about again.
    async fn claim_next_reconcile(
        &self,
        pool: Pool,
        owner: &str,
        now: Millis,
        lease_until: Millis,
    ) -> Result<Option<Claimed<FollowClaim>>>;

    /// Asks about a detached job again at `next_poll_at` (the reaper settles it at its hold
    /// once its window closes).
    async fn defer_reconcile(
        &self,
        lease: Lease,
        next_poll_at: Millis,
        now: Millis,
    ) -> Result<bool>;

    /// Stops following a detached job, closing its hold in the same transaction: settled at
    /// what the upstream reports when it finished it, released when it failed or never was.
    async fn end_reconcile(
        &self,
        lease: Lease,
        end: FollowEnd,
        now: Millis,
        log: LogEntry,
    ) -> Result<bool>;

    /// Names the upstream job of a detached task that had none (an attempt's answer was lost,
    /// or a lookup found it), so following it polls that job. `false`: the task is not
    /// followed, or already names one.
    async fn attach_upstream(
        &self,
        id: RequestId,
        upstream_task_id: &str,
        now: Millis,
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

    /// An upstream event says this running task finished: make it due for a poll now, or
    /// `min_gap` after its last poll if that is later (so any number of events, replayed or
    /// not, cost at most one upstream call per task per `min_gap`, across replicas). Found by
    /// request id when the event names it, else by upstream task id. `false`: not running, or
    /// an event already made it due as soon as it may be (nothing written).
    async fn make_due(
        &self,
        id: Option<RequestId>,
        upstream_task_id: &str,
        now: Millis,
        min_gap: Millis,
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

    /// Tasks of `pool` holding an upstream slot (with the upstream, or detached and followed),
    /// per account (for metrics and tests).
    async fn slots_in_use(&self, pool: Pool) -> Result<Vec<(String, i64)>>;

    /// How many of `pool`'s tasks are in each active state, and when the oldest queued one
    /// arrived (for metrics; cheap however long the queue).
    async fn queue_stats(&self, pool: Pool) -> Result<QueueStats>;
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueStats {
    pub queued: i64,
    pub submitting: i64,
    pub running: i64,
    pub oldest_queued_at: Option<Millis>,
}
