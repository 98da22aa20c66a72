//! A request's life through status and result: IN_QUEUE with a true position, IN_PROGRESS
//! with progress, COMPLETED; logs; failures and deadlines.

use reqwest::StatusCode;
use serde_json::json;
use vidgate_domain::Pool;

use crate::helpers::{TestApp, small_request};

#[tokio::test]
async fn status_moves_from_in_queue_to_in_progress_to_completed() {
    let app = TestApp::spawn().await; // sandbox concurrency 2
    let ids: Vec<String> = futures_ids(&app, 4).await;
    for (i, id) in ids.iter().enumerate() {
        let s = app.status(id).await;
        assert_eq!(s["status"], "IN_QUEUE");
        assert_eq!(s["queue_position"], i as i64, "positions count the requests ahead");
    }
    assert_eq!(app.dispatch_until_idle().await, 2, "two slots, two dispatches");
    let (code, s) = app.status_as(&app.key, &ids[0], false).await;
    assert_eq!(code, StatusCode::ACCEPTED);
    assert_eq!(s["status"], "IN_PROGRESS");
    assert!(s.get("queue_position").is_none());
    assert_eq!(app.status(&ids[2]).await["queue_position"], 0);
    assert_eq!(app.status(&ids[3]).await["queue_position"], 1);

    // 1 s simulated upstream queue, then 4 s of processing.
    app.advance(1000);
    app.poll_until_idle().await;
    app.advance(2000);
    app.poll_until_idle().await;
    let s = app.status(&ids[0]).await;
    assert_eq!(s["status"], "IN_PROGRESS");
    assert_eq!(s["progress"], 50);

    app.advance(2000);
    app.poll_until_idle().await;
    let (code, s) = app.status_as(&app.key, &ids[0], false).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(s["status"], "COMPLETED");
    assert_eq!(s["progress"], 100);
    assert_eq!(s["error"], serde_json::Value::Null);
    assert!(s["metrics"]["inference_time"].as_f64().unwrap() >= 5.0);
    // Freed slots let the next two go.
    assert_eq!(app.dispatch_until_idle().await, 2);
    assert_eq!(app.status(&ids[3]).await["status"], "IN_PROGRESS");
}

async fn futures_ids(app: &TestApp, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(app.create(&small_request(&format!("clip {i}"))).await);
    }
    ids
}

#[tokio::test]
async fn logs_tell_the_story_queued_dispatched_progress_finished() {
    let app = TestApp::spawn().await;
    let id = app.create(&small_request("a story")).await;
    let (_, s) = app.status_as(&app.key, &id, false).await;
    assert_eq!(s["logs"], serde_json::Value::Null, "logs only when asked");
    app.drive_to_completion().await;
    for flag in ["1", "true"] {
        let r = app
            .http
            .get(app.queue_url(&format!("/requests/{id}/status?logs={flag}")))
            .bearer_auth(&app.key)
            .send()
            .await
            .unwrap();
        let body: serde_json::Value = r.json().await.unwrap();
        let logs = body["logs"].as_array().unwrap();
        let messages: Vec<&str> = logs.iter().map(|l| l["message"].as_str().unwrap()).collect();
        assert!(messages[0].contains("queued"), "{messages:?}");
        assert!(messages.iter().any(|m| m.starts_with("dispatched")), "{messages:?}");
        assert!(messages.iter().any(|m| m.starts_with("progress")), "{messages:?}");
        assert!(messages.last().unwrap().starts_with("finished"), "{messages:?}");
        for l in logs {
            assert_eq!(l["source"], "USER");
            assert!(["INFO", "WARN", "ERROR"].contains(&l["level"].as_str().unwrap()));
            assert!(chrono::DateTime::parse_from_rfc3339(l["timestamp"].as_str().unwrap()).is_ok());
        }
    }
    let r = app
        .http
        .get(app.queue_url(&format!("/requests/{id}/status?logs=maybe")))
        .bearer_auth(&app.key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn the_result_is_202_with_retry_after_until_done_then_200_with_the_video() {
    let app = TestApp::spawn().await;
    let id = app.create(&small_request("a result")).await;
    let (code, headers, body) = app.result(&id).await;
    assert_eq!(code, StatusCode::ACCEPTED);
    assert!(headers.get("retry-after").is_some());
    assert_eq!(body["status"], "IN_QUEUE");
    app.dispatch_until_idle().await;
    let (code, headers, body) = app.result(&id).await;
    assert_eq!(code, StatusCode::ACCEPTED);
    assert_eq!(headers["retry-after"], "1");
    assert_eq!(body["status"], "IN_PROGRESS");
    app.drive_to_completion().await;
    let (code, headers, body) = app.result(&id).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(headers["x-fal-request-id"], id.as_str());
    let url = body["video"]["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!(
            "{}/tencent-vod/v1/aigc-video/requests/{id}/content?variant=video&token=",
            app.base
        )),
        "{url}"
    );
    assert_eq!(body["videos"][0]["url"], url);
    assert_eq!(body["model_name"], "Vidu");
    assert_eq!(body["video"]["content_type"], "video/mp4");
}

#[tokio::test]
async fn an_upstream_refusal_completes_with_its_error_and_type() {
    let app = TestApp::spawn().await;
    let id = app.create(&small_request("please draw the forbidden-word")).await;
    app.drive_to_completion().await;
    let (code, s) = app.status_as(&app.key, &id, false).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(s["status"], "COMPLETED");
    assert_eq!(s["error_type"], "InvalidParameter.VoilationContent");
    assert!(s["error"].as_str().unwrap().contains("moderation"));
    let (code, headers, body) = app.result(&id).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(headers["x-fal-error-type"], "InvalidParameter.VoilationContent");
    assert_eq!(body["error_type"], "InvalidParameter.VoilationContent");
}

#[tokio::test]
async fn a_request_past_its_deadline_fails_with_timeout() {
    let app = TestApp::spawn_with(|c| {
        c.queue.request_deadline = std::time::Duration::from_secs(60);
        c.sandbox.concurrency = 1;
    })
    .await;
    let running = app.create(&small_request("slow")).await;
    let queued = app.create(&small_request("stuck behind")).await;
    app.dispatch_until_idle().await;
    app.advance(61_000);
    app.reap().await;
    for id in [&running, &queued] {
        let s = app.status(id).await;
        assert_eq!(s["status"], "COMPLETED");
        assert_eq!(s["error_type"], "timeout");
    }
    let (code, _, body) = app.result(&queued).await;
    assert_eq!(code, StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(body["error_type"], "timeout");
    // A late poll of the timed-out request changes nothing.
    app.poll_until_idle().await;
    assert_eq!(app.status(&running).await["error_type"], "timeout");
    assert_eq!(json!(app.store.slots_in_use(Pool::Sandbox).await.unwrap().len()), json!(0));
}
