//! Forged completions: the callback route exists only in push mode, needs a valid signature
//! with a short-lived `T`, and even a valid event only makes the task it names due for a poll
//! that asks the upstream. No posted body ever becomes a result.

use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use vidgate_domain::{Clock, ManualClock};

use vidgate_providers::tencent::EventMode;

use crate::helpers::TestApp;
use crate::upstream::{Upstream, use_upstream};

const SIGN_KEY: &str = "push-sign-key-0042";
const MALWARE: &str = "https://attacker.example/malware.mp4";

fn body(prompt: &str) -> Value {
    json!({"model_name": "Vidu", "model_version": "q2", "prompt": prompt, "output_config": {"duration": 2, "resolution": "720P"}})
}

fn forged(task_id: &str, session_id: &str) -> Value {
    json!({"EventType": "AigcVideoTaskComplete", "AigcVideoCompleteEvent": {
        "TaskId": task_id, "Status": "FINISH", "ErrCode": 0, "SessionId": session_id,
        "Output": {"FileInfos": [{"FileUrl": MALWARE, "FileType": "mp4", "StorageMode": "Temporary"}],
                   "Usage": {"OutputSeconds": 2, "Padding": "x".repeat(1000)}}}})
}

async fn setup(events: EventMode) -> (TestApp, Upstream) {
    let clock = Arc::new(ManualClock::starting_now());
    let up = Upstream::start(clock.clone(), |e| e.accounts[0].concurrency = 2).await;
    let app = TestApp::spawn_with_clock(clock, |c| {
        use_upstream(c, &up);
        c.tencent.events = events;
        c.tencent.concurrency = 2;
        if events == EventMode::Push {
            c.tencent.callback_sign_key = vidgate::config::Secret::new(SIGN_KEY);
        }
        // Polls so rare that only an event could make one due within the test.
        c.tencent.poll_initial = Duration::from_secs(3600);
        c.tencent.poll_max = Duration::from_secs(3600);
    })
    .await;
    (app, up)
}

/// A running request and its upstream task id.
async fn running(app: &TestApp) -> (String, String) {
    let id = app.create(&body("target of a forgery")).await;
    assert_eq!(app.dispatch_until_idle().await, 1);
    let s = app.status(&id).await;
    (id, s["upstream_task_id"].as_str().expect("submitted upstream").to_owned())
}

async fn post(app: &TestApp, query: &str, event: &Value) -> (StatusCode, Value) {
    let r = app
        .http
        .post(app.url(&format!("/callbacks/tencent-vod{query}")))
        .json(event)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn signed(app: &TestApp, ahead_secs: i64) -> String {
    let t = (app.clock.now_ms() / 1000 + ahead_secs).to_string();
    format!("?Sign={}&T={t}", vidgate_providers::tencent::callback_sign(SIGN_KEY, &t))
}

/// Drives the request to its end and checks the result is the upstream's own file.
async fn ends_with_the_upstreams_file(app: &TestApp, up: &Upstream, id: &str) {
    // Polls are an hour apart here: step the upstream and poll, an hour at a time.
    for _ in 0..6 {
        if app.status(id).await["status"] == "COMPLETED" {
            break;
        }
        app.advance(3_600_000);
        up.emulator.step().await;
        app.poll_until_idle().await;
        app.dispatch_until_idle().await;
    }
    let (code, _, result) = app.result(id).await;
    assert_eq!(code, StatusCode::OK, "{result}");
    let url = result["video"]["url"].as_str().unwrap();
    assert!(url.starts_with(&up.url), "the result is the upstream's file, not {url}");
    assert!(!result.to_string().contains("attacker.example"));
}

#[tokio::test]
async fn a_forged_event_in_pull_mode_finds_no_route() {
    let (app, up) = setup(EventMode::Pull).await;
    let (id, task_id) = running(&app).await;
    let (code, _) = post(&app, "", &forged(&task_id, &id)).await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    assert_eq!(app.poll_until_idle().await, 0, "nothing was made due");
    assert_eq!(app.status(&id).await["status"], "IN_PROGRESS");
    ends_with_the_upstreams_file(&app, &up, &id).await;
}

#[tokio::test]
async fn push_events_without_a_valid_recent_signature_are_refused() {
    let (app, up) = setup(EventMode::Push).await;
    let (id, task_id) = running(&app).await;
    let event = forged(&task_id, &id);
    let t = (app.clock.now_ms() / 1000 + 600).to_string();
    for query in [
        String::new(),
        format!("?T={t}"),
        format!("?Sign=00000000000000000000000000000000&T={t}"),
        format!("?Sign={}&T={t}", vidgate_providers::tencent::callback_sign("wrong-key", &t)),
        signed(&app, -5),        // expired
        signed(&app, 24 * 3600), // valid far longer than the upstream ever signs for
        format!("?Sign=00&T={}", i64::MAX),
        "?Sign=00&T=-9223372036854775808".to_owned(),
    ] {
        let (code, body) = post(&app, &query, &event).await;
        assert_eq!(code, StatusCode::UNAUTHORIZED, "{query}: {body}");
    }
    assert_eq!(app.poll_until_idle().await, 0, "nothing was made due");
    ends_with_the_upstreams_file(&app, &up, &id).await;
}

#[tokio::test]
async fn a_validly_signed_event_only_makes_its_own_task_due_and_the_upstream_decides() {
    let (app, up) = setup(EventMode::Push).await;
    let (id, task_id) = running(&app).await;
    let (other, other_task) = running(&app).await;
    // The ids of two different tasks: ignored.
    let (code, answer) = post(&app, &signed(&app, 600), &forged(&task_id, &other)).await;
    assert_eq!((code, answer["recorded"].as_i64()), (StatusCode::OK, Some(0)), "{answer}");
    let (_, answer) = post(&app, &signed(&app, 600), &forged(&other_task, &id)).await;
    assert_eq!(answer["recorded"], 0);
    // No SessionId at all: ignored.
    let mut anonymous = forged(&task_id, &id);
    anonymous["AigcVideoCompleteEvent"].as_object_mut().unwrap().remove("SessionId");
    let (_, answer) = post(&app, &signed(&app, 600), &anonymous).await;
    assert_eq!(answer["recorded"], 0);
    assert_eq!(app.poll_until_idle().await, 0);
    // Matching ids: the task is polled at once, but the upstream says it is still working.
    let describes = up.emulator.stats().describe_calls;
    let (_, answer) = post(&app, &signed(&app, 600), &forged(&task_id, &id)).await;
    assert_eq!(answer["recorded"], 1);
    assert_eq!(app.poll_until_idle().await, 1);
    assert_eq!(up.emulator.stats().describe_calls, describes + 1, "the poll asked the upstream");
    let s = app.status(&id).await;
    assert_eq!(s["status"], "IN_PROGRESS", "{s}");
    ends_with_the_upstreams_file(&app, &up, &id).await;
    ends_with_the_upstreams_file(&app, &up, &other).await;
}

#[tokio::test]
async fn large_callback_bodies_are_refused_before_they_are_read_whole() {
    let (app, _up) = setup(EventMode::Push).await;
    let huge = json!({"EventType": "AigcVideoTaskComplete", "Pad": "x".repeat(1_000_000)});
    let (code, _) = post(&app, &signed(&app, 600), &huge).await;
    assert_eq!(code, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn push_mode_without_a_sign_key_does_not_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = crate::helpers::test_config(dir.path());
    config.provider.kind = vidgate::config::ProviderKind::Tencent;
    config.tencent.secret_id = "AKIDexample".into();
    config.tencent.secret_key = vidgate::config::Secret::new("example-secret");
    config.tencent.sub_app_id = 1;
    config.tencent.events = vidgate_providers::tencent::EventMode::Push;
    let options = vidgate::startup::BuildOptions {
        workers: vidgate::startup::WorkerMode::Manual,
        announce_first_key: false,
        ..Default::default()
    };
    let Err(e) = vidgate::startup::Application::build(config, options).await else {
        panic!("push mode started without a sign key");
    };
    assert!(format!("{e:#}").contains("tencent.callback_sign_key"), "{e:#}");
}

fn rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    kb / 1024.0
}

/// The bound this test states: what a flood of large callbacks may add to the process.
const RSS_GROWTH_BOUND_MB: f64 = 40.0;

#[tokio::test]
async fn a_flood_of_large_callbacks_leaves_memory_within_a_bound() {
    let dir = tempfile::tempdir().unwrap();
    let server = crate::process::Server::start(
        dir.path(),
        &[
            ("VIDGATE_BOOTSTRAP_KEY", "callback-flood-key-0123456789"),
            ("VIDGATE_PROVIDER", "tencent"),
            ("TENCENTCLOUD_SECRET_ID", "AKIDflood"),
            ("TENCENTCLOUD_SECRET_KEY", "flood-secret-key"),
            ("VIDGATE_TENCENT_SUBAPP_ID", "1"),
            // Nothing listens there: this test makes no upstream call.
            ("VIDGATE_TENCENT_ENDPOINT", "http://127.0.0.1:9"),
            ("VIDGATE_TENCENT__EVENTS", "push"),
            ("VIDGATE_TENCENT__CALLBACK_SIGN_KEY", SIGN_KEY),
        ],
    );
    let http = reqwest::Client::new();
    let url = format!("{}/callbacks/tencent-vod", server.base);
    let before = rss_mb(server.pid());
    // As the review did: 30 unauthenticated posts of 0.96 MB of "Usage".
    let big = json!({"EventType": "AigcVideoTaskComplete", "AigcVideoCompleteEvent": {
        "TaskId": "t", "SessionId": "s", "Output": {"Usage": {"X": "u".repeat(960_000)}}}});
    for _ in 0..30 {
        // Refused at the limit: a 413, or the connection closed while the client still sends.
        if let Ok(r) = http.post(&url).json(&big).send().await {
            assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
        }
    }
    // And 500 correctly signed events just under the limit, each naming a different task (on
    // a fresh client: the 413s above close connections the first client may still pool).
    let http = reqwest::Client::new();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    let t = (now.as_secs() + 600).to_string();
    let sign = vidgate_providers::tencent::callback_sign(SIGN_KEY, &t);
    for i in 0..500 {
        let mut event =
            forged(&format!("1-AigcVideoTask-{i}"), &vidgate_domain::RequestId::new().to_string());
        event["AigcVideoCompleteEvent"]["Output"]["Usage"]["Padding"] = json!("p".repeat(60_000));
        let r = http.post(format!("{url}?Sign={sign}&T={t}")).json(&event).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
    let after = rss_mb(server.pid());
    eprintln!("callback flood: RSS {before:.1} MB before, {after:.1} MB after");
    assert!(after - before < RSS_GROWTH_BOUND_MB, "RSS grew from {before:.1} MB to {after:.1} MB");
}

/// Apps (one on SQLite, or two replicas on one PostgreSQL) in push mode with polls at least
/// 2 s apart, on an upstream that takes ten minutes per job.
async fn flood_setup(database_url: Option<String>) -> (Vec<TestApp>, Upstream) {
    let clock = Arc::new(ManualClock::starting_now());
    let up = Upstream::start(clock.clone(), |e| {
        e.processing_time = Duration::from_secs(600);
    })
    .await;
    let replicas = if database_url.is_some() { 2 } else { 1 };
    let mut apps = Vec::new();
    for _ in 0..replicas {
        let url = database_url.clone();
        let app = TestApp::spawn_with_clock(clock.clone(), |c| {
            use_upstream(c, &up);
            c.tencent.events = EventMode::Push;
            c.tencent.callback_sign_key = vidgate::config::Secret::new(SIGN_KEY);
            c.tencent.poll_initial = Duration::from_secs(2);
            c.tencent.poll_max = Duration::from_secs(3600);
            if let Some(url) = url {
                c.store.database_url = vidgate::config::Secret::new(url);
            }
        })
        .await;
        apps.push(app);
    }
    (apps, up)
}

/// A captured callback replayed ten times a second for a minute, to every replica in turn,
/// each replica polling as it goes: at most one upstream status call per poll interval (2 s),
/// and the request goes on as the upstream says.
async fn replays_cost_one_poll_per_interval(apps: &[TestApp], up: &Upstream) {
    let first = &apps[0];
    let (id, task_id) = running(first).await;
    let captured = signed(first, 900);
    let event = forged(&task_id, &id);
    let describes = up.emulator.stats().describe_calls;
    let mut accepted = 0;
    for step in 0..600 {
        let app = &apps[step % apps.len()];
        let (code, answer) = post(app, &captured, &event).await;
        assert_eq!(code, StatusCode::OK, "a genuine signature, replayed: {answer}");
        accepted += answer["recorded"].as_i64().unwrap_or(0);
        for app in apps {
            app.poll_until_idle().await;
        }
        first.advance(100);
    }
    let calls = up.emulator.stats().describe_calls - describes;
    // A replay that would change nothing (the task is already due as soon as it may be)
    // writes nothing; one after each poll makes the next due.
    assert!((10..100).contains(&accepted), "replays taken as events: {accepted}");
    assert!(calls >= 10, "events still bring polls forward: {calls}");
    assert!(calls <= 60 / 2 + 1, "{calls} status calls for 600 replays in 60 s, 2 s apart");
    let s = first.status(&id).await;
    assert_eq!(s["status"], "IN_PROGRESS", "the upstream is still working: {s}");
}

#[tokio::test]
async fn a_flood_of_replayed_callbacks_costs_one_poll_per_interval() {
    let (apps, up) = flood_setup(None).await;
    replays_cost_one_poll_per_interval(&apps, &up).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_replays_to_two_replicas_cost_one_poll_per_interval() {
    let Some(admin) = vidgate_store::postgres::testing::test_url() else { return };
    let (db_url, db_name) = crate::replicas::fresh_database(&admin).await;
    let (apps, up) = flood_setup(Some(db_url)).await;
    replays_cost_one_poll_per_interval(&apps, &up).await;
    drop(apps);
    crate::replicas::drop_database(&admin, &db_name).await;
}
