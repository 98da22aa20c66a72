//! One sandbox render: request → picture size and length → MP4 on disk, written to a
//! temporary name and renamed so a crash never leaves a half file under the final name.

use std::fs;
use std::io::BufWriter;
use std::path::Path;

use vidgate_domain::dimensions::output_shape;
use vidgate_domain::request::Switch;
use vidgate_domain::{RequestId, VideoRequest};
use vidgate_render::{PatternScene, VideoSpec, render_mp4};

use crate::OutputFile;

pub const VIDEO_FILE: &str = "video.mp4";

#[derive(Debug, Clone)]
pub enum RenderOutcome {
    Done(OutputFile),
    Failed(String),
}

/// Seed for the scene's motion, stable across runs and platforms.
fn seed_of(request: &VideoRequest) -> u64 {
    let text = serde_json::to_string(request).unwrap_or_default();
    text.bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

pub fn render_to_disk(
    media_dir: &Path,
    id: RequestId,
    request: &VideoRequest,
    fps: u32,
) -> RenderOutcome {
    let shape = output_shape(request);
    let spec = VideoSpec {
        width: shape.width,
        height: shape.height,
        duration_secs: shape.duration_secs,
        fps,
        audio: request.output_config.audio_generation == Some(Switch::Enabled),
    };
    let dir = media_dir.join(id.to_string());
    let path = dir.join(VIDEO_FILE);
    let file = |size: u64| OutputFile {
        url: format!("/media/{id}/{VIDEO_FILE}"),
        content_type: "video/mp4".into(),
        file_name: format!("{id}.mp4"),
        file_size: Some(size),
        width: Some(spec.width),
        height: Some(spec.height),
        duration: Some(f64::from(spec.frame_count()) / f64::from(spec.fps)),
        expires_at: None,
        file_id: None,
    };
    // Rendered before a restart: reuse it (renders are deterministic, it is the same file).
    if let Ok(meta) = fs::metadata(&path) {
        return RenderOutcome::Done(file(meta.len()));
    }
    // A private temporary name: a replica that lost its lease may still be rendering the same
    // request (into identical bytes); neither may clobber the other's half file.
    let tmp =
        dir.join(format!(".{VIDEO_FILE}.{}.{}.partial", std::process::id(), RequestId::new()));
    let result = (|| -> Result<u64, String> {
        fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let out =
            fs::File::create(&tmp).map_err(|e| format!("cannot create {}: {e}", tmp.display()))?;
        let scene = PatternScene::new(seed_of(request), request.prompt.as_deref().unwrap_or(""));
        render_mp4(&spec, &scene, BufWriter::new(out)).map_err(|e| e.to_string())?;
        fs::rename(&tmp, &path).map_err(|e| format!("cannot move the video into place: {e}"))?;
        fs::metadata(&path).map(|m| m.len()).map_err(|e| e.to_string())
    })();
    match result {
        Ok(size) => RenderOutcome::Done(file(size)),
        Err(message) => {
            let _ = fs::remove_file(&tmp);
            RenderOutcome::Failed(message)
        }
    }
}
