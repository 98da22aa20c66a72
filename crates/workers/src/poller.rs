//! The poller follows one running task per `run_once`: it claims a task that is due, asks the
//! upstream how it is doing, and records progress or the end. A cancel requested while the
//! task was with the upstream ends it here (the upstream has no cancel call).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tracing::Instrument;
use vidgate_domain::ErrorType;
use vidgate_providers::{ErrorClass, PollJob, PollStatus};
use vidgate_store::{Completion, LogEntry, TaskRecord};

use crate::context::{WorkerContext, ms, with_heartbeat};
use crate::{Outcome, Worker, WorkerError, result_body};

pub struct Poller {
    ctx: Arc<WorkerContext>,
}

/// Progress is logged in steps of this many percent, not on every poll.
const PROGRESS_LOG_STEP: i64 = 10;

impl Poller {
    pub fn new(ctx: Arc<WorkerContext>) -> Self {
        Poller { ctx }
    }

    async fn finish(
        &self,
        task: &TaskRecord,
        completion: Completion,
        log: LogEntry,
    ) -> Result<(), WorkerError> {
        let now = self.ctx.now();
        let (outcome, error_type) = match &completion {
            Completion::Succeeded { .. } => ("succeeded", None),
            Completion::Failed { error_type, .. } => ("failed", Some(error_type.clone())),
            Completion::Cancelled => ("cancelled", None),
        };
        if self.ctx.store.complete(task.lease(), completion, now, log).await? {
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
        task: &TaskRecord,
        progress: i64,
        delay: Duration,
        log: Option<LogEntry>,
    ) -> Result<(), WorkerError> {
        let now = self.ctx.now();
        self.ctx.store.record_poll(task.lease(), progress, now + ms(delay), now, log).await?;
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
        let Some(task) =
            ctx.store.claim_next_poll(ctx.pool(), &ctx.owner, now, lease_until).await?
        else {
            // Nothing running is due: a timed-out job the upstream may still finish, then.
            let Some(task) =
                ctx.store.claim_next_reconcile(ctx.pool(), &ctx.owner, now, lease_until).await?
            else {
                return Ok(Outcome::Idle);
            };
            let span = tracing::info_span!("reconcile", request_id = %task.id);
            crate::reconcile::reconcile(ctx, task).instrument(span).await?;
            return Ok(Outcome::Worked);
        };
        let span = tracing::info_span!("poll", request_id = %task.id);
        self.follow(task).instrument(span).await?;
        Ok(Outcome::Worked)
    }
}

impl Poller {
    async fn follow(&self, task: TaskRecord) -> Result<(), WorkerError> {
        let ctx = &self.ctx;
        let now = ctx.now();
        if task.cancel_requested {
            let log = LogEntry::info(
                now,
                "cancelled by the caller; the upstream job is no longer followed",
            );
            self.finish(&task, Completion::Cancelled, log).await?;
            return Ok(());
        }
        let (Some(upstream_task_id), Some(submitted_at)) =
            (task.upstream_task_id.as_deref(), task.submitted_at)
        else {
            let log = LogEntry::error(now, "running without an upstream task id");
            let completion = Completion::Failed {
                error: "internal: running task has no upstream id".into(),
                error_type: ErrorType::Internal,
            };
            self.finish(&task, completion, log).await?;
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
        let since_submit = Duration::from_millis((now - submitted_at).max(0) as u64);
        let delay = ctx.provider.poll_delay(since_submit);
        let started = std::time::Instant::now();
        let polled = with_heartbeat(ctx, task.lease(), ctx.provider.poll(job)).await;
        crate::metrics::provider_call(ctx.pool(), "poll", &polled, started);
        match polled {
            Ok(PollStatus::Waiting) => self.reschedule(&task, task.progress, delay, None).await?,
            Ok(PollStatus::Processing { progress }) => {
                let progress = i64::from(progress);
                let log = (progress / PROGRESS_LOG_STEP > task.progress / PROGRESS_LOG_STEP)
                    .then(|| LogEntry::info(ctx.now(), format!("progress {progress}%")));
                self.reschedule(&task, progress, delay, log).await?;
            }
            Ok(PollStatus::Succeeded(mut output)) => {
                // The files are kept (copied, recorded) before the request turns COMPLETED,
                // still under this poll's lease.
                let kept = with_heartbeat(
                    ctx,
                    task.lease(),
                    crate::media::keep(&*ctx.store, &ctx.media, &task, &mut output, ctx.now()),
                )
                .await?;
                for warning in kept {
                    ctx.store.append_log(task.id, LogEntry::warn(ctx.now(), warning)).await?;
                }
                let mut done = task.clone();
                done.upstream_task_id = Some(upstream_task_id.to_owned());
                let charge = result_body::charge(&done, &output);
                let body = result_body::result_body(&done, &output, &charge);
                let what = output
                    .files
                    .first()
                    .map(|f| {
                        format!(
                            " ({}x{}, {:.1} s)",
                            f.width.unwrap_or(0),
                            f.height.unwrap_or(0),
                            f.duration.unwrap_or(0.0)
                        )
                    })
                    .unwrap_or_default();
                let log = LogEntry::info(ctx.now(), format!("finished: video ready{what}"));
                self.finish(&task, Completion::Succeeded { result: body, charge }, log).await?;
            }
            Ok(PollStatus::Failed { code, message }) => {
                let log = LogEntry::error(
                    ctx.now(),
                    format!("finished: upstream failed ({code}: {message})"),
                );
                self.finish(&task, Completion::Failed { error: message, error_type: code }, log)
                    .await?;
            }
            Err(e) if e.class == ErrorClass::Retryable => {
                let backoff = e.retry_after.unwrap_or_else(|| delay.max(ctx.retry.initial));
                let log = LogEntry::warn(
                    ctx.now(),
                    format!("status check failed ({}: {}); trying again", e.code, e.message),
                );
                self.reschedule(&task, task.progress, backoff, Some(log)).await?;
            }
            Err(e) => {
                let log =
                    LogEntry::error(ctx.now(), format!("finished: {}: {}", e.code, e.message));
                self.finish(
                    &task,
                    Completion::Failed {
                        error: e.message,
                        error_type: ErrorType::upstream(e.code),
                    },
                    log,
                )
                .await?;
            }
        }
        Ok(())
    }
}
