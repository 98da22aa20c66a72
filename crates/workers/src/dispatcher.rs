//! The dispatcher moves one queued task to the upstream per `run_once`: it claims the next task
//! for an account with a free slot (the claim and the slot count are one atomic step), submits
//! it, and records the upstream id. Retryable failures go back to the queue with backoff;
//! fatal ones end the request with the upstream's code as `error_type`.

use std::sync::Arc;

use async_trait::async_trait;
use tracing::Instrument;
use vidgate_domain::ErrorType;
use vidgate_providers::{ErrorClass, SubmitJob};
use vidgate_store::{Completion, LogEntry, TaskRecord};

use crate::context::{WorkerContext, ms, with_heartbeat};
use crate::{Outcome, Worker, WorkerError};

pub struct Dispatcher {
    ctx: Arc<WorkerContext>,
}

impl Dispatcher {
    pub fn new(ctx: Arc<WorkerContext>) -> Self {
        Dispatcher { ctx }
    }

    async fn fail(
        &self,
        task: &TaskRecord,
        error: String,
        error_type: ErrorType,
    ) -> Result<(), WorkerError> {
        let now = self.ctx.now();
        let log = LogEntry::error(now, format!("failed: {error_type}: {error}"));
        let completion = Completion::Failed { error, error_type: error_type.clone() };
        if self.ctx.store.complete(task.lease(), completion, now, log).await? {
            tracing::warn!(%error_type, "failed before it reached the upstream");
            crate::metrics::finished(self.ctx.pool(), "failed");
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
        let Some(task) = ctx
            .store
            .claim_next_queued(ctx.pool(), &ctx.slots(), &ctx.owner, now, lease_until)
            .await?
        else {
            return Ok(Outcome::Idle);
        };
        let span =
            tracing::info_span!("dispatch", request_id = %task.id, attempt = task.submit_attempts);
        self.submit(task).instrument(span).await?;
        Ok(Outcome::Worked)
    }
}

impl Dispatcher {
    async fn submit(&self, task: TaskRecord) -> Result<(), WorkerError> {
        let ctx = &self.ctx;
        let now = ctx.now();
        let account = task.account.clone().unwrap_or_default();
        if task.cancel_requested {
            let log = LogEntry::info(now, "cancelled by the caller before it reached the upstream");
            if ctx.store.complete(task.lease(), Completion::Cancelled, now, log).await? {
                crate::metrics::finished(ctx.pool(), "cancelled");
            }
            return Ok(());
        }
        let job = SubmitJob {
            request_id: task.id,
            account: &account,
            request: &task.request,
            attempt: task.submit_attempts,
        };
        let started = std::time::Instant::now();
        let submitted = with_heartbeat(ctx, task.lease(), ctx.provider.submit(job)).await;
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
                        task.submit_attempts,
                        submitted.upstream_task_id
                    ),
                );
                if ctx
                    .store
                    .mark_running(task.lease(), &submitted.upstream_task_id, next_poll, now, log)
                    .await?
                {
                    tracing::info!(account = %account, upstream_task_id = %submitted.upstream_task_id, "handed to the upstream");
                } else {
                    tracing::warn!(task = %task.id, "lost the lease while submitting; the newer attempt owns the task");
                }
            }
            Err(e)
                if e.class == ErrorClass::Retryable
                    && ctx.retry.allows_another(task.submit_attempts as u32) =>
            {
                let now = ctx.now();
                let delay = e.retry_after.unwrap_or_else(|| {
                    ctx.retry.delay(task.submit_attempts as u32, rand::random())
                });
                let log = LogEntry::warn(
                    now,
                    format!(
                        "upstream did not take it ({}: {}); back in the queue, retry in {:.1} s",
                        e.code,
                        e.message,
                        delay.as_secs_f64()
                    ),
                );
                if ctx.store.requeue(task.lease(), now + ms(delay), now, log).await? {
                    tracing::warn!(code = %e.code, retry_in_s = delay.as_secs_f64(), "the upstream did not take it; back in the queue");
                }
            }
            Err(e) if e.class == ErrorClass::Retryable => {
                let error = format!(
                    "the upstream kept failing after {} attempts; last error {}: {}",
                    task.submit_attempts, e.code, e.message
                );
                self.fail(&task, error, ErrorType::UpstreamUnavailable).await?;
            }
            Err(e) => self.fail(&task, e.message, ErrorType::upstream(e.code)).await?,
        }
        Ok(())
    }
}
