//! Webhooks: fal's payload, Standard Webhooks signatures checked by an independent
//! implementation (the `standardwebhooks` crate), retries, redelivery, rotation, restarts.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use reqwest::StatusCode as Http;
use serde_json::{Value, json};
use vidgate_workers::{Outcome, Worker};

use crate::helpers::{TestApp, small_request};

/// Scripted answers: a status code and an optional `Retry-After` value, in order.
type Script = Vec<(u16, Option<&'static str>)>;

/// A receiver on port 0: records what it gets and answers from a script (then 200s).
#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<(HeaderMap, Bytes)>>>,
    script: Arc<Mutex<Script>>,
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> Response {
    r.got.lock().unwrap().push((headers, body));
    let next = {
        let mut s = r.script.lock().unwrap();
        if s.is_empty() { None } else { Some(s.remove(0)) }
    };
    match next {
        Some((code, retry_after)) => {
            let mut resp = (StatusCode::from_u16(code).unwrap(), "scripted").into_response();
            if let Some(ra) = retry_after {
                resp.headers_mut().insert("retry-after", ra.parse().unwrap());
            }
            resp
        }
        None => StatusCode::NO_CONTENT.into_response(),
    }
}

impl Receiver {
    async fn start(script: Script) -> (Receiver, String) {
        let r = Receiver { script: Arc::new(Mutex::new(script)), ..Receiver::default() };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(
            axum::serve(
                listener,
                Router::new().route("/hook", post(receive)).with_state(r.clone()),
            )
            .into_future(),
        );
        (r, url)
    }

    fn deliveries(&self) -> Vec<(HeaderMap, Bytes)> {
        self.got.lock().unwrap().clone()
    }
}

async fn app() -> TestApp {
    TestApp::spawn_with(|c| {
        c.egress.allow = "127.0.0.1/32".parse().unwrap();
        c.webhooks.retry_schedule = [1, 2, 3].map(Duration::from_secs).to_vec();
    })
    .await
}

async fn secret(app: &TestApp) -> String {
    let key = app.store.list_keys().await.unwrap().remove(0);
    app.store.webhook_secrets(&key.id, 0).await.unwrap().unwrap().current
}

async fn send_until_idle(app: &TestApp) -> usize {
    let mut n = 0;
    while app.workers.webhooks.run_once().await.unwrap() == Outcome::Worked {
        n += 1;
    }
    n
}

fn verify(secret: &str, headers: &HeaderMap, body: &[u8]) {
    standardwebhooks::Webhook::new(secret)
        .unwrap()
        .verify(body, headers)
        .expect("a valid Standard Webhooks signature");
}

async fn create_with_hook(app: &TestApp, url: &str, body: Value) -> String {
    let r = app
        .http
        .post(format!("{}?fal_webhook={}", app.queue_url(""), url))
        .bearer_auth(&app.key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), Http::OK);
    r.json::<Value>().await.unwrap()["request_id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_finished_request_is_delivered_once_signed_after_induced_failures() {
    let app = app().await;
    let (rx, url) = Receiver::start(vec![(503, None), (500, None)]).await;
    let id = create_with_hook(&app, &url, small_request("hooked")).await;
    app.drive_to_completion().await;
    assert_eq!(send_until_idle(&app).await, 1, "the first attempt");
    app.advance(1300); // past the first retry delay (1 s ± 20%)
    assert_eq!(send_until_idle(&app).await, 1);
    app.advance(2500);
    assert_eq!(send_until_idle(&app).await, 1);
    app.advance(10_000);
    assert_eq!(send_until_idle(&app).await, 0, "delivered: nothing more to send");

    let got = rx.deliveries();
    assert_eq!(got.len(), 3);
    let secret = secret(&app).await;
    let ids: Vec<&str> = got.iter().map(|(h, _)| h["webhook-id"].to_str().unwrap()).collect();
    assert!(ids.iter().all(|i| *i == ids[0]), "webhook-id is stable across retries: {ids:?}");
    for (headers, body) in &got {
        verify(&secret, headers, body);
        assert_eq!(headers["content-type"], "application/json");
    }
    let payload: Value = serde_json::from_slice(&got[2].1).unwrap();
    assert_eq!(payload["request_id"], id.as_str());
    assert_eq!(payload["gateway_request_id"], id.as_str());
    assert_eq!(payload["status"], "OK");
    assert_eq!(payload["error"], Value::Null);
    assert!(
        payload["payload"]["video"]["url"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}/tencent-vod/v1/aigc-video/requests/", app.base)),
        "{payload}"
    );
    assert_eq!(got[0].1, got[2].1, "every attempt sends the same bytes");

    let (code, view) =
        app.get_json(&format!("/tencent-vod/v1/aigc-video/requests/{id}/webhooks")).await;
    assert_eq!(code, Http::OK);
    assert_eq!(view["state"], "delivered");
    assert_eq!(view["webhook_id"], ids[0]);
    let codes: Vec<i64> = view["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status_code"].as_i64().unwrap())
        .collect();
    assert_eq!(codes, vec![503, 500, 204]);
    let metrics = vidgate_api::metrics::install().expect("a recorder").render();
    for outcome in ["delivered", "retrying"] {
        let series = format!("vidgate_webhook_deliveries_total{{outcome=\"{outcome}\"}}");
        assert!(metrics.contains(&series), "{series} missing");
    }
}

#[tokio::test]
async fn failures_and_cancellations_are_delivered_as_errors() {
    let app = app().await;
    let (rx, url) = Receiver::start(vec![]).await;
    let mut failing = small_request("the forbidden-word");
    failing["webhook_url"] = json!(url);
    let failed = app.create(&failing).await;
    let cancelled = create_with_hook(&app, &url, small_request("never mind")).await;
    app.cancel_as(&app.key, &cancelled).await;
    app.drive_to_completion().await;
    assert_eq!(send_until_idle(&app).await, 2);
    let mut payloads: Vec<Value> =
        rx.deliveries().iter().map(|(_, b)| serde_json::from_slice(b).unwrap()).collect();
    payloads.sort_by_key(|p| p["request_id"].as_str().unwrap() == failed);
    assert_eq!(payloads[0]["request_id"], cancelled.as_str());
    assert_eq!(payloads[0]["status"], "ERROR");
    assert_eq!(payloads[0]["payload"]["error_type"], "request_cancelled");
    assert_eq!(payloads[1]["status"], "ERROR");
    assert_eq!(payloads[1]["payload"]["error_type"], "InvalidParameter.VoilationContent");
    assert!(payloads[1]["error"].as_str().unwrap().contains("moderation"));
}

#[tokio::test]
async fn private_targets_are_refused_unless_allowed() {
    let app = TestApp::spawn().await;
    let r = app
        .http
        .post(format!("{}?fal_webhook=http://169.254.169.254/latest", app.queue_url("")))
        .bearer_auth(&app.key)
        .json(&small_request("x"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), Http::UNPROCESSABLE_ENTITY);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["detail"][0]["loc"], json!(["query", "fal_webhook"]));
    let mut b = small_request("x");
    b["webhook_url"] = json!("ftp://example.com/hook");
    let (code, _, body) = app.post_create(&b).await;
    assert_eq!(code, Http::UNPROCESSABLE_ENTITY);
    assert_eq!(body["detail"][0]["loc"], json!(["body", "webhook_url"]));
    // A name is checked where it resolves: localhost resolves to loopback, which is refused.
    let (rx, url) = Receiver::start(vec![]).await;
    let hook = url.replace("127.0.0.1", "localhost");
    let id = create_with_hook(&app, &hook, small_request("x")).await;
    app.drive_to_completion().await;
    assert_eq!(send_until_idle(&app).await, 1);
    assert!(rx.deliveries().is_empty());
    let (_, view) =
        app.get_json(&format!("/tencent-vod/v1/aigc-video/requests/{id}/webhooks")).await;
    assert_eq!(view["state"], "failed", "an egress refusal is not retried: {view}");
}

#[tokio::test]
async fn a_refusal_is_not_retried_and_redelivery_sends_it_again() {
    let app = app().await;
    let (rx, url) = Receiver::start(vec![(400, None)]).await;
    let id = create_with_hook(&app, &url, small_request("refused")).await;
    app.drive_to_completion().await;
    assert_eq!(send_until_idle(&app).await, 1);
    app.advance(60_000);
    assert_eq!(send_until_idle(&app).await, 0, "400 is final");
    let r = app
        .http
        .post(app.queue_url(&format!("/requests/{id}/webhooks/redeliver")))
        .bearer_auth(&app.key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), Http::ACCEPTED);
    assert_eq!(send_until_idle(&app).await, 1);
    let got = rx.deliveries();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].0["webhook-id"], got[1].0["webhook-id"], "a redelivery is the same event");
    let (_, view) =
        app.get_json(&format!("/tencent-vod/v1/aigc-video/requests/{id}/webhooks")).await;
    assert_eq!(view["state"], "delivered");
    let other = app.new_key("other").await;
    let r = app
        .http
        .post(app.queue_url(&format!("/requests/{id}/webhooks/redeliver")))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), Http::NOT_FOUND);
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let app = app().await;
    let (rx, url) = Receiver::start(vec![(429, Some("120"))]).await;
    create_with_hook(&app, &url, small_request("throttled")).await;
    app.drive_to_completion().await;
    assert_eq!(send_until_idle(&app).await, 1);
    app.advance(60_000);
    assert_eq!(send_until_idle(&app).await, 0, "not before Retry-After");
    app.advance(61_000);
    assert_eq!(send_until_idle(&app).await, 1);
    assert_eq!(rx.deliveries().len(), 2);
}

#[tokio::test]
async fn during_a_secret_rotation_both_signatures_are_sent() {
    let app = app().await;
    let (rx, url) = Receiver::start(vec![]).await;
    let old = secret(&app).await;
    let name = app.store.list_keys().await.unwrap().remove(0).name;
    let new = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    assert!(
        app.store.rotate_webhook_secret(&name, new, app.clock_now() + 3_600_000).await.unwrap()
    );
    create_with_hook(&app, &url, small_request("rotating")).await;
    app.drive_to_completion().await;
    send_until_idle(&app).await;
    let (headers, body) = rx.deliveries().remove(0);
    let sigs = headers["webhook-signature"].to_str().unwrap();
    assert_eq!(sigs.split(' ').count(), 2, "{sigs}");
    verify(new, &headers, &body);
    verify(&old, &headers, &body);
}

#[tokio::test]
async fn pending_deliveries_resume_after_a_restart() {
    let app = app().await;
    let (rx, url) = Receiver::start(vec![(503, None)]).await;
    let id = create_with_hook(&app, &url, small_request("survivor")).await;
    app.drive_to_completion().await;
    assert_eq!(send_until_idle(&app).await, 1);
    let app = app.restart().await;
    app.advance(2000);
    assert_eq!(send_until_idle(&app).await, 1, "the new process picked the delivery up");
    assert_eq!(rx.deliveries().len(), 2);
    let (_, view) =
        app.get_json(&format!("/tencent-vod/v1/aigc-video/requests/{id}/webhooks")).await;
    assert_eq!(view["state"], "delivered");
    let _ = Duration::ZERO;
}

/// A receiver that takes longer than the delivery lease: it moves the manual clock past the
/// lease, then holds the answer for a while of real time.
#[derive(Clone)]
struct SlowReceiver {
    clock: Arc<vidgate_domain::ManualClock>,
    hits: Arc<Mutex<usize>>,
    entered: Arc<tokio::sync::Notify>,
}

async fn receive_slowly(State(r): State<SlowReceiver>) -> StatusCode {
    *r.hits.lock().unwrap() += 1;
    r.clock.advance(5_000);
    r.entered.notify_one();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    StatusCode::NO_CONTENT
}

#[tokio::test]
async fn a_receiver_slower_than_the_lease_gets_exactly_one_delivery() {
    let app = TestApp::spawn_with(|c| {
        c.egress.allow = "127.0.0.1/32".parse().unwrap();
        c.queue.lease = Duration::from_millis(1200);
        c.webhooks.timeout = Duration::from_secs(30);
    })
    .await;
    let r = SlowReceiver {
        clock: app.clock.clone(),
        hits: Arc::default(),
        entered: Arc::new(tokio::sync::Notify::new()),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let routes = Router::new().route("/hook", post(receive_slowly)).with_state(r.clone());
    tokio::spawn(axum::serve(listener, routes).into_future());
    create_with_hook(&app, &url, small_request("slow receiver")).await;
    app.drive_to_completion().await;

    let sender = app.workers.webhooks.clone();
    let first = tokio::spawn(async move { sender.run_once().await.unwrap() });
    r.entered.notified().await;
    // The receiver is busy and the lease (1.2 s on the app's clock) is long over on that clock;
    // the heartbeat (every 0.4 s of real time) has renewed it from the clock's new time.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        app.workers.webhooks.run_once().await.unwrap(),
        Outcome::Idle,
        "a second sender must not take a delivery whose attempt is still running"
    );
    assert_eq!(first.await.unwrap(), Outcome::Worked);
    app.advance(60_000);
    assert_eq!(send_until_idle(&app).await, 0, "delivered once, nothing more to send");
    assert_eq!(*r.hits.lock().unwrap(), 1);
}

#[tokio::test]
async fn a_sender_that_lost_the_delivery_before_freezing_it_does_not_send() {
    let app = TestApp::spawn_with(|c| {
        c.egress.allow = "127.0.0.1/32".parse().unwrap();
        c.queue.lease = Duration::from_secs(10);
    })
    .await;
    let (rx, url) = Receiver::start(vec![]).await;
    create_with_hook(&app, &url, small_request("lease lost before the first attempt")).await;
    app.drive_to_completion().await;

    // Between the claim and the payload's freeze another sender took the delivery over.
    const FREEZE: &str = "UPDATE webhook_deliveries SET payload = $1";
    app.faults.fail(FREEZE, vidgate_store::Fault::NoRows, 1);
    assert_eq!(app.workers.webhooks.run_once().await.unwrap(), Outcome::Worked);
    assert_eq!(app.faults.pending(FREEZE), 0, "the sender reached the freeze");
    assert!(rx.deliveries().is_empty(), "the sender that lost its claim must not send");

    // The claim runs out; the delivery is sent by whoever holds it next, exactly once.
    app.advance(11_000);
    assert_eq!(send_until_idle(&app).await, 1);
    app.advance(60_000);
    assert_eq!(send_until_idle(&app).await, 0);
    assert_eq!(rx.deliveries().len(), 1);
}

#[tokio::test]
async fn nothing_is_sent_signed_with_an_empty_secret() {
    let app = app().await;
    let (rx, url) = Receiver::start(vec![]).await;
    // A key row whose secret is empty (written by other tooling, or by hand).
    let (key, mut record) = vidgate::bootstrap::new_key_record("blank-secret", app.clock_now());
    record.webhook_secret = Some(String::new());
    let key_id = app.store.create_key(record).await.unwrap().id;
    let r = app
        .http
        .post(format!("{}?fal_webhook={}", app.queue_url(""), url))
        .bearer_auth(&key)
        .json(&small_request("no secret to sign with"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), Http::OK);
    let id: vidgate_domain::RequestId =
        r.json::<Value>().await.unwrap()["request_id"].as_str().unwrap().parse().unwrap();
    app.drive_to_completion().await;

    assert_eq!(send_until_idle(&app).await, 1);
    app.advance(60_000);
    assert_eq!(send_until_idle(&app).await, 0, "not retried: signing cannot start working");
    assert!(rx.deliveries().is_empty(), "an unsigned (empty-key) delivery went out");
    let (delivery, attempts) = app.store.delivery_for(&key_id, id).await.unwrap().unwrap();
    assert_eq!(delivery.state, vidgate_store::DeliveryState::Failed);
    let error = attempts[0].error.as_deref().unwrap_or_default();
    assert!(error.contains("no webhook signing secret"), "{error}");
}
