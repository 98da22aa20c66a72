//! The event puller: reliable-mode events (`PullEvents`) make finished jobs due for a poll at
//! once, instead of at their next scheduled poll; the poller then records the end (from the
//! event, without another upstream call). Events are confirmed only after they are recorded,
//! so a crash in between means redelivery, never a lost event.

use std::sync::Arc;

use async_trait::async_trait;

use crate::context::WorkerContext;
use crate::{Outcome, Worker, WorkerError};

pub struct EventPuller {
    ctx: Arc<WorkerContext>,
}

impl EventPuller {
    pub fn new(ctx: Arc<WorkerContext>) -> Self {
        EventPuller { ctx }
    }
}

#[async_trait]
impl Worker for EventPuller {
    fn name(&self) -> &'static str {
        "event-puller"
    }

    async fn run_once(&self) -> Result<Outcome, WorkerError> {
        let ctx = &self.ctx;
        let events = match ctx.provider.pull_events().await {
            Ok(events) => events,
            Err(e) => {
                // Polling covers for a broken event channel; say so and idle.
                tracing::warn!(code = %e.code, error = %e.message, "pulling upstream events failed");
                return Ok(Outcome::Idle);
            }
        };
        if events.is_empty() {
            return Ok(Outcome::Idle);
        }
        let (now, gap) = (ctx.now(), ctx.min_poll_gap());
        for e in &events {
            if !ctx.store.make_due(e.request_id, &e.upstream_task_id, now, gap).await? {
                tracing::debug!(upstream_task = %e.upstream_task_id, "event for a task that is not running here (already finished, or not ours)");
            }
        }
        if let Err(e) = ctx.provider.confirm_events(&events).await {
            tracing::warn!(code = %e.code, error = %e.message, "confirming upstream events failed; they will be delivered again");
        }
        Ok(Outcome::Worked)
    }
}
