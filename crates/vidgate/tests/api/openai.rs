//! OpenAI's videos protocol: the official `openai` Python client (pinned, from PyPI) drives
//! a real vidgate process unchanged but for `base_url` and `api_key`; in-process tests cover
//! one request seen through both APIs, model aliases on the fal route, OpenAI's error shape,
//! request deadlines and `Prefer: wait` on both creates.

use std::process::Command;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, ffprobe, split, venv_python};
use crate::process::Server;

const KEY: &str = "openai-compat-key-0123456789";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openais_python_client_works_against_vidgate_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("VIDGATE_BOOTSTRAP_KEY", KEY),
        ("VIDGATE_SANDBOX__CONCURRENCY", "2"),
        ("VIDGATE_SANDBOX__QUEUE_DELAY", "100ms"),
        ("VIDGATE_SANDBOX__PROCESSING_TIME", "500ms"),
        ("VIDGATE_SANDBOX__POLL_INTERVAL", "100ms"),
        ("VIDGATE_SANDBOX__FPS", "4"),
        ("VIDGATE_WORKERS__IDLE_WAIT", "100ms"),
    ];
    let server = Server::start(dir.path(), &env);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/openai/openai_check.py");
    let (python, base, out_dir) = (venv_python(), server.base.clone(), dir.path().to_owned());
    let out = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(script)
            .env("VIDGATE_BASE", &base)
            .env("VIDGATE_KEY", KEY)
            .env("OUT_DIR", &out_dir)
            .output()
            .expect("run the openai client")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "openai client failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Value =
        serde_json::from_str(stdout.lines().last().unwrap_or_default()).expect("the script's JSON");

    assert_eq!(
        seen["created"],
        json!({"object": "video", "status": "queued", "model": "vidu-q2", "seconds": "4", "size": "1280x720"}),
        "{seen}"
    );
    assert_eq!(seen["final"]["status"], "completed", "{seen}");
    assert_eq!(seen["final"]["progress"], 100);
    assert_eq!(seen["final"]["completed_after_created"], true);
    assert_eq!(seen["final"]["error"], Value::Null);
    let probe = ffprobe(std::path::Path::new(seen["mp4"].as_str().unwrap()));
    assert_eq!((probe.video_codec.as_str(), probe.width, probe.height), ("h264", 1280, 720));
    assert!((probe.duration - 4.0).abs() < 0.5, "{probe:?}");
    assert_eq!(seen["thumbnail_is_jpeg"], true);
    assert_eq!(seen["upload_status"], "completed", "{seen}");
    assert_eq!(seen["upload_replayed_same_id"], true, "{seen}");

    // Four videos, newest first, two per page: the SDK followed `last_id` to the end.
    assert_eq!(seen["first_page_size"], 2);
    assert_eq!(seen["first_page_has_more"], true);
    let desc: Vec<&str> =
        seen["listed_desc"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(desc.len(), 4, "{seen}");
    assert_eq!(desc[3], seen["id"].as_str().unwrap(), "the first video is the oldest");
    let asc: Vec<&str> =
        seen["listed_asc"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(asc, desc.iter().rev().copied().collect::<Vec<_>>());

    assert_eq!(
        seen["bad_size"],
        json!({"status": 400, "param": "size", "code": "invalid_value", "type": "invalid_request_error"}),
        "{seen}"
    );
    assert_eq!(seen["bad_model"], json!({"status": 400, "param": "model"}), "{seen}");
    assert_eq!(seen["bad_key"], json!({"status": 401, "code": "invalid_api_key"}), "{seen}");
    assert_eq!(
        seen["deleted"],
        json!({"id": seen["id"], "object": "video.deleted", "deleted": true}),
        "{seen}"
    );
    assert_eq!(seen["after_delete"], 404);
}

async fn v1(app: &TestApp, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
    app.http.request(method, app.url(path)).bearer_auth(&app.key)
}

#[tokio::test]
async fn one_request_is_the_same_through_both_apis_and_the_fal_route_takes_aliases() {
    let app = TestApp::spawn().await;
    // fal's route with an alias (`model`), seen as an OpenAI video.
    let (code, _, handle) = app
        .post_create(&json!({"model": "vidu-q2", "prompt": "alias via fal",
            "output_config": {"duration": 2, "resolution": "720P", "aspect_ratio": "9:16"}}))
        .await;
    assert_eq!(code, StatusCode::OK, "{handle}");
    let fal_id = handle["request_id"].as_str().unwrap().to_owned();
    let (code, video) = app.get_json(&format!("/v1/videos/{fal_id}")).await;
    assert_eq!(code, StatusCode::OK, "{video}");
    assert_eq!(video["id"], fal_id.as_str());
    assert_eq!(video["model"], "vidu-q2");
    assert_eq!((video["status"].as_str(), video["seconds"].as_str()), (Some("queued"), Some("2")));
    assert_eq!(video["size"], "720x1280");
    // An alias as model_name, with no version, on fal's route too.
    let (code, _, handle) =
        app.post_create(&json!({"model_name": "kling-2.1", "prompt": "alias as model_name"})).await;
    assert_eq!(code, StatusCode::OK, "{handle}");
    let status = app.status(handle["request_id"].as_str().unwrap()).await;
    assert_eq!(
        (status["model_name"].as_str(), status["model_version"].as_str()),
        (Some("Kling"), Some("2.1"))
    );
    let (code, _, err) = app.post_create(&json!({"model": "nope-1", "prompt": "x"})).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(err["detail"][0]["loc"], json!(["body", "model"]), "{err}");

    // OpenAI's route (JSON), seen through fal's status route with the same id.
    let r = v1(&app, reqwest::Method::POST, "/v1/videos")
        .await
        .json(
            &json!({"prompt": "json create", "model": "vidu-q2", "seconds": "2", "size": "1280x720",
            "output_config": {"audio_generation": "Enabled"}}),
        )
        .send()
        .await
        .unwrap();
    let (code, _, video) = split(r).await;
    assert_eq!(code, StatusCode::OK, "{video}");
    let id = video["id"].as_str().unwrap().to_owned();
    let status = app.status(&id).await;
    assert_eq!(status["status"], "IN_QUEUE");
    let stored = app.store.get_task_any(id.parse().unwrap()).await.unwrap().unwrap();
    assert_eq!(
        serde_json::to_value(stored.request.output_config()).unwrap(),
        json!({"duration": 2.0, "resolution": "720P", "aspect_ratio": "16:9", "audio_generation": "Enabled"}),
        "extra_body fields reach the seed's body"
    );
    app.drive_to_completion().await;
    let (_, video) = app.get_json(&format!("/v1/videos/{id}")).await;
    assert_eq!(
        (video["status"].as_str(), video["progress"].as_i64()),
        (Some("completed"), Some(100))
    );
    let (code, result) = app.get_json(&format!("/tencent-vod/v1/aigc-video/requests/{id}")).await;
    assert_eq!(code, StatusCode::OK, "{result}");

    // Cancelled through fal → failed with its code through OpenAI's view.
    let queued = app.create(&crate::helpers::small_request("to cancel")).await;
    app.cancel_as(&app.key, &queued).await;
    let (_, video) = app.get_json(&format!("/v1/videos/{queued}")).await;
    assert_eq!(video["status"], "failed");
    assert_eq!(video["error"]["code"], "request_cancelled", "{video}");

    // Another key sees none of it, in either API; a delete through OpenAI's route cancels and
    // forgets (404 through fal's too), while the ledger keeps its account.
    let other = app.new_key("other").await;
    let r = app
        .http
        .get(app.url(&format!("/v1/videos/{id}")))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    let (code, _, err) = split(r).await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    assert_eq!(err["error"]["type"], "invalid_request_error", "{err}");
    let pending = app.create(&crate::helpers::small_request("delete me")).await;
    let (_, before) = app.status_as(&app.key, &pending, false).await;
    let stream_url = before["stream_url"].as_str().expect("a tokened stream URL").to_owned();
    let r = v1(&app, reqwest::Method::DELETE, &format!("/v1/videos/{pending}"))
        .await
        .send()
        .await
        .unwrap();
    let (code, _, body) = split(r).await;
    assert_eq!(
        (code, body),
        (StatusCode::OK, json!({"id": pending, "object": "video.deleted", "deleted": true}))
    );
    let (code, _) = app.status_as(&app.key, &pending, false).await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    let r = app.http.get(&stream_url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "its signed URLs open nothing any more");
    let row = app.store.get_task_any(pending.parse().unwrap()).await.unwrap().unwrap();
    assert_eq!(
        row.state(),
        vidgate_domain::TaskState::Cancelled,
        "a queued video is cancelled by its delete"
    );
    let r = v1(&app, reqwest::Method::DELETE, &format!("/v1/videos/{pending}"))
        .await
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // The model list is the alias catalog.
    let (code, models) = app.get_json("/v1/models").await;
    assert_eq!(code, StatusCode::OK);
    let ids: Vec<&str> =
        models["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    for alias in ["kling-2.1", "hailuo-02", "vidu-q2", "veo-3.1", "sora-2"] {
        assert!(ids.contains(&alias), "{alias} in {ids:?}");
    }
    // Each carries what the catalog says of its version: rules, usage products, prices,
    // where the rules come from.
    let kling30 =
        models["data"].as_array().unwrap().iter().find(|m| m["id"] == "kling-3.0").unwrap();
    assert_eq!(kling30["rules"]["durations"], json!({"kind": "whole", "min": 3, "max": 15}));
    assert!(
        kling30["rules"]["specifications"].as_array().unwrap().contains(&json!("Kling3.0_720P"))
    );
    assert!(!kling30["rules"]["prices"].as_array().unwrap().is_empty(), "{kling30}");
    assert_eq!(
        (kling30["origin"].as_str(), kling30["as_of"].as_str()),
        (Some("built_in"), Some("2026-12-07"))
    );
    assert!(kling30["source"].as_str().unwrap().contains("3.1.194"), "{kling30}");
}

#[tokio::test]
async fn openai_errors_have_openais_shape_and_name_the_parameter() {
    let app = TestApp::spawn().await;
    let post = |body: Value| {
        let app = &app;
        async move {
            let r = v1(app, reqwest::Method::POST, "/v1/videos").await.json(&body).send().await;
            split(r.unwrap()).await
        }
    };
    let cases = [
        (json!({"model": "vidu-q2"}), StatusCode::BAD_REQUEST, Some("prompt")),
        (
            json!({"prompt": "p", "model": "vidu-q2", "seconds": "four"}),
            StatusCode::BAD_REQUEST,
            Some("seconds"),
        ),
        (
            json!({"prompt": "p", "model": "vidu-q2", "seconds": "40"}),
            StatusCode::BAD_REQUEST,
            Some("seconds"),
        ),
        (
            json!({"prompt": "p", "model": "vidu-q2", "size": "big"}),
            StatusCode::BAD_REQUEST,
            Some("size"),
        ),
        (
            json!({"prompt": "p", "model": "kling-2.1", "size": "1024x1792"}),
            StatusCode::BAD_REQUEST,
            Some("size"),
        ),
        (json!({"prompt": "p", "model": 7}), StatusCode::BAD_REQUEST, Some("model")),
        (
            json!({"prompt": "p", "model": "vidu-q2", "input_reference": {"nope": 1}}),
            StatusCode::BAD_REQUEST,
            Some("input_reference"),
        ),
        (
            json!({"prompt": "p", "model": "vidu-q2", "output_config": {"audio_generation": "Loud"}}),
            StatusCode::BAD_REQUEST,
            Some("output_config.audio_generation"),
        ),
    ];
    for (body, want_code, want_param) in cases {
        let (code, _, err) = post(body.clone()).await;
        assert_eq!(code, want_code, "{body} → {err}");
        assert_eq!(err["error"]["param"].as_str(), want_param, "{body} → {err}");
        assert_eq!(err["error"]["type"], "invalid_request_error", "{err}");
        assert!(err["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{err}");
    }
    let r = app
        .http
        .post(app.url("/v1/videos"))
        .body("{")
        .header("content-type", "application/json")
        .bearer_auth(&app.key)
        .send()
        .await
        .unwrap();
    let (code, _, err) = split(r).await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{err}");
    assert!(err["error"]["message"].as_str().unwrap().contains("malformed JSON"), "{err}");
    let r = app.http.get(app.url("/v1/videos")).send().await.unwrap();
    let (code, headers, err) = split(r).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    assert_eq!(err["error"]["code"], "invalid_api_key", "{err}");
    assert!(headers.contains_key("www-authenticate"));
    let (code, err) = app.get_json("/v1/videos?limit=0").await;
    assert_eq!(
        (code, err["error"]["param"].as_str()),
        (StatusCode::BAD_REQUEST, Some("limit")),
        "{err}"
    );
    let (code, err) = app.get_json("/v1/videos?after=vid_123").await;
    assert_eq!(
        (code, err["error"]["param"].as_str()),
        (StatusCode::BAD_REQUEST, Some("after")),
        "{err}"
    );
    let (code, err) = app.get_json("/v1/videos?colour=red").await;
    assert_eq!(
        (code, err["error"]["param"].as_str()),
        (StatusCode::BAD_REQUEST, Some("colour")),
        "{err}"
    );
    let (code, _) = app.get_json("/v1/videos/not-an-id").await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    // Nothing of the refused creates was stored.
    let (_, list) = app.get_json("/v1/videos").await;
    assert_eq!(list["data"], json!([]), "{list}");
    assert_eq!(list["has_more"], false);
}

#[tokio::test]
async fn a_deadline_header_fails_a_request_not_started_in_time() {
    let app = TestApp::spawn().await;
    let create = |header: &'static str, value: &'static str| {
        let app = &app;
        async move {
            let r = app
                .http
                .post(app.queue_url(""))
                .bearer_auth(&app.key)
                .header(header, value)
                .json(&crate::helpers::small_request("deadline"))
                .send()
                .await
                .unwrap();
            split(r).await
        }
    };
    let (code, _, handle) = create("x-fal-request-timeout", "30").await;
    assert_eq!(code, StatusCode::OK, "{handle}");
    let fal_id = handle["request_id"].as_str().unwrap().to_owned();
    let (code, _, handle) = create("cancel-after", "1m").await;
    assert_eq!(code, StatusCode::OK, "{handle}");
    let replicate_id = handle["request_id"].as_str().unwrap().to_owned();
    let (code, _, handle) = create("cancel-after", "48h").await;
    assert_eq!(code, StatusCode::OK, "{handle}");
    let capped_id = handle["request_id"].as_str().unwrap().to_owned();
    for (name, bad) in
        [("x-fal-request-timeout", "soon"), ("cancel-after", "0s"), ("cancel-after", "-5")]
    {
        let (code, _, err) = create(name, bad).await;
        assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{name}: {bad} → {err}");
        assert_eq!(err["detail"][0]["loc"], json!(["header", name]), "{err}");
    }
    let deadline = |id: &str| {
        let store = app.store.clone();
        let id = id.parse().unwrap();
        async move {
            let t = store.get_task_any(id).await.unwrap().unwrap();
            t.deadline_at - t.created_at
        }
    };
    assert_eq!(deadline(&fal_id).await, 30_000);
    assert_eq!(deadline(&replicate_id).await, 60_000);
    let configured = app.config.queue.request_deadline.as_millis() as i64;
    assert_eq!(deadline(&capped_id).await, configured, "a longer ask is capped");

    // Nothing was dispatched: 31 s later the reaper fails the fal one, only it.
    app.advance(31_000);
    app.reap().await;
    let status = app.status(&fal_id).await;
    assert_eq!(
        (status["status"].as_str(), status["error_type"].as_str()),
        (Some("COMPLETED"), Some("timeout")),
        "{status}"
    );
    assert_eq!(app.status(&replicate_id).await["status"], "IN_QUEUE");
    let (_, video) = app.get_json(&format!("/v1/videos/{fal_id}")).await;
    assert_eq!(
        (video["status"].as_str(), video["error"]["code"].as_str()),
        (Some("failed"), Some("timeout"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefer_wait_holds_a_create_until_it_ends_or_the_wait_passes() {
    let app = std::sync::Arc::new(TestApp::spawn().await);
    let post = |path: &'static str, prefer: &'static str, body: Value| {
        let app = app.clone();
        async move {
            let r = app
                .http
                .post(app.url(path))
                .bearer_auth(&app.key)
                .header("prefer", prefer)
                .json(&body)
                .send()
                .await
                .unwrap();
            split(r).await
        }
    };
    // Nobody drives the workers: the wait runs out and answers the status, 202.
    let started = std::time::Instant::now();
    let (code, headers, status) =
        post("/tencent-vod/v1/aigc-video", "wait=1", crate::helpers::small_request("waits")).await;
    assert_eq!(code, StatusCode::ACCEPTED, "{status}");
    assert!(started.elapsed() >= Duration::from_millis(900), "held for the wait");
    assert_eq!(status["status"], "IN_QUEUE", "{status}");
    assert_eq!(headers["preference-applied"], "wait=1");
    let (code, _, err) =
        post("/tencent-vod/v1/aigc-video", "wait=61", crate::helpers::small_request("x")).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert_eq!(err["detail"][0]["loc"], json!(["header", "prefer"]));

    // With the workers driven while the call waits, it answers the finished request, 200,
    // on both APIs.
    app.drive_to_completion().await;
    for (path, body) in [
        ("/tencent-vod/v1/aigc-video", crate::helpers::small_request("fal waits")),
        ("/v1/videos", json!({"prompt": "openai waits", "model": "vidu-q2", "seconds": "1"})),
    ] {
        let call = tokio::spawn(post(path, "respond-async, wait=30", body));
        while app.dispatch_until_idle().await == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        app.drive_to_completion().await;
        let (code, headers, answer) = tokio::time::timeout(Duration::from_secs(10), call)
            .await
            .expect("the wait ended with the request")
            .unwrap();
        assert_eq!(code, StatusCode::OK, "{path}: {answer}");
        assert_eq!(headers["preference-applied"], "wait=30");
        let done = answer["status"].as_str().unwrap();
        assert!(done == "COMPLETED" || done == "completed", "{path}: {answer}");
    }
}

/// A `multipart/form-data` body: text fields, then files `(field, file name, bytes)`.
fn multipart(fields: &[(&str, &str)], files: &[(&str, &str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "vidgate-test-boundary-7d3f";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    for (name, file, bytes) in files {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[tokio::test]
async fn multipart_creates_refuse_what_is_not_an_image_or_too_big_and_store_nothing() {
    let app = TestApp::spawn().await;
    let send = |(content_type, body): (String, Vec<u8>)| {
        let app = &app;
        async move {
            let r = app
                .http
                .post(app.url("/v1/videos"))
                .bearer_auth(&app.key)
                .header("content-type", content_type)
                .body(body)
                .send()
                .await
                .unwrap();
            split(r).await
        }
    };
    let fields = [("prompt", "p"), ("model", "vidu-q2"), ("seconds", "1")];
    let (code, _, err) =
        send(multipart(&fields, &[("input_reference", "a.gif", b"GIF89a....")])).await;
    assert_eq!(
        (code, err["error"]["param"].as_str()),
        (StatusCode::BAD_REQUEST, Some("input_reference")),
        "{err}"
    );
    let png = b"\x89PNG\r\n\x1a\n not decoded before the render";
    let bad_seconds = [("prompt", "p"), ("model", "vidu-q2"), ("seconds", "x")];
    let (code, _, err) = send(multipart(&bad_seconds, &[("input_reference", "a.png", png)])).await;
    assert_eq!(
        (code, err["error"]["param"].as_str()),
        (StatusCode::BAD_REQUEST, Some("seconds")),
        "{err}"
    );
    let (code, _, err) = send(multipart(&fields, &[("prompt", "p.txt", b"hello")])).await;
    assert_eq!(
        (code, err["error"]["param"].as_str()),
        (StatusCode::BAD_REQUEST, Some("prompt")),
        "{err}"
    );
    let mut big = b"\x89PNG\r\n\x1a\n".to_vec();
    big.resize(12 * 1024 * 1024, 0);
    let (code, _, err) = send(multipart(&fields, &[("input_reference", "big.png", &big)])).await;
    assert_eq!(code, StatusCode::PAYLOAD_TOO_LARGE, "{err}");
    assert_eq!(err["error"]["type"], "invalid_request_error", "{err}");
    let (code, _, err) =
        send(("multipart/form-data; boundary=x".into(), b"--x\r\nbroken".to_vec())).await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{err}");
    // Bracketed extra_body fields arrive as the seed's fields; nothing above was stored.
    let (code, _, video) = send(multipart(
        &[("prompt", "p"), ("model", "vidu-q2"), ("output_config[duration]", "2")],
        &[],
    ))
    .await;
    assert_eq!((code, video["seconds"].as_str()), (StatusCode::OK, Some("2")), "{video}");
    let (_, list) = app.get_json("/v1/videos").await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1, "{list}");
    let kept = app.store.media_totals().await.unwrap();
    assert_eq!(kept.files, 0, "no refused upload was kept: {kept:?}");
}
