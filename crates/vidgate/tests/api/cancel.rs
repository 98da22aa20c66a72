//! Cancelling: queued, running, finished, unknown.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, small_request};

#[tokio::test]
async fn cancelling_a_queued_request_ends_it_without_ever_dispatching_it() {
    let app = TestApp::spawn().await;
    let id = app.create(&small_request("never")).await;
    let (code, body) = app.cancel_as(&app.key, &id).await;
    assert_eq!(code, StatusCode::ACCEPTED);
    assert_eq!(body, json!({"status": "CANCELLATION_REQUESTED"}));
    assert_eq!(app.dispatch_until_idle().await, 0, "nothing to dispatch");
    let (code, s) = app.status_as(&app.key, &id, false).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(s["status"], "COMPLETED");
    assert_eq!(s["error_type"], "request_cancelled");
    assert_eq!(s["upstream_task_id"], serde_json::Value::Null);
    assert!(!app.logs(&id).await.iter().any(|l| l.starts_with("dispatched")));
    let (code, _, body) = app.result(&id).await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert_eq!(body["error_type"], "request_cancelled");
}

#[tokio::test]
async fn cancelling_a_running_request_ends_it_at_its_next_poll() {
    let app = TestApp::spawn().await;
    let id = app.create(&small_request("interrupted")).await;
    app.dispatch_until_idle().await;
    let (code, body) = app.cancel_as(&app.key, &id).await;
    assert_eq!(code, StatusCode::ACCEPTED);
    assert_eq!(body["status"], "CANCELLATION_REQUESTED");
    // Due at once: no clock advance needed.
    assert_eq!(app.poll_until_idle().await, 1);
    let s = app.status(&id).await;
    assert_eq!(s["status"], "COMPLETED");
    assert_eq!(s["error_type"], "request_cancelled");
    assert!(app.store.slots_in_use("sandbox").await.unwrap().is_empty(), "the slot is free again");
}

#[tokio::test]
async fn cancelling_a_finished_request_is_400_and_an_unknown_one_404() {
    let app = TestApp::spawn().await;
    let id = app.create(&small_request("done")).await;
    app.drive_to_completion().await;
    let (code, body) = app.cancel_as(&app.key, &id).await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert_eq!(body, json!({"status": "ALREADY_COMPLETED"}));
    assert_eq!(app.status(&id).await["error"], serde_json::Value::Null, "still a success");
    for unknown in [uuid::Uuid::now_v7().to_string(), "not-an-id".to_owned()] {
        let (code, body) = app.cancel_as(&app.key, &unknown).await;
        assert_eq!(code, StatusCode::NOT_FOUND);
        assert_eq!(body, json!({"status": "NOT_FOUND"}));
    }
}
