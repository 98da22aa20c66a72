//! The dispatcher moves one queued task to the upstream per `run_once`: it claims the next task
//! for an account with a free slot (the claim and the slot count are one atomic step), submits
//! it, and records the upstream id. Retryable failures go back to the queue with backoff;
//! fatal ones end the request with the upstream's code as `error_type`. Wherever an earlier
//! attempt's answer was lost, the upstream may have made a (billable) job: a cancel then asks
//! it first, and a request given up on is followed (`Completion::Detached`), never simply
//! released.

use std::sync::Arc;

use async_trait::async_trait;
use tracing::Instrument;
use vidgate_domain::ErrorType;
use vidgate_providers::ErrorClass;
use vidgate_store::{Claimed, Completion, LogEntry, SubmitClaim};

use crate::context::{WorkerContext, ms, with_heartbeat};
use crate::{Outcome, Worker, WorkerError};

use crate::follow::UPSTREAM_TASK_UNKNOWN;

pub struct Dispatcher {
    ctx: Arc<WorkerContext>,
}

impl Dispatcher {
    pub fn new(ctx: Arc<WorkerContext>) -> Self {
        Dispatcher { ctx }
    }

    /// Ends the request for its owner. `maybe_upstream`: an attempt's answer was lost, so the
    /// upstream may have a job for it, which is then looked up and followed (hold and slot
    /// kept) instead of the hold being released.
    async fn fail(
        &self,
        claim: Claimed<SubmitClaim>,
        error: String,
        error_type: ErrorType,
        maybe_upstream: bool,
    ) -> Result<(), WorkerError> {
        let now = self.ctx.now();
        let (completion, log) = if maybe_upstream {
            let log = LogEntry::error(
                now,
                format!(
                    "failed: {error_type}: {error}. An attempt may have reached the upstream: its job is looked up, and charged as the upstream charges it if there is one"
                ),
            );
            let follow_until = self.ctx.follow_until();
            (Completion::Detached { error, error_type: error_type.clone(), follow_until }, log)
        } else {
            let log = LogEntry::error(now, format!("failed: {error_type}: {error}"));
            (Completion::Failed { error, error_type: error_type.clone() }, log)
        };
        let outcome = completion.outcome();
        if claim.complete(&*self.ctx.store, completion, now, log).await? {
            tracing::warn!(%error_type, outcome, "failed before the upstream confirmed it");
            crate::metrics::finished(self.ctx.pool(), outcome);
        }
        Ok(())
    }

    /// A request cancelled before its claim. With no earlier attempt it never reached the
    /// upstream: cancelled free. After one whose answer may have been lost, the upstream is
    /// asked: a job there runs to its end, delivered and charged (the upstream has no cancel
    /// call); with none found (yet) the request ends cancelled and is followed, so a job that
    /// shows up later is still charged, and the hold is released only once the upstream's list
    /// can be trusted to show it (`follow::LOOKUP_GRACE`).
    async fn cancel(&self, claim: Claimed<SubmitClaim>) -> Result<(), WorkerError> {
        let ctx = &self.ctx;
        if claim.submit_attempts > 1 {
            let job = crate::context::submit_job(&claim, claim.account());
            match ctx.provider.find(job).await {
                Ok(None) => {
                    let error = "cancelled by the caller; an earlier attempt's answer was lost, so the upstream is asked again before the request is released".to_owned();
                    return self.fail(claim, error, ErrorType::Cancelled, true).await;
                }
                Ok(Some(found)) => {
                    let now = ctx.now();
                    let log = LogEntry::info(
                        now,
                        format!(
                            "an earlier attempt had reached the upstream (task {}), which has no cancel call: the job runs to its end, and is delivered and charged if it succeeds",
                            found.upstream_task_id
                        ),
                    );
                    let next_poll = now + ms(ctx.provider.poll_delay(std::time::Duration::ZERO));
                    let found = &found.upstream_task_id;
                    claim.mark_running(&*ctx.store, found, next_poll, now, log).await?;
                    return Ok(());
                }
                Err(e) => {
                    let error = format!(
                        "cancelled by the caller; whether an earlier attempt reached the upstream could not be asked ({}: {})",
                        e.code, e.message
                    );
                    return self.fail(claim, error, ErrorType::Cancelled, true).await;
                }
            }
        }
        let now = ctx.now();
        let log = LogEntry::info(now, "cancelled by the caller before it reached the upstream");
        let cancelled = Completion::Cancelled;
        let outcome = cancelled.outcome();
        if claim.complete(&*ctx.store, cancelled, now, log).await? {
            crate::metrics::finished(ctx.pool(), outcome);
        }
        Ok(())
    }
}

#[async_trait]
impl Worker for Dispatcher {
    fn name(&self) -> &'static str {
        "dispatcher"
    }

    async fn run_once(&self) -> Result<Outcome, WorkerError> {
        let ctx = &self.ctx;
        let now = ctx.now();
        let lease_until = now + ms(ctx.lease);
        let Some(claim) = ctx
            .store
            .claim_next_queued(ctx.pool(), &ctx.slots(), &ctx.owner, now, lease_until)
            .await?
        else {
            return Ok(Outcome::Idle);
        };
        let span = tracing::info_span!("dispatch", request_id = %claim.id, attempt = claim.submit_attempts);
        self.submit(claim).instrument(span).await?;
        Ok(Outcome::Worked)
    }
}

impl Dispatcher {
    async fn submit(&self, claim: Claimed<SubmitClaim>) -> Result<(), WorkerError> {
        let ctx = &self.ctx;
        if claim.cancel_requested {
            return self.cancel(claim).await;
        }
        let (id, attempts, account) = (claim.id, claim.submit_attempts, claim.account().to_owned());
        let job = crate::context::submit_job(&claim, &account);
        let started = std::time::Instant::now();
        let submitted = with_heartbeat(ctx, claim.lease(), ctx.provider.submit(job)).await;
        crate::metrics::provider_call(ctx.pool(), "submit", &submitted, started);
        match submitted {
            Ok(submitted) => {
                let now = ctx.now();
                let next_poll = now + ms(ctx.provider.poll_delay(std::time::Duration::ZERO));
                let log = LogEntry::info(
                    now,
                    format!(
                        "dispatched to {} account {account} (attempt {}); upstream task {}",
                        ctx.pool(),
                        attempts,
                        submitted.upstream_task_id
                    ),
                );
                let upstream_id = &submitted.upstream_task_id;
                if claim.mark_running(&*ctx.store, upstream_id, next_poll, now, log).await? {
                    tracing::info!(account = %account, upstream_task_id = %upstream_id, "handed to the upstream");
                } else if ctx.store.attach_upstream(id, upstream_id, now).await? {
                    // The request ended meanwhile and its job is followed: now by this id.
                    tracing::warn!(task = %id, "lost the lease while submitting; the detached job is followed");
                } else {
                    tracing::warn!(task = %id, "lost the lease while submitting; the newer attempt owns the task");
                }
            }
            Err(e)
                if e.class == ErrorClass::Retryable
                    && ctx.retry.allows_another(attempts as u32) =>
            {
                let now = ctx.now();
                let delay = e
                    .retry_after
                    .unwrap_or_else(|| ctx.retry.delay(attempts as u32, rand::random()));
                let log = LogEntry::warn(
                    now,
                    format!(
                        "upstream did not take it ({}: {}); back in the queue, retry in {:.1} s",
                        e.code,
                        e.message,
                        delay.as_secs_f64()
                    ),
                );
                if claim.requeue(&*ctx.store, now + ms(delay), now, log).await? {
                    tracing::warn!(code = %e.code, retry_in_s = delay.as_secs_f64(), "the upstream did not take it; back in the queue");
                }
            }
            Err(e) if e.class == ErrorClass::Retryable => {
                let error = format!(
                    "the upstream kept failing after {attempts} attempts; last error {}: {}",
                    e.code, e.message
                );
                // Some of those attempts may have made a job whose answer was lost.
                self.fail(claim, error, ErrorType::UpstreamUnavailable, true).await?;
            }
            // The upstream says a job exists for this request but it cannot be found: followed.
            Err(e) if e.code == UPSTREAM_TASK_UNKNOWN => {
                self.fail(claim, e.message, ErrorType::upstream(e.code), true).await?;
            }
            Err(e) => self.fail(claim, e.message, ErrorType::upstream(e.code), false).await?,
        }
        Ok(())
    }
}
