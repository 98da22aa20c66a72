//! Renders one pattern video: `cargo run -p vidgate-render --example render -- W H SECS FPS OUT`.
use vidgate_render::{PatternScene, VideoSpec, render_mp4};

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let spec = VideoSpec {
        width: a[1].parse().unwrap(),
        height: a[2].parse().unwrap(),
        duration_secs: a[3].parse().unwrap(),
        fps: a[4].parse().unwrap(),
        audio: true,
    };
    let f = std::fs::File::create(&a[5]).unwrap();
    let stats =
        render_mp4(&spec, &PatternScene::new(1, "a red car"), std::io::BufWriter::new(f)).unwrap();
    println!("{} frames in {:?}", stats.frames, stats.elapsed);
}
