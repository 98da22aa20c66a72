//! Hostile `multipart/form-data` creates on `POST /v1/videos`: a bracketed field name may not
//! nest deeper, run longer or repeat more than a create needs. One such body (a field named
//! `extra` followed by 20,000 `[x]`) used to build a JSON value 20,000 deep whose drop
//! overflowed the stack and killed the process.

use reqwest::StatusCode;
use serde_json::Value;
use vidgate_domain::Pool;

use crate::helpers::{TestApp, split};

async fn post_form(app: &TestApp, fields: &[(String, String)]) -> (StatusCode, Value) {
    let boundary = "hostile-form-boundary";
    let mut body = String::new();
    for (name, value) in fields {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    let r = app
        .http
        .post(app.url("/v1/videos"))
        .bearer_auth(&app.key)
        .header("content-type", format!("multipart/form-data; boundary={boundary}"))
        .body(body)
        .send()
        .await
        .unwrap();
    let (s, _, b) = split(r).await;
    (s, b)
}

#[tokio::test]
async fn a_field_name_nested_twenty_thousand_deep_is_a_400_and_the_server_lives_on() {
    let app = TestApp::spawn().await;
    let name = format!("extra{}", "[x]".repeat(20_000));
    let (status, body) =
        post_form(&app, &[("prompt".into(), "a red car".into()), (name, "1".into())]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], "invalid_value", "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("longer than 256 bytes"), "{message}");
    assert!(message.len() < 400, "the error does not echo the whole name: {} bytes", message.len());

    let deep = format!("extra{}", "[x]".repeat(8));
    let (status, body) = post_form(&app, &[(deep, "1".into())]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("deeper than 8"), "{body}");

    let many: Vec<(String, String)> = (0..300).map(|i| (format!("f{i}"), "v".into())).collect();
    let (status, body) = post_form(&app, &many).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("at most 256 fields"), "{body}");

    // Nothing was stored, and the server still answers.
    assert_eq!(app.store.queue_stats(Pool::Sandbox).await.unwrap().queued, 0);
    let r = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // A form within the limits still creates.
    let (status, body) = post_form(
        &app,
        &[
            ("prompt".into(), "a red car".into()),
            ("model".into(), "vidu-q2".into()),
            ("seconds".into(), "4".into()),
            ("output_config[audio_generation]".into(), "Disabled".into()),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
