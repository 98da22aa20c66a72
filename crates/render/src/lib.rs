//! Renders the sandbox provider's videos: a `Scene` paints frames (straight into YUV),
//! openh264 (built from its bundled source, no download) encodes them to H.264 on one thread,
//! and muxide writes a fast-start MP4 (moov before mdat, so players can stream it). Text uses
//! an embedded font; input images are decoded by `image` (PNG, JPEG, WebP only); the middle
//! frame becomes a JPEG cover. Deterministic: the same spec and scene give the same bytes,
//! which makes renders testable and cacheable.

mod audio;
mod canvas;
mod encode;
mod picture;
pub mod scene;
mod sprite;
pub mod text;

pub use canvas::{Canvas, Rgb};
pub use encode::{
    MAX_LONG_SIDE, MAX_SHORT_SIDE, RenderError, RenderStats, encodable_size, render_mp4,
};
pub use picture::{Picture, PictureError};
pub use scene::{RequestScene, Scene, SceneText};
pub use sprite::{Layer, Sprite};

/// What to render.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VideoSpec {
    /// Even, ≥ 16.
    pub width: u32,
    /// Even, ≥ 16.
    pub height: u32,
    pub duration_secs: f64,
    pub fps: u32,
    /// Add an AAC audio track (silence: vidgate has no audio model; the track's presence is
    /// what `audio_generation` promises).
    pub audio: bool,
}

impl VideoSpec {
    /// Number of frames: the duration at the frame rate, at least one.
    pub fn frame_count(&self) -> u32 {
        ((self.duration_secs * f64::from(self.fps)).round() as u32).max(1)
    }
}
