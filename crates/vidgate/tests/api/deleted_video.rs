//! `DELETE /v1/videos/{id}`: the video is gone for its key at once. Every URL handed out for
//! it (signed content and stream URLs) opens nothing, its webhook deliveries are gone; and
//! one deleted while the upstream has it runs on to its end (the upstream has no cancel
//! call, and bills it), is charged, and keeps no file and sends no webhook.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, small_request};

async fn app() -> TestApp {
    TestApp::spawn_with(|c| c.egress.allow = "127.0.0.1/32".parse().unwrap()).await
}

fn with_webhook(prompt: &str) -> Value {
    let mut b = small_request(prompt);
    b["webhook_url"] = json!("http://127.0.0.1:9/hook");
    b
}

async fn delete(app: &TestApp, id: &str) {
    let r = app
        .http
        .delete(app.url(&format!("/v1/videos/{id}")))
        .bearer_auth(&app.key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

async fn code_of(req: reqwest::RequestBuilder) -> StatusCode {
    req.send().await.unwrap().status()
}

#[tokio::test]
async fn a_deleted_videos_signed_urls_and_webhook_deliveries_open_nothing() {
    let app = app().await;
    let id = app.create(&with_webhook("done, then deleted")).await;
    let stream_url = app.status(&id).await["stream_url"].as_str().unwrap().to_owned();
    app.drive_to_completion().await;
    let (code, _, result) = app.result(&id).await;
    assert_eq!(code, StatusCode::OK, "{result}");
    let video = result["video"]["url"].as_str().unwrap().to_owned();
    let cover = result["video"]["cover_url"].as_str().unwrap().to_owned();
    let hooks = app.queue_url(&format!("/requests/{id}/webhooks"));
    let redeliver = app.queue_url(&format!("/requests/{id}/webhooks/redeliver"));
    // Before the delete, each of them opens.
    for url in [&video, &cover] {
        assert_eq!(code_of(app.http.get(url)).await, StatusCode::OK, "{url}");
    }
    let listed = app.http.get(&hooks).bearer_auth(&app.key);
    assert_eq!(code_of(listed).await, StatusCode::OK, "a delivery was queued");
    delete(&app, &id).await;
    for url in [&video, &cover, &stream_url] {
        let code = code_of(app.http.get(url)).await;
        assert_eq!(code, StatusCode::UNAUTHORIZED, "{url} opens nothing any more");
    }
    let listed = app.http.get(&hooks).bearer_auth(&app.key);
    assert_eq!(code_of(listed).await, StatusCode::NOT_FOUND, "no deliveries to list");
    let again = app.http.post(&redeliver).bearer_auth(&app.key);
    assert_eq!(code_of(again).await, StatusCode::NOT_FOUND, "none to send again");
}

#[tokio::test]
async fn a_video_deleted_while_the_upstream_has_it_runs_on_is_charged_and_keeps_nothing() {
    let app = app().await;
    let id = app.create(&with_webhook("deleted mid-flight")).await;
    assert_eq!(app.dispatch_until_idle().await, 1);
    assert_eq!(app.status(&id).await["status"], "IN_PROGRESS");
    delete(&app, &id).await;
    let (code, _) = app.status_as(&app.key, &id, false).await;
    assert_eq!(code, StatusCode::NOT_FOUND, "gone for its key at once");
    app.drive_to_completion().await;
    let request: vidgate_domain::RequestId = id.parse().unwrap();
    let row = app.store.get_task_any(request).await.unwrap().unwrap();
    assert_eq!(row.state(), vidgate_domain::TaskState::Succeeded, "the job ran to its end");
    assert!(row.forgotten_at.is_some());
    // Charged, as the upstream bills it: the hold settled at the clip's cost.
    let key_id = app.store.list_keys().await.unwrap().remove(0).id;
    let rows = app.store.ledger(Some(&key_id), 0, 100).await.unwrap();
    let kinds: Vec<&str> = rows
        .iter()
        .filter(|r| r.request_id.as_deref() == Some(id.as_str()))
        .map(|r| r.kind.as_str())
        .collect();
    assert_eq!(kinds, ["hold", "settle"]);
    let spent: i64 = rows
        .iter()
        .filter(|r| r.request_id.as_deref() == Some(id.as_str()))
        .map(|r| r.spend.micros())
        .sum();
    assert!(spent > 0, "charged");
    // No file kept, in the catalog or on disk, and no webhook queued.
    assert!(app.store.media_of(request).await.unwrap().is_empty());
    let leftovers: Vec<_> = walk(&app.data_dir.join("media"))
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(&id))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    assert!(app.store.delivery_for(&key_id, request).await.unwrap().is_none());
    let logs: Vec<String> =
        app.store.task_logs(request).await.unwrap().into_iter().map(|l| l.message).collect();
    assert!(
        logs.iter().any(|l| l.contains("deleted by its owner, so no file is kept")),
        "{logs:?}"
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}
