//! Status polls answered from the status cache's kept answer: byte for byte the answer a
//! fresh read would give, for the base URL, key and stream-token step of the poll.

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

#[tokio::test]
async fn repeated_polls_repeat_the_answer_made_for_their_base_url_key_and_token_step() {
    let app = TestApp::spawn().await;
    let id = app.create(&small_request("kept answers")).await;

    let (code, request_id, content_type, first) = poll(&app, &id, None).await;
    assert_eq!(
        (code, request_id.as_str(), content_type.as_str()),
        (StatusCode::ACCEPTED, id.as_str(), "application/json")
    );
    let status = json(&first);
    assert_eq!(status["status"], "IN_QUEUE");
    assert_eq!(status["queue_position"], 0);
    assert!(status["status_url"].as_str().unwrap().starts_with(&app.url("/")), "{status}");
    let again = poll(&app, &id, None).await;
    assert_eq!(again.3, first, "nothing changed: the same answer");

    // Another base URL gets its own links, and does not displace this one's answer.
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

    // Five minutes on, stream tokens come from the next step: a new URL, valid.
    app.advance(5 * 60 * 1000);
    let later = json(&poll(&app, &id, None).await.3);
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
    assert_eq!(
        poll(&app, &id, None).await,
        (StatusCode::OK, id.clone(), "application/json".into(), done)
    );
}
