//! Creating requests: the queue handle, and every way a create can be refused.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, seed_example, small_request};

#[tokio::test]
async fn the_seed_example_is_accepted_with_a_complete_queue_handle() {
    let app = TestApp::spawn().await;
    let (status, headers, handle) = app.post_create(&seed_example()).await;
    assert_eq!(status, StatusCode::OK, "{handle}");
    let id = handle["request_id"].as_str().unwrap();
    assert_eq!(headers["x-fal-request-id"], id);
    assert_eq!(handle["status"], "IN_QUEUE");
    assert_eq!(handle["queue_position"], 0);
    assert_eq!(handle["logs"], Value::Null);
    assert_eq!(handle["metrics"], json!({}));
    let base = format!("{}/tencent-vod/v1/aigc-video/requests/{id}", app.base);
    assert_eq!(handle["response_url"], base);
    assert_eq!(handle["status_url"], format!("{base}/status"));
    assert_eq!(handle["cancel_url"], format!("{base}/cancel"));
    assert_eq!(handle["Response"]["TaskId"], id);
    let http_id = handle["Response"]["RequestId"].as_str().unwrap();
    assert!(uuid::Uuid::parse_str(http_id).is_ok(), "{http_id}");
    assert_ne!(http_id, id, "RequestId names the HTTP call, TaskId the request");
    // Every field the seed's response schema requires is present.
    for field in [
        "status",
        "request_id",
        "response_url",
        "status_url",
        "cancel_url",
        "logs",
        "metrics",
        "queue_position",
    ] {
        assert!(handle.get(field).is_some(), "missing {field}");
    }
}

/// A create sent with forwarded headers, as a proxy (or anyone) would send them.
async fn forwarded_create(app: &TestApp) -> Value {
    let r = app
        .http
        .post(app.queue_url(""))
        .bearer_auth(&app.key)
        .header("X-Forwarded-Proto", "https")
        .header("X-Forwarded-Host", "videos.example.com")
        .json(&small_request("x"))
        .send()
        .await
        .unwrap();
    r.json().await.unwrap()
}

#[tokio::test]
async fn forwarded_headers_count_only_from_trusted_proxies() {
    // From anyone (no trusted proxy configured): ignored, in the answer and in what is stored
    // for the request's webhooks.
    let app = TestApp::spawn().await;
    let handle = forwarded_create(&app).await;
    let status_url = handle["status_url"].as_str().unwrap();
    assert!(status_url.starts_with(&format!("{}/tencent-vod/", app.base)), "{handle}");
    let id = handle["request_id"].as_str().unwrap().parse().unwrap();
    let stored = app.store.get_task_any(id).await.unwrap().unwrap();
    assert_eq!(stored.public_base.as_deref(), Some(app.base.as_str()));
    // From a trusted proxy (this test connects from 127.0.0.1): they decide.
    let app = TestApp::spawn_with(|c| {
        c.server.trusted_proxies =
            vidgate_egress::AddressList::parse("10.0.0.0/8, 127.0.0.1").unwrap();
    })
    .await;
    let handle = forwarded_create(&app).await;
    assert!(
        handle["status_url"]
            .as_str()
            .unwrap()
            .starts_with("https://videos.example.com/tencent-vod/"),
        "{handle}"
    );
    let id = handle["request_id"].as_str().unwrap().parse().unwrap();
    let stored = app.store.get_task_any(id).await.unwrap().unwrap();
    assert_eq!(stored.public_base.as_deref(), Some("https://videos.example.com"));
}

#[tokio::test]
async fn urls_follow_the_configured_public_url() {
    let app =
        TestApp::spawn_with(|c| c.server.public_url = Some("https://gw.example.org/".into())).await;
    let (_, _, handle) = app.post_create(&small_request("x")).await;
    assert!(
        handle["cancel_url"]
            .as_str()
            .unwrap()
            .starts_with("https://gw.example.org/tencent-vod/v1/aigc-video/requests/"),
        "{handle}"
    );
}

#[tokio::test]
async fn invalid_values_get_a_422_with_one_entry_per_problem() {
    let app = TestApp::spawn().await;
    let mut body = seed_example();
    body["output_config"]["duration"] = json!(99);
    body["output_config"]["aspect_ratio"] = json!("4:3");
    body["tasks_priority"] = json!("eleven");
    body["session_id"] = json!("s".repeat(51));
    let (status, headers, answer) = app.post_create(&body).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(headers["x-fal-error-type"], "validation_error");
    let detail = answer["detail"].as_array().unwrap();
    let mut locs: Vec<String> = detail
        .iter()
        .map(|d| {
            d["loc"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l.as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
                .join(".")
        })
        .collect();
    locs.sort();
    assert_eq!(
        locs,
        vec![
            "body.output_config.aspect_ratio",
            "body.output_config.duration",
            "body.session_id",
            "body.tasks_priority"
        ]
    );
    for d in detail {
        assert!(d["msg"].as_str().is_some_and(|m| !m.is_empty()));
        assert!(d["type"].as_str().is_some_and(|t| !t.is_empty()));
    }
}

#[tokio::test]
async fn malformed_json_is_a_400_and_an_oversized_body_a_413() {
    let app = TestApp::spawn_with(|c| c.server.max_body_bytes = 4096).await;
    for raw in ["{\"model_name\": ", "not json", "", "{\"a\":1}garbage"] {
        let r = app
            .http
            .post(app.queue_url(""))
            .bearer_auth(&app.key)
            .header("content-type", "application/json")
            .body(raw)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{raw:?}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error_type"], "malformed_json");
    }
    let mut big = small_request("x");
    big["ext_info"] = json!("y".repeat(5000));
    let (status, _, body) = app.post_create(&big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["error_type"], "payload_too_large");
}

#[tokio::test]
async fn the_default_body_limit_is_one_mebibyte() {
    let app = TestApp::spawn().await;
    let mut big = small_request("x");
    big["ext_info"] = json!("y".repeat(1024 * 1024));
    let (status, _, _) = app.post_create(&big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let mut fits = small_request("x");
    fits["ext_info"] = json!("y".repeat(1000 * 1000));
    assert_eq!(app.post_create(&fits).await.0, StatusCode::OK);
}

#[tokio::test]
async fn missing_unknown_and_revoked_keys_get_a_401() {
    let app = TestApp::spawn().await;
    let r = app.http.post(app.queue_url("")).json(&small_request("x")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let body: Value = r.json().await.unwrap();
    assert!(body["detail"].as_str().unwrap().contains("Authorization"));
    let (status, _, _) = app.post_create_as("vg_not_a_real_key", &small_request("x")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let r = app
        .http
        .post(app.queue_url(""))
        .header("Authorization", "Basic abc")
        .json(&small_request("x"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    let key = app.new_key("short-lived").await;
    assert_eq!(app.post_create_as(&key, &small_request("x")).await.0, StatusCode::OK);
    assert!(app.store.revoke_key("short-lived", 0).await.unwrap());
    // Authenticated keys are trusted for auth.key_cache_ttl (2 s) without a lookup.
    app.advance(1_900);
    assert_eq!(app.post_create_as(&key, &small_request("x")).await.0, StatusCode::OK);
    app.advance(200);
    assert_eq!(app.post_create_as(&key, &small_request("x")).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_session_id_reused_by_the_same_key_within_three_days_is_a_409() {
    let app = TestApp::spawn().await;
    let mut body = small_request("a");
    body["session_id"] = json!("order-42");
    let first = app.create(&body).await;
    let (status, headers, answer) = app.post_create(&body).await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    assert_eq!(answer["error_type"], "session_conflict");
    assert_eq!(headers["x-fal-error-type"], "session_conflict");
    assert!(answer["detail"].as_str().unwrap().contains(&first));
    // Another key may use the same session id.
    let other = app.new_key("other").await;
    assert_eq!(app.post_create_as(&other, &body).await.0, StatusCode::OK);
    // After three days it is free again.
    app.advance(3 * 24 * 3_600_000 + 1);
    assert_eq!(app.post_create(&body).await.0, StatusCode::OK);
}

#[tokio::test]
async fn an_idempotency_key_replays_the_same_body_and_refuses_a_different_one() {
    let app = TestApp::spawn().await;
    let send = |body: Value| {
        let app = &app;
        async move {
            let r = app
                .http
                .post(app.queue_url(""))
                .bearer_auth(&app.key)
                .header("Idempotency-Key", "abc-123")
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = r.status();
            (status, r.json::<Value>().await.unwrap())
        }
    };
    let (s1, first) = send(small_request("same")).await;
    let (s2, again) = send(small_request("same")).await;
    assert_eq!((s1, s2), (StatusCode::OK, StatusCode::OK));
    assert_eq!(first["request_id"], again["request_id"]);
    let (s3, different) = send(small_request("different")).await;
    assert_eq!(s3, StatusCode::UNPROCESSABLE_ENTITY, "{different}");
    assert_eq!(different["detail"][0]["loc"], json!(["header", "idempotency-key"]));
    // Only one request exists.
    let (_, list) = app.get_json("/tencent-vod/v1/aigc-video/requests").await;
    assert_eq!(list["requests"].as_array().unwrap().len(), 1);
    // After 24 h the key may name a new request.
    app.advance(24 * 3_600_000 + 1);
    let (s4, later) = send(small_request("same")).await;
    assert_eq!(s4, StatusCode::OK);
    assert_ne!(later["request_id"], first["request_id"]);
}

#[tokio::test]
async fn the_low_priority_lane_queues_behind_every_normal_request() {
    let app = TestApp::spawn_with(|c| c.sandbox.concurrency = 1).await;
    let send_low = || async {
        let r = app
            .http
            .post(app.queue_url(""))
            .bearer_auth(&app.key)
            .header("X-Fal-Queue-Priority", "low")
            .json(&json!({
                "model_name": "Vidu", "model_version": "q2", "prompt": "low", "tasks_priority": 10,
                "output_config": {"duration": 1}
            }))
            .send()
            .await
            .unwrap();
        r.json::<Value>().await.unwrap()["request_id"].as_str().unwrap().to_owned()
    };
    let low = send_low().await;
    let mut normal = small_request("normal");
    normal["tasks_priority"] = json!(-10);
    let normal = app.create(&normal).await;
    assert_eq!(app.status(&normal).await["queue_position"], 0);
    assert_eq!(app.status(&low).await["queue_position"], 1);
    let r = app
        .http
        .post(app.queue_url(""))
        .bearer_auth(&app.key)
        .header("X-Fal-Queue-Priority", "urgent")
        .json(&small_request("x"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn lenient_mode_passes_unknown_models_and_fields_through() {
    let app = TestApp::spawn_with(|c| c.rules.strict_model_rules = false).await;
    let body = json!({"model_name": "Seedance", "model_version": "1.0-pro", "prompt": "x",
        "camera_motion": "dolly", "output_config": {"duration": 3, "resolution": "540P", "hdr": true}});
    let id = app.create(&body).await;
    let (_, envelope) = app.get_json(&format!("/tencent-vod/v1/query/{id}")).await;
    let input = &envelope["Response"]["AigcVideoTask"]["Input"];
    assert_eq!(input["ModelName"], "Seedance");
    assert_eq!(input["CameraMotion"], "dolly");
    assert_eq!(input["OutputConfig"]["Hdr"], true);
}

/// The position reads a create makes: inside the insert's own transaction (the group
/// committer reads the batch's there), and on its own after the commit when that one failed.
const POSITION_IN_TX: &str = "AS n FROM tasks t WHERE t.seq IN";
const POSITION_AFTER: &str = "AS n FROM tasks t WHERE t.seq = $1";

#[tokio::test]
async fn a_committed_create_answers_200_even_when_its_position_reads_fail() {
    let app = TestApp::spawn().await;
    // A statement fails inside the insert's transaction, then the read after the commit fails
    // as a lost database would: the create is still committed, and answered.
    let unavailable = vidgate_store::Fault::Unavailable;
    app.faults.fail(POSITION_IN_TX, unavailable, 1);
    app.faults.fail(POSITION_AFTER, unavailable, 1);
    let (status, _, handle) = app.post_create(&small_request("committed")).await;
    assert_eq!(app.faults.pending(POSITION_IN_TX), 0, "the read in the transaction was made");
    assert_eq!(app.faults.pending(POSITION_AFTER), 0, "and the read after the commit");
    assert_eq!(status, StatusCode::OK, "a committed request must not answer an error: {handle}");
    assert_eq!(handle["status"], "IN_QUEUE");
    assert_eq!(handle["queue_position"], Value::Null, "unknown, not a made-up 0");
    let id = handle["request_id"].as_str().unwrap();
    // It is stored once, and the next read answers its position again.
    let status = app.status(id).await;
    assert_eq!(status["status"], "IN_QUEUE");
    assert_eq!(status["queue_position"], 0);
    let (_, list) = app.get_json("/tencent-vod/v1/aigc-video/requests").await;
    assert_eq!(list["requests"].as_array().map(Vec::len), Some(1), "{list}");
}

/// The hold's ledger write, inside the insert's transaction.
const HOLD_IN_TX: &str = "'hold', 'open'";

#[tokio::test]
async fn a_write_failing_inside_the_inserts_transaction_stores_nothing_and_a_retry_succeeds() {
    let app = TestApp::spawn().await;
    // The request row is written, then its hold fails: the transaction must roll back whole.
    app.faults.fail(HOLD_IN_TX, vidgate_store::Fault::Unavailable, 1);
    let (status, _, body) = app.post_create(&small_request("rolled back")).await;
    assert_eq!(app.faults.pending(HOLD_IN_TX), 0, "the hold was attempted");
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let (_, list) = app.get_json("/tencent-vod/v1/aigc-video/requests").await;
    assert_eq!(list["requests"].as_array().map(Vec::len), Some(0), "no request: {list}");
    let (_, ledger) = app.get_json("/admin/ledger").await;
    assert_eq!(ledger["entries"], json!([]), "no ledger row: {ledger}");
    let (_, usage) = app.get_json("/tencent-vod/v1/usage").await;
    assert_eq!(usage["total"]["pending"].as_i64().unwrap_or(0), 0, "nothing held: {usage}");
    // The client retries: stored once, held once.
    let id = app.create(&small_request("rolled back")).await;
    let (_, list) = app.get_json("/tencent-vod/v1/aigc-video/requests").await;
    assert_eq!(list["requests"][0]["request_id"], json!(id), "{list}");
    assert_eq!(list["requests"].as_array().map(Vec::len), Some(1), "{list}");
    let (_, ledger) = app.get_json("/admin/ledger").await;
    let kinds: Vec<&str> =
        ledger["entries"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["hold"], "{ledger}");
}
