//! Painting cost alone (no encode), per scene: `cargo run --release -p vidgate-render --example paint_cost`.

#![allow(clippy::unwrap_used)] // an example: a panic is how it reports failure
use std::time::Instant;

use vidgate_render::{Canvas, Picture, RequestScene, Scene, SceneText, VideoSpec};

fn main() {
    let (w, h) = (1920, 1080);
    let spec = VideoSpec { width: w, height: h, duration_secs: 5.0, fps: 24, audio: false };
    let text = SceneText { prompt: "A lighthouse at dusk".into(), details: vec!["m".into()] };
    let rgb: Vec<u8> = (0..w * h * 3).map(|i| (i % 251) as u8).collect();
    for with_image in [false, true] {
        let first = with_image.then(|| Picture::from_rgb(w, h, &rgb));
        let scene = RequestScene::new(&spec, 1, &text, first, None);
        let mut canvas = Canvas::new(w, h);
        let started = Instant::now();
        for i in 0..120 {
            scene.paint(&mut canvas, i, f64::from(i) / 24.0, &spec);
        }
        println!(
            "image={with_image}: {:.2} ms/frame",
            started.elapsed().as_secs_f64() * 1000.0 / 120.0
        );
    }
}
