//! The sandbox provider: a local stand-in for the upstream that needs no credentials. It
//! simulates the upstream's life cycle on a clock (waiting, then processing with rising
//! progress) and renders a real H.264 MP4 that follows the request's resolution, aspect
//! ratio and duration. Everything it knows survives a restart: the job's age comes from the
//! task's `submitted_at`, and a finished file on disk is reused instead of re-rendered. The
//! render happens in the poll that finds the simulated time over, under that poll's lease, so
//! among several replicas exactly one renders a given request.

mod render_job;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use vidgate_domain::{Clock, RequestId};

use crate::{Account, PollJob, PollStatus, Provider, ProviderError, SubmitJob, Submitted};
use render_job::{RenderOutcome, render_to_disk};

/// Error code of a prompt the simulated moderation refuses (the upstream's own code).
pub const MODERATION_CODE: &str = "InvalidParameter.VoilationContent";

#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Where rendered files go (`<media_dir>/<request id>/video.mp4`).
    pub media_dir: PathBuf,
    /// Jobs that may run at once (the simulated account's concurrency limit).
    pub concurrency: i64,
    /// Simulated time in the upstream's own queue.
    pub queue_delay: Duration,
    /// Simulated generation time (progress rises over it); the render follows it.
    pub processing_time: Duration,
    pub poll_interval: Duration,
    pub fps: u32,
    /// Prompts containing any of these words fail as the upstream's moderation would, so
    /// callers can exercise their failure handling.
    pub moderation_blocklist: Vec<String>,
}

pub struct SandboxProvider {
    config: SandboxConfig,
    clock: Arc<dyn Clock>,
}

impl SandboxProvider {
    pub fn new(config: SandboxConfig, clock: Arc<dyn Clock>) -> Self {
        SandboxProvider { config, clock }
    }

    pub fn upstream_id(request_id: RequestId) -> String {
        format!("sandbox-{request_id}")
    }

    fn blocked_word(&self, job: &PollJob<'_>) -> Option<&str> {
        let prompt = job.request.prompt.as_deref().unwrap_or_default().to_lowercase();
        self.config
            .moderation_blocklist
            .iter()
            .find(|w| !w.is_empty() && prompt.contains(&w.to_lowercase()))
            .map(String::as_str)
    }

    async fn render(&self, job: &PollJob<'_>) -> RenderOutcome {
        let (dir, fps, id, request) =
            (self.config.media_dir.clone(), self.config.fps, job.request_id, job.request.clone());
        tokio::task::spawn_blocking(move || render_to_disk(&dir, id, &request, fps))
            .await
            .unwrap_or_else(|e| RenderOutcome::Failed(format!("render task died: {e}")))
    }
}

#[async_trait]
impl Provider for SandboxProvider {
    fn pool(&self) -> &str {
        "sandbox"
    }

    fn accounts(&self) -> Vec<Account> {
        vec![Account { id: "sandbox".into(), concurrency: self.config.concurrency }]
    }

    async fn submit(&self, job: SubmitJob<'_>) -> Result<Submitted, ProviderError> {
        // Idempotent by construction: the upstream id is derived from the request id, so a
        // resubmission after a crash names the same job.
        Ok(Submitted { upstream_task_id: Self::upstream_id(job.request_id) })
    }

    async fn poll(&self, job: PollJob<'_>) -> Result<PollStatus, ProviderError> {
        if job.upstream_task_id != Self::upstream_id(job.request_id) {
            return Err(ProviderError::fatal(
                "ResourceNotFound",
                format!("no sandbox task {}", job.upstream_task_id),
            ));
        }
        let elapsed = Duration::from_millis((self.clock.now_ms() - job.submitted_at).max(0) as u64);
        let queue = self.config.queue_delay;
        if elapsed < queue {
            return Ok(PollStatus::Waiting);
        }
        if let Some(word) = self.blocked_word(&job) {
            return Ok(PollStatus::Failed {
                code: MODERATION_CODE.into(),
                message: format!(
                    "the prompt was refused by content moderation (sandbox blocklist word {word:?})"
                ),
            });
        }
        let processing = self.config.processing_time;
        let into = elapsed - queue;
        if into < processing {
            let progress = (into.as_secs_f64() / processing.as_secs_f64() * 100.0).floor() as u8;
            return Ok(PollStatus::Processing { progress: progress.min(99) });
        }
        match self.render(&job).await {
            RenderOutcome::Done(file) => {
                Ok(PollStatus::Succeeded(crate::UpstreamOutput { files: vec![file], usage: None }))
            }
            RenderOutcome::Failed(message) => {
                Ok(PollStatus::Failed { code: "RenderFailed".into(), message })
            }
        }
    }

    fn poll_delay(&self, _since_submit: Duration) -> Duration {
        self.config.poll_interval
    }
}

#[cfg(test)]
mod tests;
