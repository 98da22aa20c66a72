//! The reaper sweeps what others left behind: submit leases that expired (the process died
//! mid-submit) go back to the queue, expired poll leases are released, tasks past their
//! deadline fail with `timeout`, expired dedup claims are purged.

use std::sync::Arc;

use async_trait::async_trait;

use crate::context::WorkerContext;
use crate::{Outcome, Worker, WorkerError};

pub struct Reaper {
    ctx: Arc<WorkerContext>,
}

impl Reaper {
    pub fn new(ctx: Arc<WorkerContext>) -> Self {
        Reaper { ctx }
    }
}

#[async_trait]
impl Worker for Reaper {
    fn name(&self) -> &'static str {
        "reaper"
    }

    /// Always `Idle`: the reaper runs on its interval, not back to back.
    async fn run_once(&self) -> Result<Outcome, WorkerError> {
        let report = self.ctx.store.reap(self.ctx.now()).await?;
        if !report.is_empty() {
            tracing::info!(
                requeued = report.requeued,
                released = report.released,
                timed_out = report.timed_out,
                purged_claims = report.purged_claims,
                "reaper swept"
            );
            self.ctx.changed_all();
            if report.requeued + report.timed_out > 0 {
                self.ctx.wake_dispatcher.notify_waiters();
            }
            if report.timed_out > 0 {
                self.ctx.wake_webhooks.notify_waiters();
            }
            if report.released > 0 {
                self.ctx.wake_poller.notify_waiters();
            }
        }
        Ok(Outcome::Idle)
    }
}
