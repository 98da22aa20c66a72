//! A task a worker claimed, and the fenced transitions only a claim can make. Each claim
//! kind carries what its phase guarantees (a submit claim its account; a poll claim its
//! upstream job), and each transition that ends the claim consumes it, so a worker cannot
//! write twice on one claim or write without one. A stale claim (the task was reclaimed
//! since) writes nothing and reports `false`, as the store's fenced operations do.

use vidgate_domain::Millis;

use crate::phase::{Phase, UpstreamJob};
use crate::{Completion, FollowEnd, Lease, LogEntry, Result, StoreError, TaskRecord, TaskStore};

/// A claimed task: `P` says which claim (`SubmitClaim`, `PollClaim`, `FollowClaim`).
#[derive(Debug, PartialEq)]
pub struct Claimed<P> {
    task: TaskRecord,
    lease: Lease,
    claim: P,
}

/// A dispatcher's claim: the task is submitting to `account`.
#[derive(Debug, Clone, PartialEq)]
pub struct SubmitClaim {
    account: String,
}

/// A poller's claim: the task is running as `job` at `account`.
#[derive(Debug, Clone, PartialEq)]
pub struct PollClaim {
    account: String,
    job: UpstreamJob,
}

/// A follower's claim on a detached job: at `account`, as `job` if its id is known.
#[derive(Debug, Clone, PartialEq)]
pub struct FollowClaim {
    account: String,
    job: Option<UpstreamJob>,
}

fn unexpected(task: &TaskRecord, claim: &str) -> StoreError {
    StoreError::corrupt(format!(
        "task {} was claimed for {claim} but is {} (account {:?})",
        task.id,
        task.state(),
        task.account
    ))
}

/// A claim reads as its task (`claimed.id`, `claimed.request`).
impl<P> std::ops::Deref for Claimed<P> {
    type Target = TaskRecord;

    fn deref(&self) -> &TaskRecord {
        &self.task
    }
}

impl<P> Claimed<P> {
    pub fn task(&self) -> &TaskRecord {
        &self.task
    }

    /// For heartbeats (`TaskStore::extend_lease`) while a step runs.
    pub fn lease(&self) -> Lease {
        self.lease
    }

    /// Pushes the claim out to `until`. `false`: it was lost; stop writing.
    pub async fn extend<S: TaskStore + ?Sized>(&self, store: &S, until: Millis) -> Result<bool> {
        store.extend_lease(self.lease, until).await
    }
}

/// A claim that may end its task: a submit (failed, cancelled, or detached and followed) or
/// a poll (the upstream's end). A follow claim ends a detached job instead (`end`).
pub trait Completes {}
impl Completes for SubmitClaim {}
impl Completes for PollClaim {}

impl<P: Completes> Claimed<P> {
    /// Submitting or running → an end.
    pub async fn complete<S: TaskStore + ?Sized>(
        self,
        store: &S,
        completion: Completion,
        now: Millis,
        log: LogEntry,
    ) -> Result<bool> {
        store.complete(self.lease, completion, now, log).await
    }
}

impl Claimed<SubmitClaim> {
    pub(crate) fn submit(task: TaskRecord) -> Result<Self> {
        let (Phase::Submitting { .. }, Some(account)) = (&task.phase, task.account.clone()) else {
            return Err(unexpected(&task, "a submit"));
        };
        let lease = Lease { id: task.id, fence: task.fence };
        Ok(Claimed { task, lease, claim: SubmitClaim { account } })
    }

    /// The account this attempt goes to.
    pub fn account(&self) -> &str {
        &self.claim.account
    }

    /// Submitting → Running: the upstream took it as `upstream_task_id`.
    pub async fn mark_running<S: TaskStore + ?Sized>(
        self,
        store: &S,
        upstream_task_id: &str,
        next_poll_at: Millis,
        now: Millis,
        log: LogEntry,
    ) -> Result<bool> {
        store.mark_running(self.lease, upstream_task_id, next_poll_at, now, log).await
    }

    /// Submitting → Queued after a retryable failure; claimable again from `run_after`.
    pub async fn requeue<S: TaskStore + ?Sized>(
        self,
        store: &S,
        run_after: Millis,
        now: Millis,
        log: LogEntry,
    ) -> Result<bool> {
        store.requeue(self.lease, run_after, now, log).await
    }
}

impl Claimed<PollClaim> {
    pub(crate) fn poll(task: TaskRecord) -> Result<Self> {
        let (Phase::Running { job, .. }, Some(account)) = (&task.phase, task.account.clone())
        else {
            return Err(unexpected(&task, "a poll"));
        };
        let (lease, job) = (Lease { id: task.id, fence: task.fence }, job.clone());
        Ok(Claimed { task, lease, claim: PollClaim { account, job } })
    }

    pub fn account(&self) -> &str {
        &self.claim.account
    }

    pub fn job(&self) -> &UpstreamJob {
        &self.claim.job
    }

    /// Records a poll that found it still going, and lets the claim go.
    pub async fn record_poll<S: TaskStore + ?Sized>(
        self,
        store: &S,
        progress: i64,
        next_poll_at: Millis,
        now: Millis,
        log: Option<LogEntry>,
    ) -> Result<bool> {
        store.record_poll(self.lease, progress, next_poll_at, now, log).await
    }
}

impl Claimed<FollowClaim> {
    pub(crate) fn reconcile(task: TaskRecord) -> Result<Self> {
        let followed = task.phase.ended().is_some_and(|e| e.follow.is_some());
        let (true, Some(account)) = (followed, task.account.clone()) else {
            return Err(unexpected(&task, "following its job"));
        };
        let (lease, job) = (Lease { id: task.id, fence: task.fence }, task.phase.job().cloned());
        Ok(Claimed { task, lease, claim: FollowClaim { account, job } })
    }

    pub fn account(&self) -> &str {
        &self.claim.account
    }

    /// The upstream job, if its id is known (an attempt's answer may have been lost).
    pub fn job(&self) -> Option<&UpstreamJob> {
        self.claim.job.as_ref()
    }

    /// Asks about the job again at `next_poll_at`.
    pub async fn defer<S: TaskStore + ?Sized>(
        self,
        store: &S,
        next_poll_at: Millis,
        now: Millis,
    ) -> Result<bool> {
        store.defer_reconcile(self.lease, next_poll_at, now).await
    }

    /// Stops following: settled at what the upstream reports, or released.
    pub async fn end<S: TaskStore + ?Sized>(
        self,
        store: &S,
        end: FollowEnd,
        now: Millis,
        log: LogEntry,
    ) -> Result<bool> {
        store.end_reconcile(self.lease, end, now, log).await
    }
}
