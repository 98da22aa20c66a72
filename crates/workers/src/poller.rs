//! The poller follows one running task per `run_once`: it claims a task that is due, asks the
//! upstream how it is doing, and records progress or the end. The upstream has no cancel
//! call, so a request cancelled after dispatch runs on here to its end, delivered and charged
//! when the upstream finishes it; a deleted one too, without keeping its files. It also follows
//! detached jobs (`follow`), taking turns with the running ones, so neither kind starves the
//! other under a backlog.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use tracing::Instrument;
use vidgate_domain::ErrorType;
use vidgate_providers::{ErrorClass, PollStatus};
use vidgate_store::{Claimed, Completion, LogEntry, PollClaim};

use crate::context::{WorkerContext, ms, with_heartbeat};
use crate::{Outcome, Worker, WorkerError, stored_result};

pub struct Poller {
    ctx: Arc<WorkerContext>,
    /// Counts `run_once` calls: every other one looks for a detached job first.
    turns: AtomicU64,
}

/// Progress is logged in steps of this many percent, not on every poll.
const PROGRESS_LOG_STEP: i64 = 10;

impl Poller {
    pub fn new(ctx: Arc<WorkerContext>) -> Self {
        Poller { ctx, turns: AtomicU64::new(0) }
    }

    async fn finish(
        &self,
        claim: Claimed<PollClaim>,
        completion: Completion,
        log: LogEntry,
    ) -> Result<(), WorkerError> {
        let now = self.ctx.now();
        let (outcome, error_type) = (completion.outcome(), completion.error_type().cloned());
        if claim.complete(&*self.ctx.store, completion, now, log).await? {
            match &error_type {
                None => tracing::info!(outcome, "finished"),
                Some(error_type) => tracing::warn!(outcome, %error_type, "finished"),
            }
            crate::metrics::finished(self.ctx.pool(), outcome);
        }
        Ok(())
    }

    async fn reschedule(
        &self,
        claim: Claimed<PollClaim>,
        progress: i64,
        delay: Duration,
        log: Option<LogEntry>,
    ) -> Result<(), WorkerError> {
        let now = self.ctx.now();
        claim.record_poll(&*self.ctx.store, progress, now + ms(delay), now, log).await?;
        Ok(())
    }
}

#[async_trait]
impl Worker for Poller {
    fn name(&self) -> &'static str {
        "poller"
    }

    async fn run_once(&self) -> Result<Outcome, WorkerError> {
        let ctx = &self.ctx;
        let now = ctx.now();
        let lease_until = now + ms(ctx.lease);
        let detached_first = self.turns.fetch_add(1, Ordering::Relaxed) % 2 == 1;
        for detached in [detached_first, !detached_first] {
            if detached {
                let claimed = ctx
                    .store
                    .claim_next_reconcile(ctx.pool(), &ctx.owner, now, lease_until)
                    .await?;
                if let Some(claim) = claimed {
                    let span = tracing::info_span!("follow", request_id = %claim.id);
                    crate::follow::follow(ctx, claim).instrument(span).await?;
                    return Ok(Outcome::Worked);
                }
            } else if let Some(claim) =
                ctx.store.claim_next_poll(ctx.pool(), &ctx.owner, now, lease_until).await?
            {
                let span = tracing::info_span!("poll", request_id = %claim.id);
                self.follow(claim).instrument(span).await?;
                return Ok(Outcome::Worked);
            }
        }
        Ok(Outcome::Idle)
    }
}

impl Poller {
    /// Ends the request for its owner now, while vidgate keeps following its upstream job
    /// (its slot and hold kept) until that job's end is known.
    async fn detach(
        &self,
        claim: Claimed<PollClaim>,
        error: String,
        error_type: ErrorType,
        log: LogEntry,
    ) -> Result<(), WorkerError> {
        let follow_until = self.ctx.follow_until();
        let completion = Completion::Detached { error, error_type, follow_until };
        self.finish(claim, completion, log).await
    }

    async fn follow(&self, claim: Claimed<PollClaim>) -> Result<(), WorkerError> {
        let ctx = &self.ctx;
        let job = crate::context::poll_job(&claim, claim.account(), claim.job());
        let delay = ctx.poll_delay_for(&job);
        let started = std::time::Instant::now();
        let polled = with_heartbeat(ctx, claim.lease(), ctx.provider.poll(job)).await;
        crate::metrics::provider_call(ctx.pool(), "poll", &polled, started);
        let progress_was = claim.progress;
        match polled {
            Ok(PollStatus::Waiting) => self.reschedule(claim, progress_was, delay, None).await?,
            Ok(PollStatus::Processing { progress }) => {
                let progress = i64::from(progress);
                let log = (progress / PROGRESS_LOG_STEP > progress_was / PROGRESS_LOG_STEP)
                    .then(|| LogEntry::info(ctx.now(), format!("progress {progress}%")));
                self.reschedule(claim, progress, delay, log).await?;
            }
            Ok(PollStatus::Succeeded(output)) => self.succeeded(claim, output).await?,
            Ok(PollStatus::Failed { code, message }) => {
                let log = LogEntry::error(
                    ctx.now(),
                    format!("finished: upstream failed ({code}: {message}); nothing charged"),
                );
                self.finish(claim, Completion::Failed { error: message, error_type: code }, log)
                    .await?;
            }
            Err(e) if e.class == ErrorClass::Retryable => {
                let backoff = e.retry_after.unwrap_or_else(|| delay.max(ctx.retry.initial));
                let log = LogEntry::warn(
                    ctx.now(),
                    format!("status check failed ({}: {}); trying again", e.code, e.message),
                );
                self.reschedule(claim, progress_was, backoff, Some(log)).await?;
            }
            Err(e) => {
                // The upstream refuses to say how its job is doing; the job may still run
                // (and bill). The owner is answered now; the job is followed on.
                let log = LogEntry::error(
                    ctx.now(),
                    format!(
                        "finished: {}: {}. The upstream may still run the job: it is followed, and charged as the upstream charges it",
                        e.code, e.message
                    ),
                );
                self.detach(claim, e.message, ErrorType::upstream(e.code), log).await?;
            }
        }
        Ok(())
    }

    /// The upstream made it: its files are kept (copied, recorded) before the request turns
    /// COMPLETED, still under this poll's lease; a deleted request keeps none.
    async fn succeeded(
        &self,
        claim: Claimed<PollClaim>,
        mut output: vidgate_providers::UpstreamOutput,
    ) -> Result<(), WorkerError> {
        let (ctx, task) = (&self.ctx, claim.task());
        if task.forgotten_at.is_some() {
            crate::media::discard(&ctx.media, task, &mut output).await;
        } else {
            let keep = crate::media::keep(&*ctx.store, &ctx.media, task, &mut output, ctx.now());
            for warning in with_heartbeat(ctx, claim.lease(), keep).await? {
                ctx.store.append_log(task.id, LogEntry::warn(ctx.now(), warning)).await?;
            }
        }
        let charge = stored_result::charge(task, &output);
        let what = output
            .files
            .first()
            .map(|f| {
                let (w, h) = (f.width.unwrap_or(0), f.height.unwrap_or(0));
                format!(" ({w}x{h}, {:.1} s)", f.duration.unwrap_or(0.0))
            })
            .unwrap_or_default();
        let after = match (task.forgotten_at, task.cancel_requested) {
            (Some(_), _) => {
                "; deleted by its owner, so no file is kept and no webhook sent, and it is charged as the upstream charges it"
            }
            (None, true) => {
                "; it was cancelled after it reached the upstream, which ran it anyway: delivered and charged"
            }
            _ => "",
        };
        let log = LogEntry::info(ctx.now(), format!("finished: video ready{what}{after}"));
        let result = Box::new(stored_result::stored_result(task, output, &charge));
        self.finish(claim, Completion::Succeeded { result, charge }, log).await
    }
}
