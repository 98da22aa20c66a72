//! The media janitor deletes stored outputs whose retention is over (the provider knows
//! where its files are; only the sandbox stores any). Runs on an interval, not back to back.

use std::sync::Arc;

use async_trait::async_trait;

use crate::context::WorkerContext;
use crate::{Outcome, Worker, WorkerError};

pub struct MediaJanitor {
    ctx: Arc<WorkerContext>,
}

impl MediaJanitor {
    pub fn new(ctx: Arc<WorkerContext>) -> Self {
        MediaJanitor { ctx }
    }
}

#[async_trait]
impl Worker for MediaJanitor {
    fn name(&self) -> &'static str {
        "media-janitor"
    }

    async fn run_once(&self) -> Result<Outcome, WorkerError> {
        let expired = self.ctx.provider.expire_media().await?;
        if expired > 0 {
            tracing::info!(expired, "deleted media past its retention");
        }
        Ok(Outcome::Idle)
    }
}
