//! Following a request that timed out while the upstream had it (the reaper left it due for
//! `accounting.reconcile_for`): the caller was answered `timeout` and not charged, but the
//! upstream may still finish the job and bill it. A late success is charged to the key at
//! its quoted price (a `late_charge` in the ledger); a late failure, or the window closing,
//! ends the following with nothing charged. The request itself stays failed with `timeout`.

use std::time::Duration;

use vidgate_providers::{ErrorClass, PollJob, PollStatus};
use vidgate_store::{LogEntry, TaskRecord};

use crate::WorkerError;
use crate::context::{WorkerContext, ms};

pub(crate) async fn reconcile(ctx: &WorkerContext, task: TaskRecord) -> Result<(), WorkerError> {
    let now = ctx.now();
    let (Some(upstream_task_id), Some(submitted_at)) =
        (task.upstream_task_id.as_deref(), task.submitted_at)
    else {
        let log = LogEntry::warn(now, "timed out with no upstream job to follow");
        ctx.store.end_reconcile(task.lease(), None, now, log).await?;
        return Ok(());
    };
    let account = task.account.clone().unwrap_or_default();
    let job = PollJob {
        key_id: &task.key_id,
        request_id: task.id,
        account: &account,
        upstream_task_id,
        submitted_at,
        request: &task.request,
    };
    let delay = ctx.provider.poll_delay(Duration::from_millis((now - submitted_at).max(0) as u64));
    // No heartbeat: one status call is far shorter than a lease, and a claim that runs out
    // is taken again by the next poller (its fenced write then finds nothing to change).
    let polled = ctx.provider.poll(job).await;
    let later = |d: Duration| ctx.store.defer_reconcile(task.lease(), ctx.now() + ms(d), ctx.now());
    match polled {
        Ok(PollStatus::Waiting | PollStatus::Processing { .. }) => {
            later(delay).await?;
        }
        Err(e) if e.class == ErrorClass::Retryable => {
            later(e.retry_after.unwrap_or(delay).max(ctx.retry.initial)).await?;
        }
        Ok(PollStatus::Succeeded(output)) => {
            let charge = crate::result_body::charge(&task, &output);
            let what = match charge.cost.as_ref() {
                Some(c) => format!("charged {} credits, as the upstream bills it", c.amount),
                None => "unpriced, nothing charged".into(),
            };
            let log = LogEntry::warn(
                ctx.now(),
                format!("the upstream finished the job after the deadline: {what}"),
            );
            if ctx.store.end_reconcile(task.lease(), Some(charge), ctx.now(), log).await? {
                tracing::warn!(request_id = %task.id, "late success after a timeout; charged");
            }
        }
        Ok(PollStatus::Failed { code, .. }) => {
            let log = LogEntry::info(
                ctx.now(),
                format!("the upstream job failed after the deadline ({code}); nothing charged"),
            );
            ctx.store.end_reconcile(task.lease(), None, ctx.now(), log).await?;
        }
        Err(e) => {
            let log = LogEntry::info(
                ctx.now(),
                format!("stopped following the upstream job ({}); nothing charged", e.code),
            );
            ctx.store.end_reconcile(task.lease(), None, ctx.now(), log).await?;
        }
    }
    Ok(())
}
