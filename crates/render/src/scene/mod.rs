//! Scenes paint frames. A scene is a pure function of (frame index, time, spec), which is what
//! makes renders deterministic.

pub mod landscape;
mod request;

pub use landscape::{Landscape, fnv1a};
pub use request::{RequestScene, SceneText};

use crate::{Canvas, VideoSpec};

pub trait Scene: Send + Sync {
    /// Paints frame `index` (at `t` seconds) over the whole canvas.
    fn paint(&self, canvas: &mut Canvas, index: u32, t: f64, spec: &VideoSpec);
}
