//! The sandbox provider: a local stand-in for the upstream that needs no credentials. It
//! simulates the upstream's life cycle on a clock (waiting, then processing with rising
//! progress) and renders a real H.264 MP4 that answers the request: its size, length, audio,
//! prompt, model and first/last-frame images, plus a JPEG cover. Everything it knows survives
//! a restart: the job's age comes from the task's `submitted_at`, and a finished file on disk
//! is reused instead of re-rendered. The render happens in the poll that finds the simulated
//! time over, under that poll's lease, so among several replicas exactly one renders a given
//! request. Renders go into the media store (`vidgate-media`), so replicas sharing an S3 store
//! share them; a render that finished before a crash is found there and reused.

pub mod file_ids;
pub mod inputs;
mod render_job;
mod scratch;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use vidgate_domain::{Clock, ErrorType, FileRef, OutputFile, Pool, RequestId, Variant};
use vidgate_media::{MediaStore, ObjectKey};

use crate::{
    Account, PollJob, PollStatus, Provider, ProviderError, StoredFile, SubmitJob, Submitted,
};
use inputs::{Fetcher, frame_sources};
use render_job::{Inputs, RenderOutcome, Rendered, render_into};
use vidgate_egress::EgressPolicy;

/// Error code of a prompt the simulated moderation refuses (the upstream's own code).
pub const MODERATION_CODE: &str = "InvalidParameter.VoilationContent";

#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Where renders are kept (`<key id>/<request id>/video`, see `vidgate_media::layout`).
    pub media: MediaStore,
    /// A local directory renders are written in before they go into the media store.
    pub scratch_dir: PathBuf,
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
    /// Input image downloads: the SSRF guard, a time limit and a size cap.
    pub egress: EgressPolicy,
    pub fetch_timeout: Duration,
    pub max_input_bytes: u64,
    /// The model catalog in force: a request's default length and size are its version's.
    pub models: Arc<vidgate_domain::models::live::LiveModels>,
}

pub struct SandboxProvider {
    config: SandboxConfig,
    clock: Arc<dyn Clock>,
    fetcher: Fetcher,
}

/// What the sandbox leaves beside a finished render, so a later poll (after a crash, or on
/// another replica) answers with it instead of rendering again.
#[derive(serde::Serialize, serde::Deserialize)]
struct RenderNote {
    file: OutputFile,
    stored: Vec<StoredFile>,
}

/// A render note is a few hundred bytes; anything larger is not one.
const NOTE_MAX_BYTES: u64 = 64 * 1024;

impl SandboxProvider {
    pub fn new(config: SandboxConfig, clock: Arc<dyn Clock>) -> Result<Self, crate::SetupError> {
        std::fs::create_dir_all(&config.scratch_dir)
            .map_err(crate::SetupError::io("create", &config.scratch_dir))?;
        let fetcher = Fetcher::new(
            config.egress.clone(),
            config.fetch_timeout,
            config.max_input_bytes,
            config.media.clone(),
        )?;
        Ok(SandboxProvider { config, clock, fetcher })
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

    /// The input images' bytes.
    async fn inputs(&self, job: &PollJob<'_>) -> Result<Inputs, inputs::InputError> {
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

    /// A render finished earlier (renders are deterministic: it is the same file).
    async fn earlier_render(&self, job: &PollJob<'_>) -> Option<RenderOutcome> {
        let note = ObjectKey::render_note(job.key_id, job.request_id);
        let bytes = self.config.media.read_small(&note, NOTE_MAX_BYTES).await.ok()??;
        let note: RenderNote = serde_json::from_slice(&bytes).ok()?;
        Some(RenderOutcome::Done(Box::new(note.file), note.stored))
    }

    async fn render(&self, job: &PollJob<'_>) -> RenderOutcome {
        if let Some(done) = self.earlier_render(job).await {
            return done;
        }
        let inputs = match self.inputs(job).await {
            Ok(inputs) => inputs,
            Err(e) => {
                return RenderOutcome::Failed {
                    code: ErrorType::InputFetchFailed,
                    message: e.to_string(),
                };
            }
        };
        let failed = |message: String| RenderOutcome::Failed {
            code: ErrorType::upstream("RenderFailed"),
            message,
        };
        // A private scratch directory: a replica that lost its lease may still be rendering
        // the same request; neither touches the other's files. Dropped (deleted) on return.
        let scratch = match tempfile::Builder::new()
            .prefix(&format!("{}.", job.request_id))
            .tempdir_in(&self.config.scratch_dir)
        {
            Ok(dir) => dir,
            Err(e) => return failed(format!("cannot make a scratch directory: {e}")),
        };
        let (dir, fps, request) =
            (scratch.path().to_path_buf(), self.config.fps, job.request.clone());
        let catalog = self.config.models.current().catalog.clone();
        let rendered = tokio::task::spawn_blocking(move || {
            render_into(&dir, &catalog, &request, &inputs, fps)
        })
        .await;
        let rendered = match rendered {
            Ok(Ok(rendered)) => rendered,
            Ok(Err(outcome)) => return outcome,
            Err(e) => return failed(format!("render task died: {e}")),
        };
        match self.store_render(job, &rendered).await {
            Ok(done) => done,
            Err(e) => failed(format!("cannot store the render: {e}")),
        }
    }

    /// Puts a render into the media store: the cover, the video, then the note that says
    /// both are there.
    async fn store_render(
        &self,
        job: &PollJob<'_>,
        r: &Rendered,
    ) -> Result<RenderOutcome, vidgate_media::MediaError> {
        let (key_id, id, media) = (job.key_id, job.request_id, &self.config.media);
        let mut stored = Vec::new();
        for (variant, path, content_type) in
            [(Variant::COVER, &r.cover, "image/jpeg"), (Variant::VIDEO, &r.video, "video/mp4")]
        {
            let key = ObjectKey::output(key_id, id, variant);
            let object = media.put_file(&key, path, u64::MAX).await?;
            stored.push(StoredFile {
                variant,
                key: key.to_string(),
                size: object.size,
                sha256: object.sha256,
                content_type: content_type.into(),
            });
        }
        let video = &stored[1];
        let mut file =
            OutputFile::new(FileRef::own(Variant::VIDEO), "video/mp4", format!("{id}.mp4"));
        file.file_size = Some(video.size);
        (file.width, file.height, file.duration) =
            (Some(r.width), Some(r.height), Some(r.duration));
        file.file_id = Some(file_ids::file_id(id, Variant::VIDEO));
        file.cover = Some(FileRef::own(Variant::COVER));
        file.cover_file_id = Some(file_ids::file_id(id, Variant::COVER));
        file.sha256 = Some(video.sha256.clone());
        let note = RenderNote { file, stored };
        let bytes = serde_json::to_vec(&note).unwrap_or_default();
        media.put_bytes(&ObjectKey::render_note(key_id, id), bytes.into()).await?;
        Ok(RenderOutcome::Done(Box::new(note.file), note.stored))
    }
}

#[async_trait]
impl Provider for SandboxProvider {
    fn pool(&self) -> Pool {
        Pool::Sandbox
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
            RenderOutcome::Done(file, stored) => {
                // The sandbox measures what it made: the clip's length, resolution and sound.
                let out = job.request.output_config();
                let usage = vidgate_domain::Usage {
                    output_seconds: file.duration,
                    resolution: out.resolution.clone(),
                    audio: out.audio_generation == Some(vidgate_domain::request::Switch::Enabled),
                    ..Default::default()
                };
                let files = vec![*file];
                Ok(PollStatus::Succeeded(crate::UpstreamOutput {
                    files,
                    usage: Some(usage),
                    stored,
                }))
            }
            RenderOutcome::Failed { code, message } => Ok(PollStatus::Failed { code, message }),
        }
    }

    fn poll_delay(&self, _since_submit: Duration) -> Duration {
        self.config.poll_interval
    }

    async fn expire_media(&self) -> Result<u64, ProviderError> {
        // The media store's own retention is the keep step's; here only scratch directories
        // a crashed render left behind go.
        let dir = self.config.scratch_dir.clone();
        let removed = tokio::task::spawn_blocking(move || scratch::sweep(&dir))
            .await
            .map_err(|e| ProviderError::fatal("SweepFailed", e.to_string()))?;
        if removed > 0 {
            tracing::info!(removed, "removed scratch directories of renders that died");
        }
        Ok(0)
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_inputs;
