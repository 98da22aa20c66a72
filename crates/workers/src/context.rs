//! What every worker shares: the store, the provider, the clock, wake-up signals and policy.

use std::sync::Arc;
use std::time::Duration;

use vidgate_domain::{Clock, Pool, RetryPolicy};
use vidgate_providers::{PollJob, Provider, SubmitJob};
use vidgate_store::{Changes, Lease, Slot, Store, TaskRecord, UpstreamJob};

pub struct WorkerContext {
    pub store: Arc<dyn Store>,
    pub provider: Arc<dyn Provider>,
    pub clock: Arc<dyn Clock>,
    /// Names this process in leases (`host:pid:random`), for operators reading the table.
    pub owner: String,
    /// Backoff for retryable upstream errors on submit and poll.
    pub retry: RetryPolicy,
    /// How long a claim holds a task without a heartbeat. Workers renew it every third of
    /// this while they work, so it bounds how long a crashed worker's tasks stay stuck.
    pub lease: Duration,
    /// Wake-ups, rung by the store's change feed (and nothing else).
    pub changes: Arc<Changes>,
    /// The configured public base URL (absolute media URLs in webhooks), if any.
    pub public_url: Option<String>,
    /// Where outputs are kept and how (the keep step, the janitor, webhook media URLs).
    pub media: crate::media::MediaPolicy,
    /// How long a signed media URL handed out in a webhook stays valid.
    pub media_url_ttl: Duration,
    /// How long the job of a request that ended for its owner while the upstream may have it
    /// is still followed (`accounting.reconcile_for`; see `Completion::Detached`).
    pub follow_for: Duration,
}

impl WorkerContext {
    pub fn slots(&self) -> Vec<Slot> {
        self.provider
            .accounts()
            .into_iter()
            .map(|a| Slot { account: a.id, limit: a.concurrency })
            .collect()
    }

    pub fn pool(&self) -> Pool {
        self.provider.pool()
    }

    pub fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Until when a job detached now is followed.
    pub fn follow_until(&self) -> i64 {
        self.now().saturating_add(ms(self.follow_for))
    }

    /// The shortest time between two upstream status calls for one job: upstream events may
    /// bring a poll forward, never closer than this to the previous one.
    pub fn min_poll_gap(&self) -> i64 {
        ms(self.provider.poll_delay(Duration::ZERO))
    }

    /// When to ask about `job` next, by its age.
    pub fn poll_delay_for(&self, job: &PollJob<'_>) -> Duration {
        let age = (self.now() - job.submitted_at).max(0);
        self.provider.poll_delay(Duration::from_millis(age as u64))
    }
}

/// What the provider needs to submit a task (or look up the job an attempt made).
pub(crate) fn submit_job<'a>(task: &'a TaskRecord, account: &'a str) -> SubmitJob<'a> {
    SubmitJob {
        request_id: task.id,
        account,
        request: &task.request,
        attempt: task.submit_attempts,
    }
}

/// What the provider needs to ask about a task's upstream job.
pub(crate) fn poll_job<'a>(
    task: &'a TaskRecord,
    account: &'a str,
    job: &'a UpstreamJob,
) -> PollJob<'a> {
    PollJob {
        key_id: &task.key_id,
        request_id: task.id,
        account,
        upstream_task_id: &job.upstream_task_id,
        submitted_at: job.submitted_at,
        request: &task.request,
    }
}

/// Runs `work` while renewing `lease` every third of the lease period. If the lease is lost
/// (the reaper took the task back), `work` still runs to its end, but the caller's fenced
/// writes will find nothing to change.
pub(crate) async fn with_heartbeat<F: std::future::Future>(
    ctx: &WorkerContext,
    lease: Lease,
    work: F,
) -> F::Output {
    let renew = |until| ctx.store.extend_lease(lease, until);
    with_renewal(ctx, &lease.id().to_string(), renew, work).await
}

/// Runs `work` while `renew(now + lease)` extends a claim every third of the lease period
/// (by the app's clock), so a step slower than the lease keeps its claim. When a renewal
/// finds the claim gone it stops renewing; `work` runs on, and the caller's fenced writes
/// find nothing to change.
pub(crate) async fn with_renewal<F, R, RF>(
    ctx: &WorkerContext,
    what: &str,
    renew: R,
    work: F,
) -> F::Output
where
    F: std::future::Future,
    R: Fn(vidgate_domain::Millis) -> RF,
    RF: std::future::Future<Output = vidgate_store::Result<bool>>,
{
    let beat = async {
        let mut tick = tokio::time::interval((ctx.lease / 3).max(Duration::from_millis(10)));
        tick.tick().await;
        loop {
            tick.tick().await;
            match renew(ctx.now() + ms(ctx.lease)).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!(claim = %what, "lease lost while working; the work was handed to another worker");
                    std::future::pending::<()>().await;
                }
                Err(e) => tracing::warn!(claim = %what, error = %e, "lease heartbeat failed"),
            }
        }
    };
    tokio::pin!(work);
    tokio::select! {
        out = &mut work => out,
        _ = beat => unreachable!("the heartbeat loop never ends"),
    }
}

pub(crate) fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}
