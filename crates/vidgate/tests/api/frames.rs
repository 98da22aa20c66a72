//! First/last-frame images through the whole path: a caller's image server, the egress guard,
//! the sandbox render, and ffmpeg decoding the delivered MP4. Also determinism (same request,
//! same bytes) and the guard's refusals as the caller sees them.

use std::process::Command;

use axum::Router;
use axum::http::header;
use axum::routing::get;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::TestApp;

const RED: [u8; 3] = [220, 30, 30];
const GREEN: [u8; 3] = [30, 200, 30];
const BLUE: [u8; 3] = [30, 30, 220];
const WHITE: [u8; 3] = [240, 240, 240];
const SIDE: u32 = 256;

/// Four solid quadrants: red, green / blue, white.
fn quadrants_png() -> Vec<u8> {
    let img = image::RgbImage::from_fn(SIDE, SIDE, |x, y| {
        image::Rgb(match (x < SIDE / 2, y < SIDE / 2) {
            (true, true) => RED,
            (false, true) => GREEN,
            (true, false) => BLUE,
            (false, false) => WHITE,
        })
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

fn solid_jpeg(c: [u8; 3]) -> Vec<u8> {
    let img = image::RgbImage::from_pixel(64, 64, image::Rgb(c));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

async fn image_server() -> String {
    let (first, last) = (quadrants_png(), solid_jpeg(BLUE));
    let app = Router::new()
        .route(
            "/first.png",
            get(move || async move { ([(header::CONTENT_TYPE, "image/png")], first) }),
        )
        .route(
            "/last.jpg",
            get(move || async move { ([(header::CONTENT_TYPE, "image/jpeg")], last) }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

fn request(first: &str, last: Option<&str>) -> Value {
    let mut body = json!({"model_name": "Vidu", "model_version": "q2-turbo",
        "prompt": "the quadrants dissolve into blue",
        "file_infos": [{"type": "Url", "url": first}],
        "output_config": {"duration": 1, "resolution": "720P", "aspect_ratio": "1:1"}});
    if let Some(last) = last {
        body["last_frame_url"] = json!(last);
    }
    body
}

/// Every frame of a video as packed RGB, decoded by ffmpeg.
fn decode_frames(path: &std::path::Path) -> (Vec<Vec<u8>>, usize) {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
        .output()
        .expect("ffmpeg is missing: run ./scripts/install-deps.sh");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let side = 720usize;
    let frames = out.stdout.chunks(side * side * 3).map(<[u8]>::to_vec).collect();
    (frames, side)
}

fn pixel(frame: &[u8], side: usize, x: usize, y: usize) -> [u8; 3] {
    let i = (y * side + x) * 3;
    [frame[i], frame[i + 1], frame[i + 2]]
}

fn near(a: [u8; 3], b: [u8; 3]) -> bool {
    a.iter().zip(b).all(|(x, y)| (i32::from(*x) - i32::from(y)).abs() <= 24)
}

#[tokio::test]
async fn the_first_image_opens_the_clip_and_the_last_closes_it() {
    let app = TestApp::spawn_with(|c| c.egress.allow = "127.0.0.1/32".parse().unwrap()).await;
    let base = image_server().await;
    let body = request(&format!("{base}/first.png"), Some(&format!("{base}/last.jpg")));
    let (a, b) = (app.create(&body).await, app.create(&body).await);
    app.drive_to_completion().await;

    let (code, _, result) = app.result(&a).await;
    assert_eq!(code, StatusCode::OK, "{result}");
    let path = app.download(result["video"]["url"].as_str().unwrap(), "a.mp4").await;
    let (frames, side) = decode_frames(&path);
    assert_eq!(frames.len(), 4, "1 s at the tests' 4 fps");
    let first = &frames[0];
    let q = side / 4;
    for (x, y, want) in [(q, q, RED), (3 * q, q, GREEN), (q, 3 * q, BLUE), (3 * q, 3 * q, WHITE)] {
        let got = pixel(first, side, x, y);
        assert!(near(got, want), "frame 0 at ({x},{y}) is {got:?}, the image has {want:?}");
    }
    let last = frames.last().unwrap();
    for (x, y) in [(q, q), (3 * q, 3 * q), (side / 2, side / 2)] {
        let got = pixel(last, side, x, y);
        assert!(near(got, BLUE), "the last frame at ({x},{y}) is {got:?}, not the last image");
    }

    // Same request, same bytes.
    let (_, _, other) = app.result(&b).await;
    let again = app.download(other["video"]["url"].as_str().unwrap(), "b.mp4").await;
    assert_eq!(std::fs::read(&path).unwrap(), std::fs::read(&again).unwrap());
}

/// A first frame given as the file itself (`type: Base64`, SDK 3.1.194) opens the clip as the
/// same image by URL does; a `data:` prefix or bytes that are not base64 are a 422 at the
/// entry's `base64`, and nothing is stored.
#[tokio::test]
async fn a_first_frame_given_in_base64_opens_the_clip() {
    use base64::Engine;
    let app = TestApp::spawn().await;
    let png = base64::engine::general_purpose::STANDARD.encode(quadrants_png());
    let mut body = request("https://unused.example/a.png", None);
    body["file_infos"] = json!([{"type": "Base64", "base64": png}]);
    let id = app.create(&body).await;
    app.drive_to_completion().await;
    let (code, _, result) = app.result(&id).await;
    assert_eq!(code, StatusCode::OK, "{result}");
    let path = app.download(result["video"]["url"].as_str().unwrap(), "b64.mp4").await;
    let (frames, side) = decode_frames(&path);
    let q = side / 4;
    for (x, y, want) in [(q, q, RED), (3 * q, q, GREEN), (q, 3 * q, BLUE), (3 * q, 3 * q, WHITE)] {
        let got = pixel(&frames[0], side, x, y);
        assert!(near(got, want), "frame 0 at ({x},{y}) is {got:?}, the image has {want:?}");
    }
    for bad in [format!("data:image/png;base64,{png}"), "not base64!".to_owned()] {
        body["file_infos"] = json!([{"type": "Base64", "base64": bad}]);
        let (code, _, err) = app.post_create(&body).await;
        assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
        assert_eq!(err["detail"][0]["loc"], json!(["body", "file_infos", 0, "base64"]), "{err}");
    }
    let (_, listed) = app.get_json("/v1/videos").await;
    assert_eq!(listed["data"].as_array().map(Vec::len), Some(1), "the refused ones stored nothing");
}

#[tokio::test]
async fn private_targets_are_refused_unless_allowed() {
    let app = TestApp::spawn().await;
    let base = image_server().await;
    let port = base.rsplit(':').next().unwrap().to_owned();
    let targets = [
        format!("{base}/first.png"),
        format!("http://10.0.0.7:{port}/first.png"),
        "http://169.254.169.254/latest/meta-data/iam".to_owned(),
        format!("http://[::1]:{port}/first.png"),
    ];
    let mut ids = Vec::new();
    for t in &targets {
        ids.push(app.create(&request(t, None)).await);
    }
    app.drive_to_completion().await;
    for (t, id) in targets.iter().zip(&ids) {
        let (code, headers, body) = app.result(id).await;
        assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{t}: {body}");
        assert_eq!(headers["x-fal-error-type"], "input_fetch_failed", "{t}");
        let status = app.status(id).await;
        assert_eq!(status["error_type"], "input_fetch_failed", "{t}: {status}");
        let error = status["error"].as_str().unwrap();
        assert!(error.contains("private, loopback or link-local"), "{t}: {error}");
        assert!(
            error.contains("VIDGATE_EGRESS_ALLOW"),
            "the message says how to allow it: {error}"
        );
    }
}
