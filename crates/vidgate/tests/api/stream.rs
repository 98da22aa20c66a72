//! The SSE status stream: one event per change, logs as deltas, closed after COMPLETED,
//! token access for browsers, and (with PostgreSQL) changes made by another replica.

use std::time::{Duration, Instant};

use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{TestApp, small_request};

/// Reads SSE events (`data:` JSON) from a response as they arrive.
struct Events {
    body: futures::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buf: String,
}

impl Events {
    fn new(r: reqwest::Response) -> Events {
        Events { body: r.bytes_stream().boxed(), buf: String::new() }
    }

    /// Reads events until one matches; every event on the way must be a valid status.
    async fn until(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        for _ in 0..20 {
            let e = self.next().await.unwrap_or_else(|| panic!("the stream closed before {what}"));
            assert!(
                ["IN_QUEUE", "IN_PROGRESS", "COMPLETED"].contains(&e["status"].as_str().unwrap()),
                "{e}"
            );
            if pred(&e) {
                return e;
            }
        }
        panic!("no event showed {what}");
    }

    /// The next event, `None` when the server closed the stream. Comments are skipped.
    async fn next(&mut self) -> Option<Value> {
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let data: String =
                    block.lines().filter_map(|l| l.strip_prefix("data:")).map(str::trim).collect();
                if !data.is_empty() {
                    return Some(serde_json::from_str(&data).expect("event data is JSON"));
                }
                continue;
            }
            match tokio::time::timeout(Duration::from_secs(5), self.body.next())
                .await
                .expect("an event within 5 s")
            {
                Some(Ok(chunk)) => self.buf.push_str(&String::from_utf8_lossy(&chunk)),
                _ => return None,
            }
        }
    }
}

async fn open(app: &TestApp, id: &str, query: &str) -> Events {
    let r = app
        .http
        .get(app.queue_url(&format!("/requests/{id}/status/stream{query}")))
        .bearer_auth(&app.key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    Events::new(r)
}

#[tokio::test]
async fn the_stream_sends_each_change_and_closes_after_completed() {
    let app = TestApp::spawn().await;
    let first = app.create(&small_request("ahead")).await;
    let id = app.create(&small_request("streamed")).await;
    app.create(&small_request("also ahead")).await; // behind: takes no slot from `id`
    let mut events = open(&app, &id, "").await;
    let e = events.next().await.unwrap();
    assert_eq!((e["status"].as_str(), e["queue_position"].as_i64()), (Some("IN_QUEUE"), Some(1)));
    app.cancel_as(&app.key, &first).await;
    let e = events.next().await.unwrap();
    assert_eq!(e["queue_position"], 0, "another request leaving the queue moves this one up");
    app.dispatch_until_idle().await;
    events.until("IN_PROGRESS", |e| e["status"] == "IN_PROGRESS").await;
    app.advance(3000);
    app.poll_until_idle().await;
    let e = events.until("progress", |e| e["progress"].as_i64().unwrap() > 0).await;
    assert_eq!(e["status"], "IN_PROGRESS");
    app.advance(5000);
    app.poll_until_idle().await;
    let e = events.until("COMPLETED", |e| e["status"] == "COMPLETED").await;
    assert_eq!(e["error"], Value::Null);
    assert!(events.next().await.is_none(), "the stream closes after COMPLETED");
}

#[tokio::test]
async fn with_logs_each_event_carries_only_the_new_entries() {
    let app = TestApp::spawn().await;
    let id = app.create(&small_request("logged")).await;
    let mut events = open(&app, &id, "?logs=1").await;
    let mut all = Vec::new();
    let e = events.next().await.unwrap();
    all.extend(
        e["logs"].as_array().unwrap().iter().map(|l| l["message"].as_str().unwrap().to_owned()),
    );
    app.drive_to_completion().await;
    while let Some(e) = events.next().await {
        all.extend(
            e["logs"].as_array().unwrap().iter().map(|l| l["message"].as_str().unwrap().to_owned()),
        );
    }
    assert_eq!(all, app.logs(&id).await, "the deltas add up to the whole log, without repeats");
}

#[tokio::test]
async fn a_browser_can_open_the_stream_with_the_token_from_the_status_route() {
    let app = TestApp::spawn().await;
    let id = app.create(&small_request("browser")).await;
    let other = app.create(&small_request("other")).await;
    let status = app.status(&id).await;
    let stream_url =
        status["stream_url"].as_str().expect("a stream_url while not completed").to_owned();
    assert!(stream_url.starts_with(&format!(
        "{}/tencent-vod/v1/aigc-video/requests/{id}/status/stream?token=",
        app.base
    )));
    let r = reqwest::get(&stream_url).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "no Authorization header needed");
    let mut events = Events::new(r);
    assert_eq!(events.next().await.unwrap()["request_id"], id.as_str());
    let token = stream_url.split("token=").nth(1).unwrap();
    let r = reqwest::get(app.queue_url(&format!("/requests/{other}/status/stream?token={token}")))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "a token opens only its own request");
    let r = reqwest::get(app.queue_url(&format!("/requests/{id}/status/stream?token=123.abc")))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = reqwest::get(app.queue_url(&format!("/requests/{id}/status/stream"))).await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let stranger = app.new_key("stranger").await;
    let r = app
        .http
        .get(app.queue_url(&format!("/requests/{id}/status/stream")))
        .bearer_auth(&stranger)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // fal's clients open the stream without the app's sub-path.
    let r = app
        .http
        .get(app.url(&format!("/tencent-vod/v1/requests/{id}/status/stream")))
        .bearer_auth(&app.key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

/// Two real replicas on one PostgreSQL: a cancel made on one reaches a stream open on the
/// other within a second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_made_by_another_replica_reaches_the_stream_within_a_second() {
    let Some(admin) = vidgate_store::postgres::testing::test_url() else { return };
    let (db_url, db_name) = crate::replicas::fresh_database(&admin).await;
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("DATABASE_URL", db_url.as_str()),
        ("VIDGATE_BOOTSTRAP_KEY", "stream-key-0123456789abcdef"),
        ("VIDGATE_SANDBOX__CONCURRENCY", "1"),
    ];
    let a = crate::process::Server::start(dir.path(), &env);
    let b = crate::process::Server::start(dir.path(), &env);
    let http = reqwest::Client::new();
    let create = |prompt: &str| {
        http.post(format!("{}/tencent-vod/v1/aigc-video", a.base))
            .bearer_auth("stream-key-0123456789abcdef")
            .json(&small_request(prompt))
            .send()
    };
    create("occupies the slot").await.unwrap();
    let handle: Value = create("waits").await.unwrap().json().await.unwrap();
    let id = handle["request_id"].as_str().unwrap();
    let r = http
        .get(format!("{}/tencent-vod/v1/aigc-video/requests/{id}/status/stream", b.base))
        .bearer_auth("stream-key-0123456789abcdef")
        .send()
        .await
        .unwrap();
    let mut events = Events::new(r);
    assert_eq!(events.next().await.unwrap()["status"], "IN_QUEUE");
    let sent = Instant::now();
    let r = http
        .put(format!("{}/tencent-vod/v1/aigc-video/requests/{id}/cancel", a.base))
        .bearer_auth("stream-key-0123456789abcdef")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let e = events.next().await.unwrap();
    let took = sent.elapsed();
    assert_eq!(
        (e["status"].as_str(), e["error_type"].as_str()),
        (Some("COMPLETED"), Some("request_cancelled"))
    );
    assert!(
        took < Duration::from_secs(1),
        "the change reached the other replica's stream after {took:?}"
    );
    drop((a, b));
    crate::replicas::drop_database(&admin, &db_name).await;
}
