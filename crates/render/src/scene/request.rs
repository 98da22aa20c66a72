//! The film the sandbox makes for a request. Without images: the seeded landscape with the
//! prompt over it. With a first-frame image: that image opens the clip (frame 0 is the image
//! itself, as an image-to-video model's would be) and slowly zooms in. With a last-frame
//! image too: the clip cross-fades into it, ending exactly on it. The prompt sits in a panel
//! in the lower third; the model, version and negative prompt are small at the top left.
//! Over images the text fades in after the opening frame and out before the closing one, so
//! those frames stay the caller's pictures.

use crate::scene::landscape::Landscape;
use crate::sprite::Layer;
use crate::text::TextBlock;
use crate::{Canvas, Picture, Rgb, Scene, Sprite, VideoSpec};

/// What the scene writes on the picture.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SceneText {
    /// Drawn large; may be empty (image-only requests).
    pub prompt: String,
    /// Small single lines at the top left (model and version, negative prompt).
    pub details: Vec<String>,
}

pub struct RequestScene {
    landscape: Landscape,
    first: Option<Picture>,
    last: Option<Picture>,
    title: Option<Layer>,
    details: Option<Layer>,
    /// Time of the last frame, in seconds.
    end: f64,
}

/// Share of the clip before the cross-fade to the last frame begins.
const CROSSFADE_FROM: f64 = 0.5;
/// Zoom reached by the first image at the end of the clip.
const ZOOM: f64 = 0.15;

fn smoothstep(x: f64) -> f64 {
    let x = x.clamp(0.0, 1.0);
    x * x * (3.0 - 2.0 * x)
}

/// The prompt in a translucent panel, centred in the lower third.
fn title_layer(prompt: &str, w: f32, h: f32) -> Option<Layer> {
    if prompt.trim().is_empty() {
        return None;
    }
    let max_px = (h / 11.0).max(8.0);
    let min_px = (h / 40.0).max(8.0);
    let pad_ratio = 0.45;
    let max_width = w * 0.84 - 2.0 * max_px * pad_ratio;
    let block = TextBlock::fit(prompt, max_px, min_px, max_width, h * 0.38);
    let pad = (block.px * pad_ratio).round();
    let (bw, bh) = (block.width().ceil() + 2.0 * pad, block.height().ceil() + 2.0 * pad);
    let mut sprite = Sprite::new(bw as u32, bh as u32);
    sprite.fill_rect(0, 0, bw as i64, bh as i64, Rgb(10, 10, 14), 150);
    let shadow = (block.px / 18.0).max(1.0);
    block.draw(&mut sprite, pad + shadow, pad + shadow, Rgb(0, 0, 0), true);
    block.draw(&mut sprite, pad, pad, Rgb(255, 255, 255), true);
    let x = ((w - bw) / 2.0).round() as i64;
    let y = (h * 0.92 - bh).round() as i64;
    Some(sprite.to_layer(x, y))
}

/// Small single lines at the top left.
fn details_layer(lines: &[String], w: f32, h: f32) -> Option<Layer> {
    let px = (h / 34.0).max(8.0);
    let blocks: Vec<TextBlock> = lines
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| TextBlock::fit(l, px, px, w * 0.6, px * 1.5))
        .collect();
    if blocks.is_empty() {
        return None;
    }
    let pad = (px * 0.4).round();
    let bw = blocks.iter().map(TextBlock::width).fold(0.0, f32::max).ceil() + 2.0 * pad;
    let bh = blocks.iter().map(TextBlock::height).sum::<f32>().ceil() + 2.0 * pad;
    let mut sprite = Sprite::new(bw as u32, bh as u32);
    sprite.fill_rect(0, 0, bw as i64, bh as i64, Rgb(10, 10, 14), 110);
    let mut y = pad;
    for block in &blocks {
        block.draw(&mut sprite, pad, y, Rgb(235, 235, 235), false);
        y += block.height();
    }
    let margin = (h * 0.03).round() as i64;
    Some(sprite.to_layer(margin, margin))
}

impl RequestScene {
    pub fn new(
        spec: &VideoSpec,
        seed: u64,
        text: &SceneText,
        first: Option<Picture>,
        last: Option<Picture>,
    ) -> Self {
        let (w, h) = (spec.width as f32, spec.height as f32);
        RequestScene {
            landscape: Landscape::new(seed),
            first,
            last,
            title: title_layer(&text.prompt, w, h),
            details: details_layer(&text.details, w, h),
            end: f64::from(spec.frame_count().saturating_sub(1)) / f64::from(spec.fps.max(1)),
        }
    }

    /// Opacity of the text at `t`: faded in after an opening image, out before a closing one.
    fn text_opacity(&self, t: f64) -> f32 {
        let fade = (self.end / 4.0).min(0.5);
        if fade <= 0.0 {
            return 1.0;
        }
        let mut o: f64 = 1.0;
        if self.first.is_some() {
            o = o.min(t / fade);
        }
        if self.last.is_some() {
            o = o.min((self.end - t) / fade);
        }
        o.clamp(0.0, 1.0) as f32
    }
}

impl Scene for RequestScene {
    fn paint(&self, canvas: &mut Canvas, _index: u32, t: f64, spec: &VideoSpec) {
        let progress = if self.end > 0.0 { (t / self.end).clamp(0.0, 1.0) } else { 0.0 };
        match &self.first {
            Some(first) => first.draw(canvas, (1.0 + ZOOM * progress) as f32, 1.0),
            None => self.landscape.paint(canvas, t, spec),
        }
        if let Some(last) = &self.last {
            let a = smoothstep((progress - CROSSFADE_FROM) / (1.0 - CROSSFADE_FROM));
            let a = if self.end > 0.0 { a } else { 1.0 };
            last.draw(canvas, 1.0, a as f32);
        }
        let opacity = self.text_opacity(t);
        for layer in [&self.title, &self.details].into_iter().flatten() {
            layer.composite(canvas, opacity);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(w: u32, h: u32) -> VideoSpec {
        VideoSpec { width: w, height: h, duration_secs: 2.0, fps: 8, audio: false }
    }

    fn solid(c: [u8; 3]) -> Picture {
        Picture::from_rgb(8, 8, &c.repeat(64))
    }

    fn paint(scene: &RequestScene, s: &VideoSpec, t: f64) -> Canvas {
        let mut c = Canvas::new(s.width, s.height);
        scene.paint(&mut c, 0, t, s);
        c
    }

    #[test]
    fn an_image_clip_opens_on_the_first_image_and_ends_on_the_last() {
        let s = spec(96, 64);
        let text =
            SceneText { prompt: "a red door turns blue".into(), details: vec!["Vidu q2".into()] };
        let scene =
            RequestScene::new(&s, 1, &text, Some(solid([220, 20, 20])), Some(solid([20, 20, 220])));
        let first = paint(&scene, &s, 0.0).to_rgb();
        assert!(first.chunks(3).all(|p| p[0] > 200 && p[2] < 40), "frame 0 is the first image");
        let last = paint(&scene, &s, scene.end).to_rgb();
        assert!(
            last.chunks(3).all(|p| p[2] > 200 && p[0] < 40),
            "the last frame is the last image"
        );
        let middle = paint(&scene, &s, scene.end / 2.0).to_rgb();
        assert!(middle.chunks(3).any(|p| p[1] > 120), "white text shows mid-clip");
    }

    #[test]
    fn text_only_requests_draw_the_prompt_over_the_landscape() {
        let s = spec(320, 180);
        let plain = RequestScene::new(&s, 5, &SceneText::default(), None, None);
        let text = SceneText {
            prompt: "A lighthouse at dusk".into(),
            details: vec!["Kling 2.1".into(), "not: fog".into()],
        };
        let titled = RequestScene::new(&s, 5, &text, None, None);
        let (a, b) = (paint(&plain, &s, 0.0), paint(&titled, &s, 0.0));
        // The lower third differs (the title) and so does the top left (the details).
        let differs = |x0: u32, y0: u32, x1: u32, y1: u32| {
            (x0..x1)
                .flat_map(|x| (y0..y1).map(move |y| (x, y)))
                .any(|(x, y)| a.get(x, y) != b.get(x, y))
        };
        assert!(differs(60, 120, 260, 165));
        assert!(differs(5, 5, 60, 20));
        assert!(!differs(250, 5, 320, 40), "the top right stays clear");
    }

    #[test]
    fn tiny_frames_and_single_frame_clips_do_not_panic() {
        let s = VideoSpec { width: 16, height: 16, duration_secs: 0.01, fps: 1, audio: false };
        let text = SceneText { prompt: "猫".repeat(300), details: vec!["x".repeat(500)] };
        let scene = RequestScene::new(&s, 0, &text, Some(solid([1, 2, 3])), Some(solid([4, 5, 6])));
        paint(&scene, &s, 0.0);
    }
}
