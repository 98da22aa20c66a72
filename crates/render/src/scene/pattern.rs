//! A moving test pattern tinted by the request: a vertical gradient in the prompt's hue,
//! diagonal bars that drift, a bouncing block, and a progress bar along the bottom that shows
//! playback position. Simple, but every frame differs and motion is visible.

use crate::{Canvas, Rgb, Scene, VideoSpec};

pub struct PatternScene {
    hue: f32,
    seed: u64,
}

/// FNV-1a: a tiny, stable hash (std's `DefaultHasher` may change between Rust releases,
/// which would break "same request, same bytes").
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3))
}

impl PatternScene {
    /// `seed` varies the motion; `text` (the prompt) picks the colours.
    pub fn new(seed: u64, text: &str) -> Self {
        let h = fnv1a(text.as_bytes()) ^ seed;
        PatternScene { hue: (h % 360) as f32 / 360.0, seed: h }
    }
}

impl Scene for PatternScene {
    fn paint(&self, canvas: &mut Canvas, _index: u32, t: f64, spec: &VideoSpec) {
        let (w, h) = (i64::from(canvas.width()), i64::from(canvas.height()));
        let top = Rgb::from_hue(self.hue, 0.55, 0.95);
        let bottom = Rgb::from_hue(self.hue + 0.12, 0.8, 0.35);
        let height = canvas.height().max(1);
        canvas.fill_rows(|y| top.mix(bottom, y as f32 / height as f32));

        // Drifting vertical bars.
        let bar_w = (w / 12).max(2);
        let shift = ((t * 0.15 * w as f64) as i64).rem_euclid(bar_w * 3);
        let bar_color = Rgb::from_hue(self.hue + 0.5, 0.4, 0.9);
        let mut x = -bar_w * 3 + shift;
        while x < w {
            canvas.fill_rect(x, h / 6, bar_w / 2, h * 2 / 3, bar_color);
            x += bar_w * 3;
        }

        // A block bouncing between the edges; its phase depends on the seed.
        let side = (h.min(w) / 5).max(2);
        let phase = (self.seed % 1000) as f64 / 1000.0;
        let bounce = |period: f64, span: i64| {
            let p = ((t / period + phase) % 2.0 + 2.0) % 2.0;
            let f = if p < 1.0 { p } else { 2.0 - p };
            (f * span.max(0) as f64) as i64
        };
        let bx = bounce(2.3, w - side);
        let by = bounce(1.7, h - side);
        canvas.fill_rect(bx, by, side, side, Rgb(250, 250, 250));
        canvas.fill_rect(
            bx + side / 4,
            by + side / 4,
            side / 2,
            side / 2,
            Rgb::from_hue(self.hue, 0.9, 0.8),
        );

        // Playback progress along the bottom edge.
        let bar_h = (h / 40).max(2);
        let done = (w as f64 * (t / spec.duration_secs).clamp(0.0, 1.0)) as i64;
        canvas.fill_rect(0, h - bar_h, w, bar_h, Rgb(20, 20, 20));
        canvas.fill_rect(0, h - bar_h, done, bar_h, Rgb(240, 240, 240));
    }
}
