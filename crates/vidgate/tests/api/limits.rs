//! Limits per API key and for the whole queue, through the HTTP path on the manual clock:
//! create and read rates (429 + Retry-After, refilled as time passes), queued requests per
//! key and in total, and the per-key body size. A refused create leaves nothing behind.

use reqwest::StatusCode;
use serde_json::{Value, json};
use vidgate_store::KeyLimits;

use crate::helpers::{TestApp, small_request};

async fn listed(app: &TestApp, key: &str) -> usize {
    let r =
        app.http.get(app.queue_url("/requests?limit=100")).bearer_auth(key).send().await.unwrap();
    let body: Value = r.json().await.unwrap();
    body["requests"].as_array().unwrap().len()
}

fn assert_429(status: StatusCode, headers: &reqwest::header::HeaderMap, body: &Value, kind: &str) {
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["error_type"], kind, "{body}");
    assert_eq!(headers["x-fal-error-type"], kind);
    let wait: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(wait >= 1, "Retry-After is a positive number of seconds");
}

#[tokio::test]
async fn create_calls_are_rate_limited_per_key_and_refill_with_time() {
    let app = TestApp::spawn_with(|c| {
        c.limits.create_rate = 2.0;
        c.limits.create_burst = 3;
    })
    .await;
    let key = app.new_key("bursty").await;
    for _ in 0..3 {
        assert_eq!(app.post_create_as(&key, &small_request("ok")).await.0, StatusCode::OK);
    }
    let (status, headers, body) = app.post_create_as(&key, &small_request("too fast")).await;
    assert_429(status, &headers, &body, "rate_limited");
    assert_eq!(headers["retry-after"], "1");
    assert!(body["detail"].as_str().unwrap().contains("2 create calls per second"), "{body}");
    // Another key has its own bucket; reads are a different bucket.
    let other = app.new_key("calm").await;
    assert_eq!(app.post_create_as(&other, &small_request("mine")).await.0, StatusCode::OK);
    assert_eq!(listed(&app, &key).await, 3, "the refused create left nothing");
    // Half a second refills one token at 2/s.
    app.advance(500);
    assert_eq!(app.post_create_as(&key, &small_request("again")).await.0, StatusCode::OK);
    assert_eq!(
        app.post_create_as(&key, &small_request("again")).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );

    // A key's own rate wins over the default.
    let slow = app.new_key("slow").await;
    app.store
        .set_key_limits(
            "slow",
            KeyLimits { create_rate: Some(0.1), create_burst: Some(1), ..KeyLimits::default() },
        )
        .await
        .unwrap();
    assert_eq!(app.post_create_as(&slow, &small_request("one")).await.0, StatusCode::OK);
    let (status, headers, body) = app.post_create_as(&slow, &small_request("two")).await;
    assert_429(status, &headers, &body, "rate_limited");
    assert_eq!(headers["retry-after"], "10");
}

#[tokio::test]
async fn other_calls_draw_on_the_read_bucket() {
    let app = TestApp::spawn_with(|c| {
        c.limits.read_rate = 5.0;
        c.limits.read_burst = 5;
    })
    .await;
    let id = app.create(&small_request("polled")).await;
    let status_url = app.queue_url(&format!("/requests/{id}/status"));
    for _ in 0..5 {
        let r = app.http.get(&status_url).bearer_auth(&app.key).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::ACCEPTED);
    }
    let r = app.http.get(&status_url).bearer_auth(&app.key).send().await.unwrap();
    let (status, headers) = (r.status(), r.headers().clone());
    let body: Value = r.json().await.unwrap();
    assert_429(status, &headers, &body, "rate_limited");
    // Creates are not reads.
    assert_eq!(app.post_create(&small_request("still fine")).await.0, StatusCode::OK);
    app.advance(1_000);
    let r = app.http.get(&status_url).bearer_auth(&app.key).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
}

#[tokio::test]
async fn a_key_may_have_only_so_many_requests_queued() {
    let app = TestApp::spawn_with(|c| c.limits.max_queued_per_key = 2).await;
    let first = app.create(&small_request("one")).await;
    app.create(&small_request("two")).await;
    let (status, headers, body) = app.post_create(&small_request("three")).await;
    assert_429(status, &headers, &body, "key_queue_full");
    assert!(body["detail"].as_str().unwrap().contains("2 requests waiting"), "{body}");
    let other = app.new_key("other").await;
    assert_eq!(app.post_create_as(&other, &small_request("theirs")).await.0, StatusCode::OK);
    // Cancelling one makes room; so does dispatch (the queue is what counts).
    assert_eq!(app.cancel_as(&app.key, &first).await.0, StatusCode::ACCEPTED);
    assert_eq!(app.post_create(&small_request("three")).await.0, StatusCode::OK);
    assert_eq!(app.post_create(&small_request("four")).await.0, StatusCode::TOO_MANY_REQUESTS);
    app.dispatch_until_idle().await;
    assert_eq!(app.post_create(&small_request("four")).await.0, StatusCode::OK);
    // A key's own setting wins: 0 is no limit.
    let free = app.new_key("free").await;
    app.store
        .set_key_limits("free", KeyLimits { max_queued: Some(0), ..KeyLimits::default() })
        .await
        .unwrap();
    for _ in 0..4 {
        assert_eq!(app.post_create_as(&free, &small_request("unlimited")).await.0, StatusCode::OK);
    }
}

#[tokio::test]
async fn the_whole_queue_has_a_length_limit() {
    let app = TestApp::spawn_with(|c| c.limits.max_queue_length = 3).await;
    let other = app.new_key("other").await;
    app.create(&small_request("a")).await;
    app.create(&small_request("b")).await;
    assert_eq!(app.post_create_as(&other, &small_request("c")).await.0, StatusCode::OK);
    let (status, headers, body) = app.post_create_as(&other, &small_request("d")).await;
    assert_429(status, &headers, &body, "queue_full");
    let (status, headers, body) = app.post_create(&small_request("e")).await;
    assert_429(status, &headers, &body, "queue_full");
}

#[tokio::test]
async fn a_key_may_have_a_smaller_body_limit() {
    let app = TestApp::spawn().await;
    let small = app.new_key("small").await;
    app.store
        .set_key_limits("small", KeyLimits { max_body_bytes: Some(400), ..KeyLimits::default() })
        .await
        .unwrap();
    let big = small_request(&"x".repeat(600));
    let (status, _, body) = app.post_create_as(&small, &big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("400 bytes"), "{body}");
    assert_eq!(app.post_create_as(&small, &small_request("short")).await.0, StatusCode::OK);
    assert_eq!(app.post_create(&big).await.0, StatusCode::OK, "other keys keep the server's limit");
    let huge = json!({"model_name": "Vidu", "model_version": "q2", "prompt": "x".repeat(2 << 20)});
    assert_eq!(app.post_create(&huge).await.0, StatusCode::PAYLOAD_TOO_LARGE);
}
