//! One sandbox render: request (+ fetched images) → picture size and length → MP4 and JPEG
//! cover in a scratch directory, from which the provider puts them into the media store.

use std::fs;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use vidgate_domain::dimensions::output_shape;
use vidgate_domain::models::Catalog;
use vidgate_domain::request::Switch;
use vidgate_domain::{OutputFile, VideoRequest};
use vidgate_render::scene::fnv1a;
use vidgate_render::{Picture, RequestScene, SceneText, VideoSpec, encodable_size, render_mp4};

use crate::StoredFile;

#[derive(Debug, Clone)]
pub enum RenderOutcome {
    /// The video (its `url` the content route's) and the objects stored for it.
    Done(Box<OutputFile>, Vec<StoredFile>),
    /// The request cannot be rendered: `code` becomes its `error_type`.
    Failed { code: vidgate_domain::ErrorType, message: String },
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

fn spec_of(catalog: &Catalog, request: &VideoRequest, fps: u32) -> VideoSpec {
    let shape = output_shape(catalog, request);
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

/// A render on disk: the video, its cover, and the shape they have.
#[derive(Debug)]
pub struct Rendered {
    pub video: PathBuf,
    pub cover: PathBuf,
    pub width: u32,
    pub height: u32,
    /// Seconds.
    pub duration: f64,
}

/// Renders the request into `dir` (a fresh scratch directory). The failure is a sentence for
/// the caller; an input image that cannot be decoded fails as `input_fetch_failed`.
pub fn render_into(
    dir: &Path,
    catalog: &Catalog,
    request: &VideoRequest,
    inputs: &Inputs,
    fps: u32,
) -> Result<Rendered, RenderOutcome> {
    let spec = spec_of(catalog, request, fps);
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
    let (first, last) = pictures.map_err(|message| RenderOutcome::Failed {
        code: vidgate_domain::ErrorType::InputFetchFailed,
        message,
    })?;
    let scene = RequestScene::new(&spec, seed_of(request), &scene_text(request), first, last);
    let (video, cover) = (dir.join("video.mp4"), dir.join("cover.jpg"));
    let result = (|| -> Result<(), String> {
        let out = fs::File::create(&video)
            .map_err(|e| format!("cannot create {}: {e}", video.display()))?;
        let stats = render_mp4(&spec, &scene, BufWriter::new(out)).map_err(|e| e.to_string())?;
        metrics::histogram!("vidgate_render_duration_seconds").record(stats.elapsed.as_secs_f64());
        metrics::counter!("vidgate_render_frames_total").increment(u64::from(stats.frames));
        fs::write(&cover, &stats.cover_jpeg).map_err(|e| format!("cannot write the cover: {e}"))
    })();
    result.map_err(|message| RenderOutcome::Failed {
        code: vidgate_domain::ErrorType::upstream("RenderFailed"),
        message,
    })?;
    Ok(Rendered {
        video,
        cover,
        width: spec.width,
        height: spec.height,
        duration: f64::from(spec.frame_count()) / f64::from(spec.fps),
    })
}
