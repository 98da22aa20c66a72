//! First/last-frame inputs: which fields name them, File ids, and downloads through the
//! egress guard against a local server (size cap, redirects, errors, time limit, formats).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use vidgate_domain::{ManualClock, ParseOptions, RequestId, VideoRequest, parse_create_request};

use super::inputs::{FrameSources, Source, frame_sources};
use super::tests::{sandbox, sandbox_with};
use crate::{PollJob, PollStatus, Provider};
use vidgate_egress::EgressPolicy;

fn parse(body: Value) -> VideoRequest {
    parse_create_request(&body, &ParseOptions::LAX).unwrap()
}

fn with_files(files: Value, extra: Value) -> VideoRequest {
    let mut body = json!({"model_name": "Vidu", "model_version": "q2", "prompt": "p",
        "file_infos": files, "output_config": {"duration": 1, "resolution": "720P"}});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    parse(body)
}

fn url(u: &str) -> Value {
    json!({"type": "Url", "url": u})
}

#[test]
fn first_and_last_frames_come_from_the_documented_fields() {
    let u = |s: &str| Some(Source::Url(s.into()));
    let cases = [
        (json!([url("https://e.com/a.png")]), json!({}), u("https://e.com/a.png"), None),
        (
            json!([url("https://e.com/a.png"), url("https://e.com/b.png")]),
            json!({}),
            u("https://e.com/a.png"),
            u("https://e.com/b.png"),
        ),
        (
            json!([url("https://e.com/a.png")]),
            json!({"last_frame_url": "https://e.com/z.png"}),
            u("https://e.com/a.png"),
            u("https://e.com/z.png"),
        ),
        (
            json!([{"type": "Url", "url": "https://e.com/l.png", "usage": "LastFrame"},
                   {"type": "File", "file_id": "123", "usage": "FirstFrame"}]),
            json!({}),
            Some(Source::File("123".into())),
            u("https://e.com/l.png"),
        ),
        (
            json!([{"type": "Url", "url": "https://e.com/r.png", "usage": "Reference"}]),
            json!({}),
            None,
            None,
        ),
        (
            json!([url("https://e.com/a.png")]),
            json!({"last_frame_file_id": "456"}),
            u("https://e.com/a.png"),
            Some(Source::File("456".into())),
        ),
    ];
    for (files, extra, first, last) in cases {
        let r = with_files(files.clone(), extra);
        assert_eq!(frame_sources(&r), FrameSources { first, last }, "{files}");
    }
}

#[tokio::test]
async fn file_ids_name_only_the_callers_own_stored_covers() {
    let dir = tempfile::tempdir().unwrap();
    let media = vidgate_media::MediaStore::open(
        &vidgate_media::StoreSettings::Local { dir: dir.path().to_path_buf() },
        5 << 20,
    )
    .unwrap();
    let fetcher = super::inputs::Fetcher::new(
        vidgate_egress::EgressPolicy::default(),
        std::time::Duration::from_secs(1),
        1024,
        media.clone(),
    )
    .unwrap();
    let id = RequestId::new();
    let cover = vidgate_media::ObjectKey::output("k", id, vidgate_domain::Variant::COVER);
    media.put_bytes(&cover, b"jpg".to_vec().into()).await.unwrap();
    let fetch = |f: String, key: &'static str| {
        let fetcher = fetcher.clone();
        async move { fetcher.fetch(&Source::File(f), "first frame", key).await }
    };
    let err = |f: &str, key: &'static str| {
        let f = f.to_owned();
        async move { fetch(f, key).await.unwrap_err().to_string() }
    };
    assert!(err("5285890784246869", "k").await.contains("not media this vidgate stores"));
    assert!(err("sbx-../../etc/passwd-cover", "k").await.contains("not media"));
    assert!(err(&format!("sbx-{id}-secrets"), "k").await.contains("not media"));
    assert!(err(&format!("sbx-{id}-video"), "k").await.contains("is a video"));
    assert_eq!(fetch(format!("sbx-{id}-cover"), "k").await.unwrap(), b"jpg");
    // Another key's cover answers exactly as a missing one.
    let theirs = err(&format!("sbx-{id}-cover"), "k2").await;
    let gone = err(&format!("sbx-{}-cover", RequestId::new()), "k").await;
    assert!(theirs.contains("has expired or was never rendered here"), "{theirs}");
    assert!(gone.contains("has expired or was never rendered here"), "{gone}");
}

fn png(rgb: [u8; 3], w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_pixel(w, h, image::Rgb(rgb));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// A server on 127.0.0.1:0 with good and bad images; returns its base URL.
async fn image_server() -> String {
    let red = png([220, 20, 20], 64, 64);
    let app = Router::new()
        .route("/red.png", get(move || async move { ([(header::CONTENT_TYPE, "image/png")], red) }))
        .route("/big", get(|| async { vec![0u8; 100 * 1024] }))
        .route(
            "/streamed-big",
            get(|| async {
                let chunks = (0..100).map(|_| Ok::<_, std::io::Error>(vec![1u8; 1024]));
                Body::from_stream(futures::stream::iter(chunks))
            }),
        )
        .route(
            "/redirect",
            get(|| async { (StatusCode::FOUND, [(header::LOCATION, "/red.png")]).into_response() }),
        )
        .route("/gif", get(|| async { b"GIF89a\x01\x00\x01\x00\x00\x00\x00;".to_vec() }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(10)).await;
                Response::new(Body::empty())
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

/// Polls a request at the end of its simulated time; returns the outcome.
async fn finish(
    sb: &super::SandboxProvider,
    clock: &ManualClock,
    req: &VideoRequest,
) -> PollStatus {
    let id = RequestId::new();
    let up = super::SandboxProvider::upstream_id(id);
    let now = vidgate_domain::Clock::now_ms(clock);
    clock.advance(10_000);
    let job = PollJob {
        key_id: "k",
        request_id: id,
        account: "sandbox",
        upstream_task_id: &up,
        submitted_at: now,
        request: req,
    };
    sb.poll(job).await.unwrap()
}

fn failure(status: PollStatus) -> String {
    match status {
        PollStatus::Failed { code, message } => {
            assert_eq!(code, vidgate_domain::ErrorType::InputFetchFailed, "{message}");
            message
        }
        other => panic!("expected input_fetch_failed, got {other:?}"),
    }
}

#[tokio::test]
async fn private_loopback_and_link_local_urls_are_refused_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(1_000_000));
    let sb = sandbox(dir.path(), clock.clone());
    let base = image_server().await;
    let port = base.rsplit(':').next().unwrap().to_owned();
    for target in [
        format!("{base}/red.png"),
        "http://10.1.2.3/a.png".to_owned(),
        "http://169.254.169.254/latest/meta-data".to_owned(),
        format!("http://[::1]:{port}/red.png"),
        format!("http://localhost:{port}/red.png"),
    ] {
        let message =
            failure(finish(&sb, &clock, &with_files(json!([url(&target)]), json!({}))).await);
        assert!(
            message.contains("private, loopback or link-local")
                || message.contains("does not resolve to any allowed address"),
            "{target}: {message}"
        );
    }
}

#[tokio::test]
async fn allowed_downloads_render_and_bad_ones_fail_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(1_000_000));
    let sb = sandbox_with(dir.path(), clock.clone(), EgressPolicy::parse("127.0.0.1/32").unwrap());
    let base = image_server().await;
    let two = json!([url(&format!("{base}/red.png")), url(&format!("{base}/red.png"))]);
    let PollStatus::Succeeded(out) = finish(&sb, &clock, &with_files(two, json!({}))).await else {
        panic!("an allowed image renders")
    };
    assert!(out.files[0].cover.is_some());

    for (path, expect) in [
        ("/big", "byte limit"),
        ("/streamed-big", "byte limit"),
        ("/redirect", "redirects are not followed"),
        ("/missing", "HTTP 404"),
        ("/gif", "only JPEG, PNG and WebP"),
        ("/slow", "timed out"),
    ] {
        let req = with_files(json!([url(&format!("{base}{path}"))]), json!({}));
        let message = failure(finish(&sb, &clock, &req).await);
        assert!(message.contains(expect), "{path}: {message}");
        assert!(message.starts_with("first frame"), "{message}");
    }
}

#[tokio::test]
async fn a_stored_cover_can_open_the_next_clip() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(1_000_000));
    let sb = sandbox(dir.path(), clock.clone());
    let PollStatus::Succeeded(out) = finish(&sb, &clock, &with_files(json!([]), json!({}))).await
    else {
        panic!()
    };
    let cover = out.files[0].cover_file_id.clone().unwrap();
    let next = with_files(json!([{"type": "File", "file_id": cover}]), json!({}));
    assert!(matches!(finish(&sb, &clock, &next).await, PollStatus::Succeeded(_)));
    let video = out.files[0].file_id.clone().unwrap();
    let bad = with_files(json!([{"type": "File", "file_id": video}]), json!({}));
    assert!(failure(finish(&sb, &clock, &bad).await).contains("is a video"));
}
