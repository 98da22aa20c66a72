//! The reaper sweeps what others left behind: submit leases that expired (the process died
//! mid-submit) go back to the queue, expired poll leases are released, tasks past their
//! deadline fail with `timeout`, expired dedup claims are purged, and a task whose lease ran
//! out too many times in a row (its step keeps killing the worker) fails with `worker_crashed`.

use std::sync::Arc;

use async_trait::async_trait;
use vidgate_store::ReapLimits;

use crate::context::WorkerContext;
use crate::{Outcome, Worker, WorkerError};

pub struct Reaper {
    ctx: Arc<WorkerContext>,
    limits: ReapLimits,
}

impl Reaper {
    pub fn new(ctx: Arc<WorkerContext>, limits: ReapLimits) -> Self {
        Reaper { ctx, limits }
    }
}

#[async_trait]
impl Worker for Reaper {
    fn name(&self) -> &'static str {
        "reaper"
    }

    /// `Worked` when a batch was full (more to sweep at once), else `Idle`: the reaper runs
    /// on its interval, in bounded batches.
    async fn run_once(&self) -> Result<Outcome, WorkerError> {
        let report = self.ctx.store.reap(self.ctx.now(), self.limits).await?;
        if !report.is_empty() {
            tracing::info!(
                requeued = report.requeued,
                released = report.released,
                timed_out = report.timed_out,
                crashed = report.crashed,
                purged_claims = report.purged_claims,
                "reaper swept"
            );
        }
        Ok(if report.more { Outcome::Worked } else { Outcome::Idle })
    }
}
