//! Status polls answered from the status cache's kept answer: the answer a fresh build would
//! give, for the base URL, key and stream-token step of the poll, and a fresh one after any
//! change. (The cache trusts an entry for a second of real time: the polls that must repeat
//! a kept answer follow each other at once.)

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{TestApp, small_request};

/// One status poll: its code, `x-fal-request-id`, `content-type` and raw body.
async fn poll(app: &TestApp, id: &str, host: Option<&str>) -> (StatusCode, String, String, String) {
    let mut req = app
        .http
        .get(app.queue_url(&format!("/requests/{id}/status")))
        .header("Authorization", format!("Key {}", app.key));
    if let Some(host) = host {
        req = req.header("X-Forwarded-Host", host);
    }
    let r = req.send().await.expect("GET status");
    let header = |name: &str| r.headers()[name].to_str().expect("a text header").to_owned();
    let (code, request_id, content_type) =
        (r.status(), header("x-fal-request-id"), header("content-type"));
    (code, request_id, content_type, r.text().await.expect("body"))
}

fn json(body: &str) -> Value {
    serde_json::from_str(body).expect("a JSON status")
}

/// The status as built afresh (`?logs=1` is never served from a kept answer), logs left out.
async fn fresh(app: &TestApp, id: &str) -> Value {
    let (_, mut status) = app.status_as(&app.key, id, true).await;
    status["logs"] = Value::Null;
    status
}

#[tokio::test]
async fn repeated_polls_repeat_the_answer_made_for_their_base_url_key_and_token_step() {
    let app = TestApp::spawn_with(|c| {
        // The test varies the host through the proxy's header, as a proxy on loopback would.
        c.server.trusted_proxies = vidgate_egress::AddressList::parse("127.0.0.1").unwrap();
    })
    .await;
    let id = app.create(&small_request("kept answers")).await;

    let (code, request_id, content_type, first) = poll(&app, &id, None).await;
    assert_eq!(code, StatusCode::ACCEPTED);
    assert_eq!((request_id.as_str(), content_type.as_str()), (id.as_str(), "application/json"));
    let repeats = app.statuses.repeats();
    let again = poll(&app, &id, None).await;
    assert_eq!(app.statuses.repeats(), repeats + 1, "the second poll repeats the kept answer");
    assert_eq!(again, (code, request_id, content_type, first.clone()));
    let status = json(&first);
    assert_eq!(status, fresh(&app, &id).await, "the kept answer is what a fresh build gives");
    assert_eq!(status["status"], "IN_QUEUE");
    assert_eq!(status["queue_position"], 0);
    assert!(status["status_url"].as_str().unwrap().starts_with(&app.url("/")), "{status}");

    // Another base URL gets its own links (its answer then replaces the first one's, which
    // the next poll through the first base URL builds again).
    let other = json(&poll(&app, &id, Some("videos.example.com")).await.3);
    for field in ["response_url", "status_url", "cancel_url", "stream_url"] {
        let url = other[field].as_str().unwrap();
        assert!(url.starts_with("http://videos.example.com/"), "{field}: {url}");
    }
    assert_eq!(poll(&app, &id, None).await.3, first);

    // Another key reads nothing, cached or not.
    let stranger = app.new_key("stranger").await;
    let (code, _) = app.status_as(&stranger, &id, false).await;
    assert_eq!(code, StatusCode::NOT_FOUND);

    // Five minutes on, stream tokens come from the next step: a new URL, and it opens.
    let repeats = app.statuses.repeats();
    app.advance(5 * 60 * 1000);
    let later = json(&poll(&app, &id, None).await.3);
    assert_eq!(app.statuses.repeats(), repeats, "an answer of the last step is not repeated");
    let stream_url = later["stream_url"].as_str().unwrap();
    assert_ne!(stream_url, status["stream_url"].as_str().unwrap(), "a token of the next step");
    assert_eq!(later["status_url"], status["status_url"]);
    let r = app.http.get(stream_url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "the new token opens the stream");
    drop(r);

    // A change: the next poll reads it, not the kept answer.
    app.dispatch_until_idle().await;
    let (code, _, _, running) = poll(&app, &id, None).await;
    assert_eq!(code, StatusCode::ACCEPTED);
    assert_eq!(json(&running)["status"], "IN_PROGRESS", "{running}");
    app.drive_to_completion().await;
    let (code, _, _, done) = poll(&app, &id, None).await;
    assert_eq!(code, StatusCode::OK);
    let completed = json(&done);
    assert_eq!(completed["status"], "COMPLETED");
    assert!(completed.get("stream_url").is_none(), "no stream once completed: {completed}");
    let repeats = app.statuses.repeats();
    let again = poll(&app, &id, None).await;
    assert_eq!(again, (StatusCode::OK, id.clone(), "application/json".into(), done));
    assert_eq!(app.statuses.repeats(), repeats + 1);
    assert_eq!(completed, fresh(&app, &id).await);
}

#[tokio::test]
async fn a_kept_queue_position_goes_when_the_request_ahead_leaves_the_queue() {
    let app = TestApp::spawn_with(|c| c.sandbox.concurrency = 1).await;
    let ahead = app.create(&small_request("ahead")).await;
    let behind = app.create(&small_request("behind")).await;
    assert_eq!(json(&poll(&app, &behind, None).await.3)["queue_position"], 1);
    assert_eq!(json(&poll(&app, &behind, None).await.3)["queue_position"], 1, "kept");
    app.dispatch_until_idle().await; // one slot: `ahead` starts, `behind` is next
    assert_eq!(app.status(&ahead).await["status"], "IN_PROGRESS");
    assert_eq!(json(&poll(&app, &behind, None).await.3)["queue_position"], 0);
}
