//! The media janitor deletes kept files whose retention is over (the object first, then its
//! catalog row, so a crash between them only repeats a delete), reports what is stored, and
//! lets the provider clean its own leftovers (the sandbox's scratch directories). Runs on an
//! interval, not back to back.

use std::sync::Arc;

use async_trait::async_trait;
use vidgate_media::ObjectKey;

use crate::context::WorkerContext;
use crate::{Outcome, Worker, WorkerError};

/// Files deleted per batch.
const BATCH: i64 = 100;

pub struct MediaJanitor {
    ctx: Arc<WorkerContext>,
}

impl MediaJanitor {
    pub fn new(ctx: Arc<WorkerContext>) -> Self {
        MediaJanitor { ctx }
    }

    /// Deletes one batch of expired files; returns how many went.
    pub async fn sweep_once(&self) -> Result<u64, WorkerError> {
        let (ctx, now) = (&self.ctx, self.ctx.now());
        let mut deleted = 0;
        for object in ctx.store.expired_media(now, BATCH).await? {
            let Some(key) = ObjectKey::parse(&object.object_key) else {
                tracing::warn!(key = %object.object_key, "media row names no valid object key");
                continue;
            };
            if let Err(e) = ctx.media.store.delete(&key).await {
                tracing::warn!(key = %key, error = %e, "cannot delete expired media; will retry");
                continue;
            }
            if ctx.store.mark_media_deleted(object.request_id, &object.variant, now).await? {
                deleted += 1;
            }
        }
        Ok(deleted)
    }
}

#[async_trait]
impl Worker for MediaJanitor {
    fn name(&self) -> &'static str {
        "media-janitor"
    }

    async fn run_once(&self) -> Result<Outcome, WorkerError> {
        let mut deleted = 0;
        loop {
            let batch = self.sweep_once().await?;
            deleted += batch;
            if batch < BATCH as u64 {
                break;
            }
        }
        if deleted > 0 {
            tracing::info!(deleted, "deleted media past its retention");
        }
        let totals = self.ctx.store.media_totals().await?;
        crate::metrics::media_stored(totals.files, totals.bytes, deleted);
        self.ctx.provider.expire_media().await?;
        Ok(Outcome::Idle)
    }
}
