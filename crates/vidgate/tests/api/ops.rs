//! What an operator relies on: `/metrics` (on the main listener or its own), `/readyz` that
//! notices a schema it does not know, and JSON logs in which one request's whole life can be
//! found by its id. (Only this file scrapes `/metrics`: the store-derived gauges are set at
//! scrape time in a process-wide registry that every test app in this binary shares.)

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{TestApp, small_request};
use crate::process::Server;

/// The value of the series `name{labels}` (labels exactly as rendered), if present.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
}

#[tokio::test]
async fn metrics_cover_http_queue_slots_provider_calls_and_renders() {
    let app = TestApp::spawn_with(|c| c.sandbox.concurrency = 1).await;
    let a = app.create(&small_request("first")).await;
    let b = app.create(&small_request("second")).await;
    app.create(&small_request("third")).await;
    app.status(&b).await;
    let _ = app.http.get(app.url("/no-such-route")).send().await.unwrap();
    let brew = reqwest::Method::from_bytes(b"BREW").unwrap();
    let _ = app.http.request(brew, app.url("/no-such-route")).send().await.unwrap();
    app.dispatch_until_idle().await; // one slot: `a` is with the sandbox, two wait
    app.advance(3_000);

    let r = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    let text = r.text().await.unwrap();
    let http = |route: &str, method: &str, status: u16| {
        sample(
            &text,
            &format!(
                "vidgate_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}}"
            ),
        )
    };
    assert!(http("/tencent-vod/v1/aigc-video", "POST", 200).unwrap_or(0.0) >= 3.0, "{text}");
    assert!(
        http("/tencent-vod/v1/aigc-video/requests/{request_id}/status", "GET", 202).is_some(),
        "status polls are counted by route template, not by id"
    );
    assert!(http("unmatched", "GET", 404).is_some());
    assert!(http("unmatched", "OTHER", 404).is_some(), "made-up methods share one label");
    assert!(!text.contains("BREW"), "a made-up method is never a label of its own");
    assert!(text.contains("vidgate_http_request_duration_seconds_bucket{"));
    // SQLite's committer: every batch a transaction (PostgreSQL's ways and phases:
    // `accounting::on_postgres_two_replicas_share_one_budget_exactly`).
    let batches = sample(&text, "vidgate_store_create_batch_seconds_count{way=\"transaction\"}");
    assert!(batches.unwrap_or(0.0) >= 1.0, "{text}");
    assert!(sample(&text, "vidgate_store_create_batch_size_sum").unwrap_or(0.0) >= 3.0);
    assert!(!text.contains(&a), "no request id becomes a label");

    let gauge = |series: &str| sample(&text, series);
    assert_eq!(gauge("vidgate_requests{pool=\"sandbox\",state=\"queued\"}"), Some(2.0));
    assert_eq!(gauge("vidgate_requests{pool=\"sandbox\",state=\"running\"}"), Some(1.0));
    assert_eq!(gauge("vidgate_queue_depth{pool=\"sandbox\"}"), Some(2.0));
    let age = gauge("vidgate_queue_oldest_age_seconds{pool=\"sandbox\"}").unwrap();
    assert!((2.9..=3.1).contains(&age), "the oldest queued request waited 3 s: {age}");
    assert_eq!(
        gauge("vidgate_upstream_slots_in_use{pool=\"sandbox\",account=\"sandbox\"}"),
        Some(1.0)
    );
    assert_eq!(gauge("vidgate_upstream_slots{pool=\"sandbox\",account=\"sandbox\"}"), Some(1.0));
    assert!(
        gauge("vidgate_provider_calls_total{provider=\"sandbox\",action=\"submit\",code=\"ok\"}")
            .is_some(),
        "{text}"
    );

    app.drive_to_completion().await;
    let text = app.http.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(
        sample(&text, "vidgate_requests_finished_total{pool=\"sandbox\",outcome=\"succeeded\"}")
            .unwrap_or(0.0)
            >= 3.0
    );
    assert!(text.contains("vidgate_render_duration_seconds_count"));
    assert_eq!(sample(&text, "vidgate_requests{pool=\"sandbox\",state=\"queued\"}"), Some(0.0));
    assert_eq!(sample(&text, "vidgate_queue_oldest_age_seconds{pool=\"sandbox\"}"), Some(0.0));
}

#[tokio::test]
async fn metrics_can_have_a_listener_of_their_own() {
    let app =
        TestApp::spawn_with(|c| c.server.metrics_listen = Some("127.0.0.1:0".parse().unwrap()))
            .await;
    let r = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND, "kept off the public listener");
    let at = app.metrics_addr.expect("a metrics listener");
    let r = app.http.get(format!("http://{at}/metrics")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("vidgate_requests{"));
}

#[tokio::test]
async fn readyz_says_when_the_schema_is_not_this_binarys() {
    let app = TestApp::spawn().await;
    let (status, body) = app.get_json("/readyz").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["store"], "sqlite");
    // A newer binary migrated the shared database: this one must not take traffic.
    let db = sqlx::SqlitePool::connect(&format!(
        "sqlite://{}",
        app.data_dir.join("vidgate.db").display()
    ))
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES (99990101000000, 'from the future', 1, x'00', 0)",
    )
    .execute(&db)
    .await
    .unwrap();
    let (status, body) = app.get_json("/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("schema"), "{body}");
    let (status, _) = app.get_json("/healthz").await;
    assert_eq!(status, StatusCode::OK, "alive all the same");
}

#[tokio::test]
async fn json_logs_follow_one_request_from_accept_to_finish_by_its_id() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("vidgate.log");
    let env = [
        ("VIDGATE_BOOTSTRAP_KEY", "log-test-key-0123456789abcdef"),
        ("VIDGATE_LOG__FORMAT", "json"),
        ("RUST_LOG", "info"),
        ("VIDGATE_SANDBOX__QUEUE_DELAY", "50ms"),
        ("VIDGATE_SANDBOX__PROCESSING_TIME", "200ms"),
        ("VIDGATE_SANDBOX__POLL_INTERVAL", "50ms"),
        ("VIDGATE_SANDBOX__FPS", "2"),
    ];
    let server = Server::start_logged(dir.path(), &env, &log);
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{}/tencent-vod/v1/aigc-video", server.base))
        .header("Authorization", "Key log-test-key-0123456789abcdef")
        .json(&small_request("a logged lighthouse"))
        .send()
        .await
        .unwrap();
    let http_request_id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    let id = r.json::<Value>().await.unwrap()["request_id"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let s: Value = http
            .get(format!("{}/tencent-vod/v1/aigc-video/requests/{id}/status", server.base))
            .header("Authorization", "Key log-test-key-0123456789abcdef")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if s["status"] == "COMPLETED" {
            break;
        }
        assert!(Instant::now() < deadline, "the request did not finish: {s}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(server);
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<Value> = text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    assert!(!lines.is_empty(), "JSON lines expected:\n{text}");
    let about: Vec<&Value> = lines
        .iter()
        .filter(|l| {
            l["spans"].as_array().is_some_and(|spans| spans.iter().any(|s| s["request_id"] == id))
        })
        .collect();
    let messages: Vec<&str> =
        about.iter().filter_map(|l| l["fields"]["message"].as_str()).collect();
    for expected in ["accepted and queued", "handed to the upstream", "finished"] {
        assert!(messages.contains(&expected), "no {expected:?} line for {id}: {messages:?}");
    }
    let accepted = about.iter().find(|l| l["fields"]["message"] == "accepted and queued").unwrap();
    let http_span = accepted["spans"].as_array().unwrap().iter().find(|s| s["name"] == "http");
    assert_eq!(
        http_span.map(|s| s["http_request_id"].clone()),
        Some(Value::String(http_request_id)),
        "the HTTP call's x-request-id is on its lines too"
    );
    assert!(
        !text.contains("log-test-key-0123456789abcdef"),
        "the API key never reaches a log line"
    );
}

/// The credit series, from the ledger: a request settled, one released, one still held, by
/// model and key name (by model only under `metrics.per_key_labels = false`); and the daily
/// reconciliation's outcome (run here by hand for the day before). Against the emulator, so
/// the series it sets are the Tencent pool's (the test above asserts the sandbox's).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credit_series_and_the_daily_reconciliation_are_exported() {
    use crate::upstream::{Upstream, use_upstream};
    use vidgate_domain::Clock;
    let clock = std::sync::Arc::new(vidgate_domain::ManualClock::starting_now());
    let upstream = Upstream::start(clock.clone(), |_| {}).await;
    let app = TestApp::spawn_with_clock(clock.clone(), |c| {
        use_upstream(c, &upstream);
        c.tencent.concurrency = 1;
    })
    .await;
    let key = app.new_key("credit-metrics-key").await;
    let body = serde_json::json!({"model_name": "Kling", "model_version": "2.1", "prompt": "p",
                                  "output_config": {"duration": 5}});
    let mut ids = Vec::new();
    for _ in 0..3 {
        let (code, _, handle) = app.post_create_as(&key, &body).await;
        assert_eq!(code, StatusCode::OK, "{handle}");
        ids.push(handle["request_id"].as_str().unwrap().to_owned());
    }
    app.dispatch_until_idle().await; // one upstream slot: the first runs, two wait
    assert_eq!(
        app.cancel_as(&key, &ids[1]).await.0,
        StatusCode::ACCEPTED,
        "queued: cancelled free"
    );
    for _ in 0..20 {
        upstream.emulator.step().await;
        app.poll_until_idle().await;
        app.advance(1000);
    }
    assert_eq!(app.status_as(&key, &ids[0], false).await.1["status"], "COMPLETED");
    let text = app.http.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    let labels = "{model=\"Kling\",key=\"credit-metrics-key\"}";
    let series = |name: &str| sample(&text, &format!("{name}{labels}"));
    assert_eq!(
        series("vidgate_credits_settled_micros_total"),
        Some(500_000.0),
        "5 s x 0.1: {text}"
    );
    assert_eq!(series("vidgate_credits_released_micros_total"), Some(500_000.0));
    assert_eq!(series("vidgate_credits_late_charged_micros_total"), Some(0.0));
    assert_eq!(series("vidgate_credits_held"), Some(0.5), "the third is still held");

    // The daily worker, a day later: it reconciles the previous upstream day as it starts
    // (then sleeps until 01:00 UTC+8), and its outcome lands in the metrics.
    app.advance(86_400_000);
    let stop = tokio_util::sync::CancellationToken::new();
    let worker = tokio::spawn(vidgate_api::reconcile::daily(
        app.store.clone(),
        app.provider.clone(),
        clock.clone(),
        0.0,
        stop.clone(),
    ));
    let ran_at = clock.now_ms() as f64 / 1000.0;
    let mut text = String::new();
    for _ in 0..200 {
        text = app.http.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
        if sample(&text, "vidgate_reconcile_last_run_timestamp_seconds") == Some(ran_at) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.cancel();
    worker.await.unwrap();
    assert_eq!(
        sample(&text, "vidgate_reconcile_last_run_timestamp_seconds"),
        Some(ran_at),
        "{text}"
    );
    assert_eq!(sample(&text, "vidgate_reconcile_agrees"), Some(1.0), "{text}");
    assert_eq!(sample(&text, "vidgate_reconcile_difference_seconds"), Some(0.0));
    assert_eq!(
        sample(&text, "vidgate_reconcile_findings{cause=\"missing_settlement\"}"),
        Some(0.0)
    );

    // Without per-key labels: one series per model.
    let lean = TestApp::spawn_with(|c| c.metrics.per_key_labels = false).await;
    lean.create(&small_request("lean")).await;
    let text = lean.http.get(lean.url("/metrics")).send().await.unwrap().text().await.unwrap();
    let model = serde_json::from_value::<Value>(small_request("x")).unwrap()["model_name"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        sample(&text, &format!("vidgate_credits_held{{model=\"{model}\"}}")).is_some(),
        "{text}"
    );
}
