//! One sandbox render: request (+ fetched images) → picture size and length → MP4 and JPEG
//! cover on disk. Both are written to temporary names and renamed, cover first, so a crash
//! never leaves a half file under a final name and a video on disk always has its cover.

use std::fs;
use std::io::BufWriter;
use std::path::Path;
use std::time::{Duration, SystemTime};

use vidgate_domain::dimensions::output_shape;
use vidgate_domain::request::Switch;
use vidgate_domain::{RequestId, VideoRequest, rfc3339};
use vidgate_render::scene::fnv1a;
use vidgate_render::{Picture, RequestScene, SceneText, VideoSpec, encodable_size, render_mp4};

use super::{COVER_FILE, VIDEO_FILE};
use crate::OutputFile;

#[derive(Debug, Clone)]
pub enum RenderOutcome {
    Done(OutputFile),
    /// The request cannot be rendered: `code` becomes its `error_type`.
    Failed {
        code: vidgate_domain::ErrorType,
        message: String,
    },
}

/// What a render needs besides the request: the input images' bytes.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    pub first: Option<Vec<u8>>,
    pub last: Option<Vec<u8>>,
}

/// Seed for the scene, stable across runs and platforms: the request's canonical JSON.
fn seed_of(request: &VideoRequest) -> u64 {
    fnv1a(serde_json::to_string(request).unwrap_or_default().as_bytes())
}

fn spec_of(request: &VideoRequest, fps: u32) -> VideoSpec {
    let shape = output_shape(request);
    let (width, height) = encodable_size(shape.width, shape.height);
    VideoSpec {
        width,
        height,
        duration_secs: shape.duration_secs,
        fps,
        audio: request.output_config().audio_generation == Some(Switch::Enabled),
    }
}

/// What the picture says: the prompt large; model, version and negative prompt small.
fn scene_text(request: &VideoRequest) -> SceneText {
    let mut details =
        vec![format!("vidgate sandbox · {} {}", request.model_name(), request.model_version())];
    if let Some(negative) = request.negative_prompt().filter(|n| !n.trim().is_empty()) {
        details.push(format!("negative: {negative}"));
    }
    SceneText { prompt: request.prompt().map(str::to_owned).unwrap_or_default(), details }
}

/// `name`: the request's media directory name (see `media_names`); `file_id` makes its
/// File ids.
#[allow(clippy::too_many_arguments)]
pub fn render_to_disk(
    media_dir: &Path,
    name: &str,
    file_id: &dyn Fn(&str) -> String,
    id: RequestId,
    request: &VideoRequest,
    inputs: &Inputs,
    fps: u32,
    retention: Duration,
) -> RenderOutcome {
    let spec = spec_of(request, fps);
    let dir = media_dir.join(name);
    let (path, cover_path) = (dir.join(VIDEO_FILE), dir.join(COVER_FILE));
    let file = |size: u64, modified: Option<SystemTime>| {
        let has_cover = cover_path.is_file();
        OutputFile {
            url: format!("/media/{name}/{VIDEO_FILE}"),
            content_type: "video/mp4".into(),
            file_name: format!("{id}.mp4"),
            file_size: Some(size),
            width: Some(spec.width),
            height: Some(spec.height),
            duration: Some(f64::from(spec.frame_count()) / f64::from(spec.fps)),
            expires_at: expiry(modified, retention),
            file_id: Some(file_id("video")),
            cover_url: has_cover.then(|| format!("/media/{name}/{COVER_FILE}")),
            cover_file_id: has_cover.then(|| file_id("cover")),
        }
    };
    // Rendered before a restart: reuse it (renders are deterministic, it is the same file).
    if let Ok(meta) = fs::metadata(&path) {
        return RenderOutcome::Done(file(meta.len(), meta.modified().ok()));
    }
    let decode = |bytes: &Option<Vec<u8>>, role: &str| -> Result<Option<Picture>, String> {
        bytes
            .as_deref()
            .map(|b| {
                Picture::decode(b, spec.width, spec.height).map_err(|e| format!("{role}: {e}"))
            })
            .transpose()
    };
    let pictures = decode(&inputs.first, "first frame")
        .and_then(|first| Ok((first, decode(&inputs.last, "last frame")?)));
    let (first, last) = match pictures {
        Ok(p) => p,
        Err(message) => {
            return RenderOutcome::Failed {
                code: vidgate_domain::ErrorType::InputFetchFailed,
                message,
            };
        }
    };
    let scene = RequestScene::new(&spec, seed_of(request), &scene_text(request), first, last);
    // Private temporary names: a replica that lost its lease may still be rendering the same
    // request (into identical bytes); neither may clobber the other's half file.
    let unique = format!("{}.{}", std::process::id(), RequestId::new());
    let tmp = dir.join(format!(".{VIDEO_FILE}.{unique}.partial"));
    let tmp_cover = dir.join(format!(".{COVER_FILE}.{unique}.partial"));
    let result = (|| -> Result<fs::Metadata, String> {
        fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let out =
            fs::File::create(&tmp).map_err(|e| format!("cannot create {}: {e}", tmp.display()))?;
        let stats = render_mp4(&spec, &scene, BufWriter::new(out)).map_err(|e| e.to_string())?;
        metrics::histogram!("vidgate_render_duration_seconds").record(stats.elapsed.as_secs_f64());
        metrics::counter!("vidgate_render_frames_total").increment(u64::from(stats.frames));
        fs::write(&tmp_cover, &stats.cover_jpeg)
            .map_err(|e| format!("cannot write the cover: {e}"))?;
        fs::rename(&tmp_cover, &cover_path)
            .map_err(|e| format!("cannot move the cover into place: {e}"))?;
        fs::rename(&tmp, &path).map_err(|e| format!("cannot move the video into place: {e}"))?;
        fs::metadata(&path).map_err(|e| e.to_string())
    })();
    match result {
        Ok(meta) => RenderOutcome::Done(file(meta.len(), meta.modified().ok())),
        Err(message) => {
            let _ = fs::remove_file(&tmp);
            let _ = fs::remove_file(&tmp_cover);
            RenderOutcome::Failed {
                code: vidgate_domain::ErrorType::upstream("RenderFailed"),
                message,
            }
        }
    }
}

/// When a file written at `modified` is cleaned up; none when retention is zero (kept).
pub fn expiry(modified: Option<SystemTime>, retention: Duration) -> Option<String> {
    if retention.is_zero() {
        return None;
    }
    let written = modified?.duration_since(SystemTime::UNIX_EPOCH).ok()?;
    Some(rfc3339((written + retention).as_millis() as i64))
}
