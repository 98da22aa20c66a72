//! The one loop every worker runs in. `concurrency` copies of the loop call `run_once`; after
//! `Worked` they go again at once, after `Idle` they wait for a wake-up or `idle_wait`, after an
//! error they back off. Shutdown stops new iterations; in-flight ones get `drain` to finish and
//! are then abandoned (their leases expire and the reaper hands the tasks to another worker).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Did something; there may be more.
    Worked,
    /// Nothing to do right now.
    Idle,
}

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error(transparent)]
    Store(#[from] vidgate_store::StoreError),
    #[error(transparent)]
    Provider(#[from] vidgate_providers::ProviderError),
}

#[async_trait]
pub trait Worker: Send + Sync + 'static {
    fn name(&self) -> &'static str;
    async fn run_once(&self) -> Result<Outcome, WorkerError>;
}

#[derive(Debug, Clone, Copy)]
pub struct RunnerConfig {
    pub concurrency: usize,
    /// Longest sleep when idle; a wake-up ends it early.
    pub idle_wait: Duration,
    pub error_backoff: Duration,
}

/// Starts `cfg.concurrency` loops of `worker` on `set`.
pub fn spawn(
    set: &mut JoinSet<()>,
    worker: Arc<dyn Worker>,
    cfg: RunnerConfig,
    wake: Arc<Notify>,
    shutdown: CancellationToken,
) {
    for _ in 0..cfg.concurrency.max(1) {
        let (worker, wake, shutdown) = (worker.clone(), wake.clone(), shutdown.clone());
        set.spawn(run_loop(worker, cfg, wake, shutdown));
    }
}

async fn run_loop(
    worker: Arc<dyn Worker>,
    cfg: RunnerConfig,
    wake: Arc<Notify>,
    shutdown: CancellationToken,
) {
    while !shutdown.is_cancelled() {
        // Register for a wake-up before looking for work, so a signal sent while this
        // iteration runs is not lost.
        let notified = wake.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let pause = match worker.run_once().await {
            Ok(Outcome::Worked) => continue,
            Ok(Outcome::Idle) => cfg.idle_wait,
            Err(e) => {
                tracing::error!(worker = worker.name(), error = %e, "worker step failed; backing off");
                cfg.error_backoff
            }
        };
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = &mut notified => {}
            _ = tokio::time::sleep(pause) => {}
        }
    }
}

/// Waits for every loop on `set` to finish (after `shutdown` was cancelled), up to `drain`.
/// Returns how many were still busy and were abandoned.
pub async fn drain(set: &mut JoinSet<()>, drain: Duration) -> usize {
    let finished =
        tokio::time::timeout(drain, async { while set.join_next().await.is_some() {} }).await;
    if finished.is_err() {
        let left = set.len();
        set.abort_all();
        return left;
    }
    0
}
