//! Render speed next to ffmpeg's fastest H.264 preset, on this machine, one thread each:
//! `cargo bench -p vidgate-render --bench render`. Renders 5 s clips at 24 fps at 720P and
//! 1080P (the prompt-over-landscape scene and the first-image zoom scene), then times
//! `ffmpeg -f lavfi -i testsrc … -c:v libx264 -preset ultrafast -threads 1` on the same sizes,
//! and prints frames per second and the ratio. Each figure is the best of three runs (the
//! machines are shared; the best run is the least disturbed). Needs ffmpeg on PATH.

#![allow(clippy::unwrap_used)] // a benchmark: a panic is how it reports failure

use std::process::Command;
use std::time::{Duration, Instant};

use vidgate_render::{Picture, RequestScene, SceneText, VideoSpec, render_mp4};

const SECONDS: f64 = 5.0;
const FPS: u32 = 24;
const RUNS: usize = 3;

fn best<F: FnMut() -> Duration>(mut f: F) -> Duration {
    (0..RUNS).map(|_| f()).min().unwrap_or_default()
}

fn photo(w: u32, h: u32) -> Picture {
    let rgb: Vec<u8> = (0..h)
        .flat_map(|y| (0..w).flat_map(move |x| [(x * 255 / w) as u8, (y * 255 / h) as u8, 128]))
        .collect();
    Picture::from_rgb(w, h, &rgb)
}

fn ours(w: u32, h: u32, with_image: bool) -> Duration {
    let spec = VideoSpec { width: w, height: h, duration_secs: SECONDS, fps: FPS, audio: true };
    let text = SceneText {
        prompt: "A lighthouse on a rocky cliff at dusk, waves crashing below, cinematic".into(),
        details: vec!["vidgate sandbox · Kling 2.1".into(), "negative: blur".into()],
    };
    best(|| {
        let first = with_image.then(|| photo(w, h));
        let scene = RequestScene::new(&spec, 42, &text, first, None);
        let started = Instant::now();
        render_mp4(&spec, &scene, std::io::sink()).expect("render");
        started.elapsed()
    })
}

fn ffmpeg(w: u32, h: u32) -> Option<Duration> {
    let out = std::env::temp_dir().join(format!("vidgate-bench-{w}x{h}.mp4"));
    let source = format!("testsrc=size={w}x{h}:rate={FPS}:duration={SECONDS}");
    let run = || {
        let started = Instant::now();
        let status = Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-f", "lavfi", "-i", &source, "-c:v", "libx264"])
            .args(["-preset", "ultrafast", "-threads", "1", "-filter_threads", "1"])
            .args(["-pix_fmt", "yuv420p"])
            .arg(&out)
            .status()
            .ok()?;
        status.success().then(|| started.elapsed())
    };
    let times: Option<Vec<Duration>> = (0..RUNS).map(|_| run()).collect();
    let _ = std::fs::remove_file(&out);
    times.and_then(|t| t.into_iter().min())
}

fn fps(d: Duration) -> f64 {
    (SECONDS * f64::from(FPS)) / d.as_secs_f64()
}

fn main() {
    println!("| size | scene | vidgate fps | ffmpeg libx264 ultrafast fps | ratio |");
    println!("|---|---|---:|---:|---:|");
    for (name, w, h) in [("720P", 1280, 720), ("1080P", 1920, 1080)] {
        let reference = ffmpeg(w, h);
        for (scene, with_image) in [("prompt over landscape", false), ("first-image zoom", true)] {
            let ours = fps(ours(w, h, with_image));
            match reference {
                Some(r) => {
                    let theirs = fps(r);
                    println!(
                        "| {name} | {scene} | {ours:.0} | {theirs:.0} | {:.2} |",
                        ours / theirs
                    );
                }
                None => println!("| {name} | {scene} | {ours:.0} | (ffmpeg unavailable) | |"),
            }
        }
    }
}
