//! The sandbox's videos: real H.264 MP4s whose size and length follow the request.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, decodes_cleanly, ffprobe};

struct Case {
    body: Value,
    width: u64,
    height: u64,
    duration: f64,
    audio: bool,
}

fn case(
    model: &str,
    version: &str,
    output: Value,
    (width, height): (u64, u64),
    duration: f64,
    audio: bool,
) -> Case {
    Case {
        body: json!({"model_name": model, "model_version": version, "prompt": format!("{model} test"), "output_config": output}),
        width,
        height,
        duration,
        audio,
    }
}

#[tokio::test]
async fn videos_follow_resolution_aspect_ratio_and_duration() {
    let app = TestApp::spawn_with(|c| c.sandbox.concurrency = 8).await;
    let cases = [
        // The seed's own example: Kling 1.6, 1080P 16:9, 8 s, audio on.
        case(
            "Kling",
            "1.6",
            json!({"duration": 8, "resolution": "1080P", "aspect_ratio": "16:9", "audio_generation": "Enabled"}),
            (1920, 1080),
            8.0,
            true,
        ),
        case(
            "Vidu",
            "q2",
            json!({"duration": "2", "resolution": "720P", "aspect_ratio": "9:16"}),
            (720, 1280),
            2.0,
            false,
        ),
        case("Vidu", "q2", json!({"duration": 1, "aspect_ratio": "4:3"}), (960, 720), 1.0, false),
        // Model defaults: Hailuo 768P, 6 s, no aspect ratio (16:9 picture).
        case("Hailuo", "02", json!({}), (1366, 768), 6.0, false),
        case(
            "GV",
            "3.1-fast",
            json!({"aspect_ratio": "9:16", "audio_generation": "Disabled"}),
            (720, 1280),
            8.0,
            false,
        ),
        case(
            "PixVerse",
            "v6",
            json!({"duration": 3, "resolution": "540p", "aspect_ratio": "21:9"}),
            (1260, 540),
            3.0,
            false,
        ),
        case("OS", "2.0", json!({"duration": 4}), (1280, 720), 4.0, false),
        case(
            "Hailuo",
            "H3",
            json!({"duration": 4, "resolution": "4K", "aspect_ratio": "16:9"}),
            (3840, 2160),
            4.0,
            false,
        ),
        // 5040×2160 is past what openh264 encodes: the sandbox keeps the shape within 3840×2160.
        case(
            "Hailuo",
            "H3",
            json!({"duration": 4, "resolution": "4K", "aspect_ratio": "21:9"}),
            (3840, 1646),
            4.0,
            false,
        ),
        case(
            "Hailuo",
            "H3",
            json!({"duration": 4, "resolution": "2K", "aspect_ratio": "3:4"}),
            (1440, 1920),
            4.0,
            false,
        ),
        case(
            "PixVerse",
            "v6",
            json!({"duration": 1, "resolution": "540p", "aspect_ratio": "2:3"}),
            (540, 810),
            1.0,
            false,
        ),
        case(
            "PixVerse",
            "v6",
            json!({"duration": 1, "resolution": "720p", "aspect_ratio": "3:2", "audio_generation": "Enabled"}),
            (1080, 720),
            1.0,
            true,
        ),
        case(
            "Vidu",
            "q2",
            json!({"duration": 1, "resolution": "1080P", "aspect_ratio": "1:1"}),
            (1080, 1080),
            1.0,
            false,
        ),
    ];
    let mut ids = Vec::new();
    for c in &cases {
        ids.push(app.create(&c.body).await);
    }
    app.drive_to_completion().await;
    for (c, id) in cases.iter().zip(&ids) {
        let (code, _, result) = app.result(id).await;
        assert_eq!(code, StatusCode::OK, "{}: {result}", c.body);
        let video = &result["video"];
        assert_eq!(
            (video["width"].as_u64(), video["height"].as_u64()),
            (Some(c.width), Some(c.height)),
            "{}",
            c.body
        );
        let path = app.download(video["url"].as_str().unwrap(), &format!("{id}.mp4")).await;
        assert_eq!(std::fs::metadata(&path).unwrap().len(), video["file_size"].as_u64().unwrap());
        let probe = ffprobe(&path);
        assert_eq!(probe.video_codec, "h264", "{}", c.body);
        assert_eq!((probe.width, probe.height), (c.width, c.height), "{}", c.body);
        assert!((probe.duration - c.duration).abs() < 0.05, "{}: {} s", c.body, probe.duration);
        assert_eq!(probe.audio_codec.is_some(), c.audio, "{}", c.body);
        assert!(decodes_cleanly(&path), "{} does not decode cleanly", c.body);

        // The cover: a JPEG still of the same size, served beside the video.
        let cover_url = video["cover_url"].as_str().expect("a cover_url");
        let cover = app.download(cover_url, &format!("{id}.jpg")).await;
        let bytes = std::fs::read(&cover).unwrap();
        assert_eq!(&bytes[..3], &[0xFF, 0xD8, 0xFF], "{}: the cover is a JPEG", c.body);
        let still = ffprobe_image(&cover);
        assert_eq!(still, (c.width, c.height), "{}", c.body);
        // Kept for the configured retention (7 days by default), and the result says until when.
        let expires = chrono::DateTime::parse_from_rfc3339(video["expires_at"].as_str().unwrap())
            .expect("expires_at is RFC 3339");
        let days = (expires.timestamp() - chrono::Utc::now().timestamp()) as f64 / 86_400.0;
        assert!((days - 7.0).abs() < 0.01, "{}: expires in {days} days", c.body);
    }
}

/// Width and height of an image file, by ffprobe.
fn ffprobe_image(path: &std::path::Path) -> (u64, u64) {
    let out = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "stream=width,height", "-of", "json"])
        .arg(path)
        .output()
        .expect("ffprobe");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let s = &v["streams"][0];
    (s["width"].as_u64().unwrap_or(0), s["height"].as_u64().unwrap_or(0))
}
