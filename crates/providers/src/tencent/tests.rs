//! Wire-level tests of the Tencent provider against a fake upstream on port 0 that answers
//! with recorded shapes and records what it was sent.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::ErrorClass;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use url::Url;
use vidgate_domain::{ParseOptions, RequestId, Secret, SystemClock, parse_create_request};

use super::*;
use crate::{PollJob, PollStatus, Provider, PushAuth, SubmitJob};

const SECRET_KEY: &str = "fakeSecretKeyForWireTests0123456";

#[derive(Clone, Default)]
struct Fake {
    /// (action, headers, body) of every call.
    seen: Arc<Mutex<Vec<(String, HeaderMap, Value)>>>,
    /// Answers by action, consumed in order; the last one repeats.
    answers: Arc<Mutex<Vec<(String, StatusCode, String)>>>,
}

impl Fake {
    fn answer(&self, action: &str, status: StatusCode, body: Value) {
        self.answers.lock().unwrap().push((action.into(), status, body.to_string()));
    }

    fn calls(&self, action: &str) -> Vec<(HeaderMap, Value)> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|(a, _, _)| a == action)
            .map(|(_, h, b)| (h.clone(), b.clone()))
            .collect()
    }
}

async fn handle(State(fake): State<Fake>, headers: HeaderMap, body: Bytes) -> Response {
    let action =
        headers.get("x-tc-action").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    fake.seen.lock().unwrap().push((action.clone(), headers.clone(), parsed));
    let mut answers = fake.answers.lock().unwrap();
    let pos = answers.iter().position(|(a, _, _)| *a == action);
    let Some(pos) = pos else {
        return (StatusCode::OK, r#"{"Response":{"Error":{"Code":"InvalidAction","Message":"no answer"},"RequestId":"r"}}"#).into_response();
    };
    let more = answers.iter().filter(|(a, _, _)| *a == action).count() > 1;
    let (_, status, text) = if more { answers.remove(pos) } else { answers[pos].clone() };
    (status, text).into_response()
}

async fn start(fake: Fake) -> Url {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        axum::serve(listener, Router::new().route("/", post(handle)).with_state(fake))
            .into_future(),
    );
    Url::parse(&format!("http://{addr}/")).unwrap()
}

fn config(endpoint: Url, sign_key: Option<&str>) -> TencentConfig {
    TencentConfig {
        accounts: vec![TencentAccount {
            name: "main".into(),
            secret_id: "AKIDfakeWireTests".into(),
            secret_key: Secret::new(SECRET_KEY),
            sub_app_id: 251007502,
            endpoint,
            region: None,
            concurrency: 1,
            create_rate: 20.0,
        }],
        describe_rate: 100.0,
        request_timeout: Duration::from_millis(800),
        poll_initial: Duration::from_secs(2),
        poll_backoff: 0.1,
        poll_max: Duration::from_secs(30),
        events: EventMode::Pull,
        callback_sign_key: sign_key.map(Secret::new),
        reconcile_pages: 3,
    }
}

fn request() -> vidgate_domain::VideoRequest {
    parse_create_request(&json!({"model_name":"Kling","model_version":"2.1","prompt":"一只猫 on a roof","output_config":{"duration":5}}), &ParseOptions::default()).unwrap()
}

async fn provider(fake: &Fake) -> TencentProvider {
    TencentProvider::new(
        config(start(fake.clone()).await, Some("callbackKey")),
        Arc::new(SystemClock),
    )
    .unwrap()
}

fn envelope(fields: Value) -> Value {
    let mut r = fields;
    r["RequestId"] = json!("5f0c1a2b-0000-4000-8000-000000000000");
    json!({"Response": r})
}

fn error(code: &str, message: &str) -> Value {
    envelope(json!({"Error": {"Code": code, "Message": message}}))
}

#[tokio::test]
async fn create_sends_a_signed_request_whose_body_is_exactly_the_signed_bytes() {
    let fake = Fake::default();
    fake.answer(
        "CreateAigcVideoTask",
        StatusCode::OK,
        envelope(json!({"TaskId": "251007502-AigcVideoTask-1t"})),
    );
    let p = provider(&fake).await;
    let (id, req) = (RequestId::new(), request());
    let out = p
        .submit(SubmitJob { request_id: id, account: "main", request: &req, attempt: 1 })
        .await
        .unwrap();
    assert_eq!(out.upstream_task_id, "251007502-AigcVideoTask-1t");
    let (headers, body) = fake.calls("CreateAigcVideoTask").pop().unwrap();
    assert_eq!(body["SessionId"], id.to_string());
    assert_eq!(body["SubAppId"], 251007502);
    assert_eq!(body["Prompt"], "一只猫 on a roof");
    assert_eq!(headers["x-tc-version"], "2018-07-17");
    // Re-sign what arrived: the signature covers exactly the received bytes and headers.
    let auth = sign::parse_authorization(headers["authorization"].to_str().unwrap()).unwrap();
    assert_eq!(auth.signed_headers, vec!["content-type", "host", "x-tc-action"]);
    let ts: i64 = headers["x-tc-timestamp"].to_str().unwrap().parse().unwrap();
    assert_eq!(auth.date, sign::utc_date(ts));
    let raw = serde_json::to_vec(&body).unwrap();
    let again = sign::sign(&sign::SignInput {
        secret_id: "AKIDfakeWireTests",
        secret_key: SECRET_KEY,
        service: "vod",
        host: headers["host"].to_str().unwrap(),
        content_type: headers["content-type"].to_str().unwrap(),
        timestamp: ts,
        payload: &raw,
        extra_headers: &[("x-tc-action", "CreateAigcVideoTask")],
    });
    assert_eq!(again.signature, auth.signature);
}

#[tokio::test]
async fn upstream_errors_are_classified_and_never_carry_the_secret_key() {
    let fake = Fake::default();
    let p = provider(&fake).await;
    let req = request();
    for (code, class) in [
        ("RequestLimitExceeded", ErrorClass::Retryable),
        ("InternalError", ErrorClass::Retryable),
        ("InvalidParameterValue.SubAppId", ErrorClass::Fatal),
        ("AuthFailure.SignatureFailure", ErrorClass::Fatal),
        ("UnauthorizedOperation", ErrorClass::Fatal),
        ("FailedOperation.InvalidVodUser", ErrorClass::Fatal),
    ] {
        fake.answers.lock().unwrap().clear();
        fake.answer("CreateAigcVideoTask", StatusCode::OK, error(code, "upstream says no"));
        let e = p
            .submit(SubmitJob {
                request_id: RequestId::new(),
                account: "main",
                request: &req,
                attempt: 1,
            })
            .await
            .unwrap_err();
        assert_eq!((e.code.as_str(), e.class), (code, class));
        let shown = format!("{e} {e:?} {p:?}");
        assert!(!shown.contains(SECRET_KEY), "the secret key leaked: {shown}");
    }
    fake.answers.lock().unwrap().clear();
    fake.answer("CreateAigcVideoTask", StatusCode::SERVICE_UNAVAILABLE, json!("<html>busy</html>"));
    let e = p
        .submit(SubmitJob {
            request_id: RequestId::new(),
            account: "main",
            request: &req,
            attempt: 1,
        })
        .await
        .unwrap_err();
    assert_eq!((e.code.as_str(), e.class), ("HttpStatus503", ErrorClass::Retryable));
}

#[tokio::test]
async fn a_duplicate_session_id_is_reconciled_with_the_job_an_earlier_attempt_made() {
    let fake = Fake::default();
    let p = provider(&fake).await;
    let (id, req) = (RequestId::new(), request());
    fake.answer(
        "CreateAigcVideoTask",
        StatusCode::OK,
        error("InvalidParameterValue.SessionId", "SessionId repeated"),
    );
    fake.answer(
        "DescribeTasks",
        StatusCode::OK,
        envelope(
            json!({"TaskSet": [{"TaskId": "other", "SessionId": "x"}], "ScrollToken": "page2"}),
        ),
    );
    fake.answer("DescribeTasks", StatusCode::OK, envelope(json!({"TaskSet": [{"TaskId": "251007502-AigcVideoTask-first", "SessionId": id.to_string(), "TaskType": "AigcVideoTask"}], "ScrollToken": ""})));
    let out = p
        .submit(SubmitJob { request_id: id, account: "main", request: &req, attempt: 2 })
        .await
        .unwrap();
    assert_eq!(out.upstream_task_id, "251007502-AigcVideoTask-first");
    let pages = fake.calls("DescribeTasks");
    assert_eq!(pages.len(), 2);
    assert_eq!(pages[1].1["ScrollToken"], "page2");
}

#[tokio::test]
async fn an_unfindable_duplicate_fails_with_a_clear_error_type() {
    let fake = Fake::default();
    let p = provider(&fake).await;
    fake.answer(
        "CreateAigcVideoTask",
        StatusCode::OK,
        error("InvalidParameterValue.SessionId", "SessionId repeated"),
    );
    fake.answer(
        "DescribeTasks",
        StatusCode::OK,
        envelope(json!({"TaskSet": [], "ScrollToken": ""})),
    );
    let e = p
        .submit(SubmitJob {
            request_id: RequestId::new(),
            account: "main",
            request: &request(),
            attempt: 2,
        })
        .await
        .unwrap_err();
    assert_eq!((e.code.as_str(), e.class), ("upstream_task_unknown", ErrorClass::Fatal));
}

#[tokio::test]
async fn polls_map_recorded_task_details_and_treat_garbage_as_retryable() {
    let fake = Fake::default();
    let p = provider(&fake).await;
    let req = request();
    let job = PollJob {
        key_id: "k",
        request_id: RequestId::new(),
        account: "main",
        upstream_task_id: "t-9",
        submitted_at: 0,
        request: &req,
    };
    fake.answer("DescribeTaskDetail", StatusCode::OK, envelope(json!({"TaskType": "AigcVideoTask", "Status": "PROCESSING", "AigcVideoTask": {"TaskId": "t-9", "Status": "PROCESSING", "Progress": 35}})));
    fake.answer("DescribeTaskDetail", StatusCode::OK, json!({"not": "an envelope"}));
    fake.answer("DescribeTaskDetail", StatusCode::OK, envelope(json!({"TaskType": "AigcVideoTask", "Status": "FINISH", "AigcVideoTask": {
        "TaskId": "t-9", "Status": "FINISH", "ErrCode": 0, "Progress": 100,
        "Output": {"FileInfos": [{"FileUrl": "https://cdn.example/t-9.mp4", "FileType": "mp4", "StorageMode": "Temporary",
            "ExpireTime": "2026-12-01T00:00:00Z", "MetaData": {"Size": 1000, "Width": 1280, "Height": 720, "Duration": 5.0}}]}}})));
    assert_eq!(p.poll(job).await.unwrap(), PollStatus::Processing { progress: 35 });
    assert_eq!(p.poll(job).await.unwrap_err().class, ErrorClass::Retryable);
    let PollStatus::Succeeded(out) = p.poll(job).await.unwrap() else { panic!() };
    assert_eq!(out.files[0].file.external_url(), Some("https://cdn.example/t-9.mp4"));
    let (_, body) = fake.calls("DescribeTaskDetail").pop().unwrap();
    assert_eq!(body, json!({"TaskId": "t-9", "SubAppId": 251007502}));
}

#[tokio::test]
async fn a_dead_upstream_is_a_retryable_network_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
    drop(listener);
    let p = TencentProvider::new(config(url, None), Arc::new(SystemClock)).unwrap();
    let e = p
        .submit(SubmitJob {
            request_id: RequestId::new(),
            account: "main",
            request: &request(),
            attempt: 1,
        })
        .await
        .unwrap_err();
    assert_eq!((e.code.as_str(), e.class), ("NetworkError", ErrorClass::Retryable));
}

#[tokio::test]
async fn pulled_events_answer_the_next_poll_and_are_confirmed_by_handle() {
    let fake = Fake::default();
    let p = provider(&fake).await;
    let id = RequestId::new();
    fake.answer("PullEvents", StatusCode::OK, envelope(json!({"EventSet": [{"EventHandle": "h-1", "EventType": "AigcVideoTaskComplete",
        "AigcVideoCompleteEvent": {"TaskId": "t-5", "Status": "FINISH", "ErrCode": 0, "SessionId": id.to_string(),
            "Output": {"FileInfos": [{"FileUrl": "https://cdn.example/t-5.mp4", "FileType": "mp4"}]}}}]})));
    fake.answer("ConfirmEvents", StatusCode::OK, envelope(json!({})));
    let events = p.pull_events().await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].request_id, Some(id));
    p.confirm_events(&events).await.unwrap();
    assert_eq!(fake.calls("ConfirmEvents")[0].1["EventHandles"], json!(["h-1"]));
    let req = request();
    let job = PollJob {
        key_id: "k",
        request_id: id,
        account: "main",
        upstream_task_id: "t-5",
        submitted_at: 0,
        request: &req,
    };
    assert!(matches!(p.poll(job).await.unwrap(), PollStatus::Succeeded(_)));
    assert!(fake.calls("DescribeTaskDetail").is_empty(), "the event answered the poll");
}

#[tokio::test]
async fn push_callbacks_are_checked_against_the_sign_key() {
    let fake = Fake::default();
    let url = start(fake.clone()).await;
    let pulling =
        TencentProvider::new(config(url.clone(), Some("callbackKey")), Arc::new(SystemClock))
            .unwrap();
    let mut push = config(url, Some("callbackKey"));
    push.events = EventMode::Push;
    let p = TencentProvider::new(push, Arc::new(SystemClock)).unwrap();
    let session = vidgate_domain::RequestId::new();
    let body = json!({"EventType": "AigcVideoTaskComplete", "AigcVideoCompleteEvent": {"TaskId": "t-7", "Status": "FINISH", "ErrCode": 0, "SessionId": session.to_string()}}).to_string();
    assert_eq!(
        pulling.receive_push(body.as_bytes(), &good_auth()).unwrap_err(),
        PushError::NotSupported,
        "only push mode takes callbacks"
    );
    let t = (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
        + 600)
        .to_string();
    let good =
        PushAuth { sign: Some(events::callback_sign("callbackKey", &t)), t: Some(t.clone()) };
    let events = p.receive_push(body.as_bytes(), &good).unwrap();
    assert_eq!((events[0].upstream_task_id.as_str(), events[0].request_id), ("t-7", Some(session)));
    // The event is a hint only: the next poll asks the upstream (the fake answers it).
    let no_session = json!({"EventType": "AigcVideoTaskComplete", "AigcVideoCompleteEvent": {"TaskId": "t-7", "Status": "FINISH"}}).to_string();
    assert!(p.receive_push(no_session.as_bytes(), &good).unwrap().is_empty(), "needs a SessionId");
    let wrong = PushAuth { sign: Some(events::callback_sign("otherKey", &t)), t: Some(t) };
    assert_eq!(p.receive_push(body.as_bytes(), &wrong).unwrap_err(), PushError::BadSignature);
    let expired = PushAuth {
        sign: Some(events::callback_sign("callbackKey", "1000")),
        t: Some("1000".into()),
    };
    assert_eq!(p.receive_push(body.as_bytes(), &expired).unwrap_err(), PushError::BadSignature);
    assert_eq!(
        p.receive_push(body.as_bytes(), &PushAuth::default()).unwrap_err(),
        PushError::BadSignature
    );
    assert!(matches!(p.receive_push(b"nope", &good_auth()).unwrap_err(), PushError::BadBody(_)));
}

fn good_auth() -> PushAuth {
    let t = (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
        + 600)
        .to_string();
    PushAuth { sign: Some(events::callback_sign("callbackKey", &t)), t: Some(t) }
}

#[test]
fn polls_start_early_and_back_off_with_the_jobs_age() {
    let p = TencentProvider::new(
        config(Url::parse("http://127.0.0.1:1/").unwrap(), None),
        Arc::new(SystemClock),
    )
    .unwrap();
    assert_eq!(p.poll_delay(Duration::ZERO), Duration::from_secs(2));
    assert_eq!(p.poll_delay(Duration::from_secs(100)), Duration::from_secs(10));
    assert_eq!(p.poll_delay(Duration::from_secs(3600)), Duration::from_secs(30));
}
