//! Renders one video: `cargo run -p vidgate-render --example render -- W H SECS FPS OUT [PROMPT]`.

#![allow(clippy::unwrap_used)] // an example: a panic is how it reports failure
use vidgate_render::{RequestScene, SceneText, VideoSpec, render_mp4};

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let spec = VideoSpec {
        width: a[1].parse().unwrap(),
        height: a[2].parse().unwrap(),
        duration_secs: a[3].parse().unwrap(),
        fps: a[4].parse().unwrap(),
        audio: true,
    };
    let prompt = a.get(6).cloned().unwrap_or_else(|| "a red car on a coastal road".into());
    let text = SceneText { prompt, details: vec!["sandbox example".into()] };
    let scene = RequestScene::new(&spec, 1, &text, None, None);
    let f = std::fs::File::create(&a[5]).unwrap();
    let stats = render_mp4(&spec, &scene, std::io::BufWriter::new(f)).unwrap();
    std::fs::write(format!("{}.cover.jpg", a[5]), &stats.cover_jpeg).unwrap();
    println!("{} frames in {:?}", stats.frames, stats.elapsed);
}
