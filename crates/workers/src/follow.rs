//! Following a detached job (`Completion::Detached`): its request has ended for its owner (a
//! deadline, a crashing step, an upstream that would not answer) but the upstream may still
//! run the job, and the upstream bills what it runs. So the job keeps its slot and its hold
//! while this step asks about it: settled at what the upstream reports when it finishes it,
//! released when the upstream fails it or has no job for the request at all. The request
//! itself stays as its owner was told. Anything in between (still running, a status call
//! refused) asks again later; the reaper settles a job at its hold once its window closes
//! with its end still unknown. This step keeps no files, so a step that crashed its worker
//! (an output too large to copy) does not crash this one.

use std::time::Duration;

use vidgate_providers::{ErrorClass, PollStatus};
use vidgate_store::{Claimed, FollowClaim, FollowEnd, LogEntry, TaskRecord};

use crate::WorkerError;
use crate::context::{WorkerContext, ms};

/// How long after a request was detached a lookup that finds no job for it counts as "the
/// upstream has none": the upstream's task list may not show a job created moments ago (or
/// by a submit still in flight when its lease ran out), so a miss before then is asked again.
pub(crate) const LOOKUP_GRACE: Duration = Duration::from_secs(300);

/// The provider's code for "the upstream says a job exists for this request, but it cannot be
/// found": a miss then proves nothing, and the job is settled at its hold if it stays lost.
pub(crate) const UPSTREAM_TASK_UNKNOWN: &str = "upstream_task_unknown";

/// Whether a lookup that found no job must be made again rather than believed: the upstream
/// said a job exists (it just cannot be found), or the task was detached too recently for
/// the upstream's list to be sure to show it.
fn no_job_yet(task: &TaskRecord, now: vidgate_domain::Millis) -> bool {
    let said_to_exist = task.error_type().is_some_and(|t| t.as_str() == UPSTREAM_TASK_UNKNOWN);
    let detached_at = task.finished_at().unwrap_or(now);
    said_to_exist || now < detached_at.saturating_add(ms(LOOKUP_GRACE))
}

/// Asks again at `now + wait` (at least the retry policy's first backoff).
async fn later(
    ctx: &WorkerContext,
    claim: Claimed<FollowClaim>,
    wait: Duration,
) -> Result<(), WorkerError> {
    let now = ctx.now();
    let at = now + ms(wait.max(ctx.retry.initial));
    claim.defer(&*ctx.store, at, now).await?;
    Ok(())
}

pub(crate) async fn follow(
    ctx: &WorkerContext,
    claim: Claimed<FollowClaim>,
) -> Result<(), WorkerError> {
    let Some(job) = claim.job() else {
        return look_up(ctx, claim).await;
    };
    let job = crate::context::poll_job(&claim, claim.account(), job);
    let delay = ctx.poll_delay_for(&job);
    // No heartbeat: one status call is far shorter than a lease, and a claim that runs out
    // is taken again by the next poller (its fenced write then finds nothing to change).
    match ctx.provider.poll(job).await {
        Ok(PollStatus::Waiting | PollStatus::Processing { .. }) => later(ctx, claim, delay).await,
        Ok(PollStatus::Succeeded(mut output)) => {
            // Its request has ended: nobody reads these files.
            crate::media::discard(&ctx.media, &claim, &mut output).await;
            let charge = crate::stored_result::charge(&claim, &output);
            let what = match charge.cost.as_ref() {
                Some(c) => format!("charged {} credits, as the upstream bills it", c.amount),
                None => "charged its hold (it has no price)".into(),
            };
            let log = LogEntry::warn(
                ctx.now(),
                format!("the upstream finished the job after its request had ended: {what}"),
            );
            let (end, id) = (FollowEnd::Succeeded(charge), claim.id);
            if claim.end(&*ctx.store, end, ctx.now(), log).await? {
                tracing::warn!(request_id = %id, "a detached job finished upstream; charged");
            }
            Ok(())
        }
        Ok(PollStatus::Failed { code, .. }) => {
            let log = LogEntry::info(
                ctx.now(),
                format!("the upstream job failed ({code}); nothing charged"),
            );
            claim.end(&*ctx.store, FollowEnd::NoJob, ctx.now(), log).await?;
            Ok(())
        }
        // Not told how it ended: ask again (until the window closes, when the reaper settles
        // it at its hold).
        Err(e) => {
            let wait = match e.class {
                ErrorClass::Retryable => e.retry_after.unwrap_or(delay),
                ErrorClass::Fatal => delay.max(ctx.provider.poll_delay(Duration::from_secs(3600))),
            };
            tracing::warn!(code = %e.code, "asking about a detached job failed; asking again later");
            later(ctx, claim, wait).await
        }
    }
}

/// A detached request with no upstream job named: an attempt's answer was lost. Asks the
/// upstream whether it made one.
async fn look_up(ctx: &WorkerContext, claim: Claimed<FollowClaim>) -> Result<(), WorkerError> {
    let now = ctx.now();
    let job = crate::context::submit_job(&claim, claim.account());
    match ctx.provider.find(job).await {
        Ok(Some(found)) => {
            ctx.store.attach_upstream(claim.id, &found.upstream_task_id, now).await?;
            later(ctx, claim, Duration::ZERO).await
        }
        Ok(None) if no_job_yet(&claim, now) => {
            later(ctx, claim, ctx.provider.poll_delay(LOOKUP_GRACE)).await
        }
        Ok(None) => {
            let log = LogEntry::info(
                now,
                "the upstream has no job for this request: nothing ran, nothing is charged",
            );
            claim.end(&*ctx.store, FollowEnd::NoJob, now, log).await?;
            Ok(())
        }
        Err(e) => {
            tracing::warn!(code = %e.code, "looking up a lost attempt's job failed; asking again later");
            later(ctx, claim, ctx.provider.poll_delay(Duration::ZERO)).await
        }
    }
}
