//! Status streams cannot be hoarded or abused: a per-key cap, streams end when their key is
//! revoked or the process stops, and the token path is no oracle and is throttled.

use std::time::{Duration, Instant};

use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{TestApp, small_request};

async fn open(app: &TestApp, key: &str, id: &str) -> reqwest::Response {
    app.http
        .get(app.queue_url(&format!("/requests/{id}/status/stream")))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
}

/// Reads the body until the server ends it; `false` if it is still open after `limit`.
async fn ends_within(r: reqwest::Response, limit: Duration) -> bool {
    let mut body = r.bytes_stream();
    let deadline = Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline.into(), body.next()).await {
            Err(_) => return false,
            Ok(None) | Ok(Some(Err(_))) => return true,
            Ok(Some(Ok(_))) => {}
        }
    }
}

#[tokio::test]
async fn a_key_may_hold_only_so_many_streams_and_a_closed_one_frees_its_place() {
    let app = TestApp::spawn_with(|c| c.limits.max_streams_per_key = 2).await;
    let id = app.create(&small_request("watched")).await;
    let first = open(&app, &app.key, &id).await;
    let second = open(&app, &app.key, &id).await;
    assert_eq!((first.status(), second.status()), (StatusCode::OK, StatusCode::OK));
    let third = open(&app, &app.key, &id).await;
    assert_eq!(third.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(third.headers().contains_key("retry-after"));
    let body: Value = third.json().await.unwrap();
    assert_eq!(body["error_type"], "too_many_streams");
    // Another key is not affected.
    let other = app.new_key("other").await;
    let other_id = app.post_create_as(&other, &small_request("theirs")).await.2["request_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(open(&app, &other, &other_id).await.status(), StatusCode::OK);
    // Closing a stream gives its place back (once the server sees the connection go).
    drop(first);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let again = open(&app, &app.key, &id).await;
        if again.status() == StatusCode::OK {
            break;
        }
        assert!(Instant::now() < deadline, "the closed stream's place was never freed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(second);
}

#[tokio::test]
async fn a_stream_ends_when_its_key_is_revoked() {
    let app = TestApp::spawn_with(|c| c.auth.key_cache_ttl = Duration::ZERO).await;
    let key = app.new_key("doomed").await;
    let id = app.post_create_as(&key, &small_request("revoked")).await.2["request_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = open(&app, &key, &id).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(app.store.revoke_key("doomed", app.clock_now()).await.unwrap());
    assert!(ends_within(r, Duration::from_secs(6)).await, "the stream outlived its key");
}

#[tokio::test]
async fn the_token_path_answers_alike_for_missing_ids_and_bad_tokens_and_is_throttled() {
    let app = TestApp::spawn_with(|c| {
        c.limits.unauthenticated_rate = 1.0;
        c.limits.unauthenticated_burst = 3;
    })
    .await;
    let id = app.create(&small_request("tokened")).await;
    let with_token = |id: String, token: &'static str| {
        let url = app.queue_url(&format!("/requests/{id}/status/stream?token={token}"));
        async move {
            let r = reqwest::get(url).await.unwrap();
            let status = r.status();
            (status, r.text().await.unwrap())
        }
    };
    let existing = with_token(id.clone(), "9999999999.AAAA").await;
    let missing =
        with_token("019ab2c0-0000-7000-8000-000000000000".into(), "9999999999.AAAA").await;
    assert_eq!(existing.0, StatusCode::UNAUTHORIZED);
    assert_eq!(existing, missing, "no way to tell an existing id from a missing one");
    let third = with_token(id.clone(), "1.x").await;
    assert_eq!(third.0, StatusCode::UNAUTHORIZED);
    let throttled = with_token(id.clone(), "1.y").await;
    assert_eq!(throttled.0, StatusCode::TOO_MANY_REQUESTS, "{}", throttled.1);
    // A real token from the status route still needs the store, so it waits for the bucket.
    app.advance(1000);
    let status = app.status(&id).await;
    let url = status["stream_url"].as_str().unwrap();
    assert_eq!(reqwest::get(url).await.unwrap().status(), StatusCode::OK);
}

#[tokio::test]
async fn sigterm_closes_open_streams_and_the_process_exits_within_its_deadline() {
    const KEY: &str = "stream-shutdown-key-0123456789";
    let dir = tempfile::tempdir().unwrap();
    let server = crate::process::Server::start(
        dir.path(),
        &[
            ("VIDGATE_BOOTSTRAP_KEY", KEY),
            ("VIDGATE_SERVER__SHUTDOWN_DEADLINE", "3s"),
            // The sandbox holds requests in its simulated queue: the stream stays open.
            ("VIDGATE_SANDBOX__QUEUE_DELAY", "1h"),
        ],
    );
    let http = reqwest::Client::new();
    let handle: Value = http
        .post(format!("{}/tencent-vod/v1/aigc-video", server.base))
        .bearer_auth(KEY)
        .json(&small_request("held open"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = handle["request_id"].as_str().unwrap();
    let mut streams = Vec::new();
    for _ in 0..3 {
        let r = http
            .get(format!("{}/tencent-vod/v1/aigc-video/requests/{id}/status/stream", server.base))
            .bearer_auth(KEY)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        streams.push(r);
    }
    let started = Instant::now();
    let exit = tokio::task::spawn_blocking(move || server.terminate()).await.unwrap();
    let took = started.elapsed();
    assert!(exit.success(), "{exit:?}");
    assert!(took < Duration::from_secs(5), "exit took {took:?} with open streams");
    for r in streams {
        assert!(ends_within(r, Duration::from_secs(1)).await, "a stream survived the process");
    }
}

#[tokio::test]
async fn sigterm_answers_a_waiting_create_at_once_and_the_process_exits() {
    const KEY: &str = "wait-shutdown-key-0123456789";
    let dir = tempfile::tempdir().unwrap();
    let server = crate::process::Server::start(
        dir.path(),
        &[
            ("VIDGATE_BOOTSTRAP_KEY", KEY),
            // Long enough that a wait holding the shutdown would show: it must not need it.
            ("VIDGATE_SERVER__SHUTDOWN_DEADLINE", "30s"),
            ("VIDGATE_SANDBOX__QUEUE_DELAY", "1h"),
        ],
    );
    let base = server.base.clone();
    let waiting = tokio::spawn(async move {
        let r = reqwest::Client::new()
            .post(format!("{base}/tencent-vod/v1/aigc-video"))
            .bearer_auth(KEY)
            .header("prefer", "wait=60")
            .json(&small_request("held by Prefer: wait"))
            .send()
            .await
            .unwrap();
        let status = r.status();
        (status, r.json::<Value>().await.unwrap(), Instant::now())
    });
    // The create is committed and waiting before the signal.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(!waiting.is_finished(), "the create should still be waiting");
    let started = Instant::now();
    let exit = tokio::task::spawn_blocking(move || server.terminate()).await.unwrap();
    let took = started.elapsed();
    assert!(exit.success(), "{exit:?}");
    assert!(took < Duration::from_secs(5), "exit took {took:?} with a waiting create");
    let (status, body, answered) = waiting.await.unwrap();
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_ne!(body["status"], "COMPLETED", "answered as it stands: {body}");
    assert!(body["request_id"].is_string());
    assert!(answered.duration_since(started) < Duration::from_secs(3));
}
