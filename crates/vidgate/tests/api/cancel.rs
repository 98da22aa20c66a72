//! Cancelling: queued, running, finished, unknown.

use reqwest::StatusCode;
use serde_json::json;
use vidgate_domain::Pool;

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

/// The upstream has no cancel call and bills the job it runs: a cancel after dispatch is
/// accepted as fal's protocol allows (best effort once running), and the request runs on,
/// keeping its slot, to be delivered and charged.
#[tokio::test]
async fn a_running_request_cancelled_runs_on_to_be_delivered_and_charged() {
    let app = TestApp::spawn().await;
    let id = app.create(&small_request("interrupted")).await;
    app.dispatch_until_idle().await;
    let (code, body) = app.cancel_as(&app.key, &id).await;
    assert_eq!(code, StatusCode::ACCEPTED);
    assert_eq!(body["status"], "CANCELLATION_REQUESTED");
    assert_eq!(app.poll_until_idle().await, 0, "nothing hurried: the job runs on");
    let s = app.status(&id).await;
    assert_eq!(s["status"], "IN_PROGRESS", "{s}");
    assert_eq!(app.store.slots_in_use(Pool::Sandbox).await.unwrap(), vec![("sandbox".into(), 1)]);
    let logs = app.logs(&id).await;
    assert!(logs.iter().any(|l| l.contains("no cancel call")), "{logs:?}");
    app.drive_to_completion().await;
    let (code, _, result) = app.result(&id).await;
    assert_eq!(code, StatusCode::OK, "delivered: {result}");
    assert!(result["cost"]["amount"].as_f64().is_some_and(|c| c > 0.0), "charged: {result}");
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
