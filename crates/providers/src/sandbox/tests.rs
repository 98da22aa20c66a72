//! The sandbox's simulated life cycle, driven by a manual clock.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use vidgate_domain::{
    Clock, ManualClock, ParseOptions, RequestId, VideoRequest, parse_create_request,
};

use sha2::Digest;

use super::*;
use crate::{PollJob, PollStatus, Provider, SubmitJob};

fn request(prompt: &str) -> VideoRequest {
    let body = json!({"model_name": "Vidu", "model_version": "q2", "prompt": prompt,
        "output_config": {"duration": 1, "resolution": "720P", "aspect_ratio": "1:1"}});
    parse_create_request(&body, &ParseOptions::default()).unwrap()
}

pub(super) fn sandbox(dir: &std::path::Path, clock: Arc<ManualClock>) -> SandboxProvider {
    sandbox_with(dir, clock, vidgate_egress::EgressPolicy::default())
}

pub(super) fn sandbox_with(
    dir: &std::path::Path,
    clock: Arc<ManualClock>,
    egress: vidgate_egress::EgressPolicy,
) -> SandboxProvider {
    SandboxProvider::new(
        SandboxConfig {
            media: vidgate_media::MediaStore::open(
                &vidgate_media::StoreSettings::Local { dir: dir.join("media") },
                5 << 20,
            )
            .unwrap(),
            scratch_dir: dir.join("scratch"),
            concurrency: 2,
            queue_delay: Duration::from_secs(1),
            processing_time: Duration::from_secs(4),
            poll_interval: Duration::from_millis(500),
            fps: 4,
            moderation_blocklist: vec!["forbidden".into()],
            egress,
            fetch_timeout: Duration::from_secs(2),
            max_input_bytes: 64 * 1024,
            models: Arc::new(vidgate_domain::models::live::LiveModels::built_in()),
        },
        clock,
    )
    .unwrap()
}

#[tokio::test]
async fn a_job_waits_then_progresses_then_delivers_a_real_file() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(1_000_000));
    let sb = sandbox(dir.path(), clock.clone());
    let (id, req) = (RequestId::new(), request("a lighthouse"));
    let submitted = sb
        .submit(SubmitJob { request_id: id, account: "sandbox", request: &req, attempt: 1 })
        .await
        .unwrap();
    let job = PollJob {
        key_id: "k",
        request_id: id,
        account: "sandbox",
        upstream_task_id: &submitted.upstream_task_id,
        submitted_at: clock.now_ms(),
        request: &req,
    };

    assert_eq!(sb.poll(job).await.unwrap(), PollStatus::Waiting);
    clock.advance(3000);
    assert_eq!(sb.poll(job).await.unwrap(), PollStatus::Processing { progress: 50 });
    clock.advance(2000);
    let PollStatus::Succeeded(out) = sb.poll(job).await.unwrap() else {
        panic!("expected success")
    };
    let f = &out.files[0];
    assert_eq!((f.width, f.height), (Some(720), Some(720)));
    assert_eq!(f.duration, Some(1.0));
    // In the media store, under the owning key; the result names them as vidgate's own.
    let stored = dir.path().join("media").join("k").join(id.to_string());
    let video = std::fs::read(stored.join("video")).unwrap();
    assert_eq!(video.len() as u64, f.file_size.unwrap());
    assert_eq!(f.sha256.as_deref(), Some(hex::encode(sha2::Sha256::digest(&video)).as_str()));
    assert_eq!(f.file, FileRef::own(Variant::VIDEO));
    assert_eq!(f.cover, Some(FileRef::own(Variant::COVER)));
    assert_eq!(f.file_id.as_deref(), Some(format!("sbx-{id}-video").as_str()));
    assert_eq!(f.cover_file_id.as_deref(), Some(format!("sbx-{id}-cover").as_str()));
    let cover = std::fs::read(stored.join("cover")).unwrap();
    assert_eq!(&cover[..3], &[0xFF, 0xD8, 0xFF], "the cover is a JPEG");
    let variants: Vec<Variant> = out.stored.iter().map(|s| s.variant).collect();
    assert_eq!(variants, [Variant::COVER, Variant::VIDEO]);
    assert_eq!(out.stored[1].size, f.file_size.unwrap());
    let scratch: Vec<_> = std::fs::read_dir(dir.path().join("scratch")).unwrap().collect();
    assert!(scratch.is_empty(), "the scratch directory is gone");
}

#[tokio::test]
async fn resubmitting_names_the_same_job_and_a_finished_file_is_reused() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(0));
    let (id, req) = (RequestId::new(), request("a kite"));
    let first = sandbox(dir.path(), clock.clone());
    let a = first
        .submit(SubmitJob { request_id: id, account: "sandbox", request: &req, attempt: 1 })
        .await
        .unwrap();
    let b = first
        .submit(SubmitJob { request_id: id, account: "sandbox", request: &req, attempt: 2 })
        .await
        .unwrap();
    assert_eq!(a, b);
    clock.advance(10_000);
    let job = PollJob {
        key_id: "k",
        request_id: id,
        account: "sandbox",
        upstream_task_id: &a.upstream_task_id,
        submitted_at: 0,
        request: &req,
    };
    let PollStatus::Succeeded(one) = first.poll(job).await.unwrap() else { panic!() };
    let path = dir.path().join("media").join("k").join(id.to_string()).join("video");
    let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
    // A new process (fresh provider) polls the same job: the file is reused, not re-rendered.
    let second = sandbox(dir.path(), clock.clone());
    let PollStatus::Succeeded(two) = second.poll(job).await.unwrap() else { panic!() };
    assert_eq!(one, two);
    assert_eq!(std::fs::metadata(&path).unwrap().modified().unwrap(), modified);
}

#[tokio::test]
async fn blocklisted_prompts_fail_like_upstream_moderation() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(0));
    let sb = sandbox(dir.path(), clock.clone());
    let (id, req) = (RequestId::new(), request("something Forbidden here"));
    let up = SandboxProvider::upstream_id(id);
    clock.advance(1500);
    let job = PollJob {
        key_id: "k",
        request_id: id,
        account: "sandbox",
        upstream_task_id: &up,
        submitted_at: 0,
        request: &req,
    };
    match sb.poll(job).await.unwrap() {
        PollStatus::Failed { code, .. } => assert_eq!(code.as_str(), MODERATION_CODE),
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[tokio::test]
async fn an_unknown_upstream_id_is_a_fatal_error() {
    let dir = tempfile::tempdir().unwrap();
    let sb = sandbox(dir.path(), Arc::new(ManualClock::new(0)));
    let req = request("x");
    let job = PollJob {
        key_id: "k",
        request_id: RequestId::new(),
        account: "sandbox",
        upstream_task_id: "sandbox-other",
        submitted_at: 0,
        request: &req,
    };
    let err = sb.poll(job).await.unwrap_err();
    assert_eq!(err.class, crate::ErrorClass::Fatal);
}
