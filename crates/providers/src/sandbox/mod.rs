//! The sandbox provider: a local stand-in for the upstream that needs no credentials. It
//! simulates the upstream's life cycle on a clock (waiting, then processing with rising
//! progress) and renders a real H.264 MP4 that answers the request: its size, length, audio,
//! prompt, model and first/last-frame images, plus a JPEG cover. Everything it knows survives
//! a restart: the job's age comes from the task's `submitted_at`, and a finished file on disk
//! is reused instead of re-rendered. The render happens in the poll that finds the simulated
//! time over, under that poll's lease, so among several replicas exactly one renders a given
//! request. Files are cleaned once their retention is over (`expire_media`).

pub mod inputs;
pub mod media_names;
mod render_job;
pub mod retention;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use async_trait::async_trait;
use vidgate_domain::{Clock, ErrorType, RequestId};

use crate::egress::EgressPolicy;
use crate::{Account, PollJob, PollStatus, Provider, ProviderError, SubmitJob, Submitted};
use inputs::{Fetcher, frame_sources};
use media_names::MediaNames;
use render_job::{Inputs, RenderOutcome, render_to_disk};

pub const VIDEO_FILE: &str = "video.mp4";
pub const COVER_FILE: &str = "cover.jpg";

/// Error code of a prompt the simulated moderation refuses (the upstream's own code).
pub const MODERATION_CODE: &str = "InvalidParameter.VoilationContent";

#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Where rendered files go (`<media_dir>/<request id>.<token>/video.mp4`, see `media_names`).
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
    /// How long rendered files are kept (zero: forever).
    pub retention: Duration,
    /// Input image downloads: the SSRF guard, a time limit and a size cap.
    pub egress: EgressPolicy,
    pub fetch_timeout: Duration,
    pub max_input_bytes: u64,
}

pub struct SandboxProvider {
    config: SandboxConfig,
    clock: Arc<dyn Clock>,
    fetcher: Fetcher,
    names: MediaNames,
}

impl SandboxProvider {
    pub fn new(config: SandboxConfig, clock: Arc<dyn Clock>) -> Result<Self, crate::SetupError> {
        let names = MediaNames::open(&config.media_dir)?;
        let fetcher = Fetcher::new(
            config.egress.clone(),
            config.fetch_timeout,
            config.max_input_bytes,
            config.media_dir.clone(),
            names.clone(),
        )?;
        Ok(SandboxProvider { config, clock, fetcher, names })
    }

    /// How this sandbox names stored media (for tests that look at the files).
    pub fn media_names(&self) -> &MediaNames {
        &self.names
    }

    pub fn upstream_id(request_id: RequestId) -> String {
        format!("sandbox-{request_id}")
    }

    fn blocked_word(&self, job: &PollJob<'_>) -> Option<&str> {
        let prompt = job.request.prompt().unwrap_or_default().to_lowercase();
        self.config
            .moderation_blocklist
            .iter()
            .find(|w| !w.is_empty() && prompt.contains(&w.to_lowercase()))
            .map(String::as_str)
    }

    /// The input images' bytes, unless the video is already on disk (then none are needed).
    async fn inputs(&self, job: &PollJob<'_>) -> Result<Inputs, inputs::InputError> {
        let dir = self.names.dir_name(job.key_id, job.request_id);
        let done = self.config.media_dir.join(dir).join(VIDEO_FILE);
        if tokio::fs::try_exists(&done).await.unwrap_or(false) {
            return Ok(Inputs::default());
        }
        let sources = frame_sources(job.request);
        let mut inputs = Inputs::default();
        if let Some(first) = &sources.first {
            inputs.first = Some(self.fetcher.fetch(first, "first frame", job.key_id).await?);
        }
        if let Some(last) = &sources.last {
            inputs.last = Some(self.fetcher.fetch(last, "last frame", job.key_id).await?);
        }
        Ok(inputs)
    }

    async fn render(&self, job: &PollJob<'_>) -> RenderOutcome {
        let inputs = match self.inputs(job).await {
            Ok(inputs) => inputs,
            Err(e) => {
                return RenderOutcome::Failed {
                    code: ErrorType::InputFetchFailed,
                    message: e.to_string(),
                };
            }
        };
        let name = self.names.dir_name(job.key_id, job.request_id);
        let names = (self.names.clone(), job.key_id.to_owned());
        let (dir, fps, id, request, retention) = (
            self.config.media_dir.clone(),
            self.config.fps,
            job.request_id,
            job.request.clone(),
            self.config.retention,
        );
        tokio::task::spawn_blocking(move || {
            let file_id = |kind: &str| names.0.file_id(&names.1, id, kind);
            render_to_disk(&dir, &name, &file_id, id, &request, &inputs, fps, retention)
        })
        .await
        .unwrap_or_else(|e| RenderOutcome::Failed {
            code: ErrorType::upstream("RenderFailed"),
            message: format!("render task died: {e}"),
        })
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
                code: ErrorType::upstream(MODERATION_CODE),
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
                // The sandbox measures what it made: the clip's length, resolution and sound.
                let out = job.request.output_config();
                let usage = vidgate_domain::Usage {
                    output_seconds: file.duration,
                    resolution: out.resolution.clone(),
                    audio: out.audio_generation == Some(vidgate_domain::request::Switch::Enabled),
                    ..Default::default()
                };
                let files = vec![file];
                Ok(PollStatus::Succeeded(crate::UpstreamOutput { files, usage: Some(usage) }))
            }
            RenderOutcome::Failed { code, message } => Ok(PollStatus::Failed { code, message }),
        }
    }

    fn poll_delay(&self, _since_submit: Duration) -> Duration {
        self.config.poll_interval
    }

    async fn expire_media(&self) -> Result<u64, ProviderError> {
        let (dir, retention) = (self.config.media_dir.clone(), self.config.retention);
        let now = UNIX_EPOCH + Duration::from_millis(self.clock.now_ms().max(0) as u64);
        let report = tokio::task::spawn_blocking(move || retention::sweep(&dir, retention, now))
            .await
            .map_err(|e| ProviderError::fatal("SweepFailed", e.to_string()))?;
        if report.partials > 0 {
            tracing::info!(partials = report.partials, "removed abandoned partial renders");
        }
        Ok(report.expired)
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_inputs;
