//! vidgate with the Tencent provider against the upstream emulator, end to end through the
//! real HTTP path on both sides, on one manual clock.

use std::sync::Arc;
use std::time::Duration;
use vidgate_domain::Pool;

use reqwest::StatusCode;
use serde_json::{Value, json};
use vidgate_domain::{Clock, ManualClock};
use vidgate_emulator::Faults;
use vidgate_providers::SubmitJob;
use vidgate_workers::Worker;

use crate::helpers::{TestApp, ffprobe};
use crate::upstream::{SUB_APP, Upstream, account, drive, use_upstream};

fn body(prompt: &str) -> Value {
    json!({"model_name": "Vidu", "model_version": "q2", "prompt": prompt, "output_config": {"duration": 2, "resolution": "720P"}})
}

async fn setup(
    emu: impl FnOnce(&mut vidgate_emulator::EmulatorConfig),
    app: impl FnOnce(&mut vidgate::config::Config),
) -> (TestApp, Upstream) {
    let clock = Arc::new(ManualClock::starting_now());
    let upstream = Upstream::start(clock.clone(), emu).await;
    let app = TestApp::spawn_with_clock(clock, |c| {
        use_upstream(c, &upstream);
        app(c);
    })
    .await;
    (app, upstream)
}

#[tokio::test]
async fn a_request_goes_upstream_and_comes_back_with_the_upstreams_file() {
    let (app, upstream) = setup(|_| {}, |_| {}).await;
    let mut b = body("a lighthouse at dusk");
    b["session_context"] = json!("order-7");
    let id = app.create(&b).await;
    drive(&app, &upstream, 60).await;
    let (code, _, result) = app.result(&id).await;
    assert_eq!(code, StatusCode::OK, "{result}");
    let video = &result["video"];
    let url = video["url"].as_str().unwrap();
    assert!(url.starts_with(&format!("{}/files/{SUB_APP}-AigcVideoTask-", upstream.url)), "{url}");
    assert!(video["expires_at"].as_str().is_some_and(|t| t.ends_with('Z')));
    assert_eq!((video["width"].as_u64(), video["height"].as_u64()), (Some(1280), Some(720)));
    assert_eq!(result["session_context"], "order-7");
    // The upstream's usage, and the cost from it at the default 720p price (0.10 a second).
    assert_eq!(result["usage"]["output_seconds"], 2.0);
    assert_eq!(result["usage"]["resolution"], "720P");
    assert_eq!(result["cost"], json!({"amount": 0.2, "seconds": 2.0, "basis": "usage"}));
    let status = app.status(&id).await;
    assert_eq!(
        (status["metrics"]["estimate"].as_f64(), status["metrics"]["cost"].as_f64()),
        (Some(0.2), Some(0.2))
    );
    assert!(
        result["upstream_task_id"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{SUB_APP}-AigcVideoTask-"))
    );
    let path = app.download(url, "upstream.mp4").await;
    let probe = ffprobe(&path);
    assert_eq!((probe.video_codec.as_str(), probe.width, probe.height), ("h264", 1280, 720));
    let stats = upstream.emulator.stats();
    assert_eq!(
        stats.accepted_per_session.get(&id),
        Some(&1),
        "one upstream job, named by the request id"
    );
    assert_eq!(stats.create_accepted, 1);
    let logs = app.logs(&id).await;
    assert!(
        logs.iter().any(|l| l.starts_with("dispatched to tencent account default")),
        "{logs:?}"
    );
    // Every upstream call is counted by action and outcome (read from the recorder directly:
    // scraping /metrics here would race ops.rs over the shared scrape-time gauges).
    let metrics = vidgate_api::metrics::install().expect("a recorder").render();
    for action in ["CreateAigcVideoTask", "DescribeTaskDetail"] {
        let series = format!(
            "vidgate_upstream_calls_total{{provider=\"tencent\",action=\"{action}\",code=\"ok\"}}"
        );
        assert!(metrics.contains(&series), "{series} missing");
    }
    assert!(metrics.contains("vidgate_upstream_call_duration_seconds_bucket{provider=\"tencent\""));
}

async fn fails_with(
    app: &TestApp,
    upstream: &Upstream,
    b: Value,
    error_type: &str,
    result_status: StatusCode,
) {
    let id = app.create(&b).await;
    drive(app, upstream, 60).await;
    let s = app.status(&id).await;
    assert_eq!(s["status"], "COMPLETED");
    assert_eq!(s["error_type"], error_type, "{s}");
    assert!(s["error"].as_str().is_some_and(|e| !e.is_empty()));
    let (code, headers, _) = app.result(&id).await;
    assert_eq!(code, result_status);
    assert_eq!(headers["x-fal-error-type"], error_type);
}

#[tokio::test]
async fn fatal_upstream_errors_end_the_request_with_the_upstream_code() {
    // Invalid parameters (vidgate's own rules off, so the upstream is the one to refuse).
    let (app, up) = setup(|_| {}, |c| c.rules.strict_model_rules = false).await;
    let mut b = body("too long");
    b["output_config"]["duration"] = json!(99);
    fails_with(&app, &up, b, "InvalidParameterValue", StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(up.emulator.stats().create_accepted, 0);
    // Content policy (a task-level failure).
    fails_with(
        &app,
        &up,
        body("a scene with emulator-moderation-test"),
        "InvalidParameter.VoilationContent",
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    // Wrong secret key, unknown secret id, foreign SubAppId.
    let (app, up) =
        setup(|_| {}, |c| c.tencent.secret_key = vidgate::config::Secret::new("not-the-key")).await;
    fails_with(&app, &up, body("x"), "AuthFailure.SignatureFailure", StatusCode::BAD_GATEWAY).await;
    let (app, up) = setup(|_| {}, |c| c.tencent.secret_id = "AKIDnobody".into()).await;
    fails_with(&app, &up, body("x"), "AuthFailure.SecretIdNotFound", StatusCode::BAD_GATEWAY).await;
    let (app, up) = setup(|_| {}, |c| c.tencent.sub_app_id = 1).await;
    fails_with(
        &app,
        &up,
        body("x"),
        "InvalidParameterValue.SubAppId",
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    // The model fails upstream.
    let (app, up) =
        setup(|e| e.faults = Faults { task_failure: 1.0, ..Faults::default() }, |_| {}).await;
    fails_with(&app, &up, body("x"), "ModelGenerateFailed", StatusCode::BAD_GATEWAY).await;
}

#[tokio::test]
async fn under_a_high_rate_of_retryable_faults_every_request_ends_once_with_one_upstream_job() {
    let faults = Faults {
        internal_error: 0.15,
        rate_limited: 0.1,
        http_5xx: 0.1,
        drop: 0.15,
        slow: 0.03,
        slow_delay: Some(Duration::from_millis(1300)),
        seed: 11,
        ..Faults::default()
    };
    let (app, up) = setup(
        |e| {
            e.faults = faults;
            e.accounts[0].concurrency = 2;
        },
        |c| {
            c.tencent.concurrency = 2;
            c.queue.max_submit_attempts = 50;
            c.queue.retry_max = Duration::from_secs(4);
        },
    )
    .await;
    let mut ids = Vec::new();
    for i in 0..10 {
        ids.push(app.create(&body(&format!("faulty {i}"))).await);
    }
    drive(&app, &up, 600).await;
    let stats = up.emulator.stats();
    assert!(stats.faults_injected >= 10, "faults were injected: {stats:?}");
    for id in &ids {
        let s = app.status(id).await;
        assert_eq!(s["status"], "COMPLETED");
        assert_eq!(s["error"], Value::Null, "{id}: {s}");
        assert_eq!(
            stats.accepted_per_session.get(id),
            Some(&1),
            "{id} went upstream {:?} times",
            stats.accepted_per_session.get(id)
        );
    }
    assert_eq!(stats.create_accepted, ids.len() as u64, "no extra billable jobs: {stats:?}");
}

#[tokio::test]
async fn a_crash_between_create_and_record_is_reconciled_without_a_second_job() {
    let (app, up) = setup(|_| {}, |c| c.queue.lease = Duration::from_secs(5)).await;
    let id = app.create(&body("crash in between")).await;
    // A dispatcher claims the task and the upstream creates the job; then the process "dies"
    // before recording the upstream id: nothing but the lease is left.
    let slots = vec![vidgate_store::Slot { account: "default".into(), limit: 1 }];
    let now = app.clock.now_ms();
    let claimed = app
        .store
        .claim_next_queued(Pool::Tencent, &slots, "doomed-worker", now, now + 5000)
        .await
        .unwrap()
        .unwrap();
    let lost = app
        .provider
        .submit(SubmitJob {
            request_id: claimed.id,
            account: "default",
            request: &claimed.request,
            attempt: 1,
        })
        .await
        .unwrap();
    // The lease runs out; the reaper gives the task back to the queue; a live dispatcher
    // resubmits with the same SessionId, is refused as a duplicate, and finds the job.
    app.advance(6000);
    app.reap().await;
    drive(&app, &up, 60).await;
    let s = app.status(&id).await;
    assert_eq!(s["error"], Value::Null, "{s}");
    assert_eq!(
        s["upstream_task_id"],
        lost.upstream_task_id.as_str(),
        "the job the lost attempt created"
    );
    let stats = up.emulator.stats();
    assert_eq!(stats.accepted_per_session.get(&id), Some(&1));
    assert_eq!(stats.duplicate_sessions, 1, "the resubmission was refused upstream");
    assert_eq!(stats.create_accepted, 1);
    assert!(app.logs(&id).await.iter().any(|l| l.contains("lease expired")));
}

#[tokio::test]
async fn pulled_events_complete_a_task_without_waiting_for_its_next_poll() {
    let (app, up) = setup(
        |_| {},
        |c| {
            c.tencent.events = vidgate_providers::tencent::EventMode::Pull;
            // Polls so rare that only the event can finish the task within this test.
            c.tencent.poll_initial = Duration::from_secs(3600);
            c.tencent.poll_max = Duration::from_secs(3600);
        },
    )
    .await;
    let id = app.create(&body("evented")).await;
    app.dispatch_until_idle().await;
    for _ in 0..5 {
        app.advance(1000);
        up.emulator.step().await;
    }
    assert_eq!(app.poll_until_idle().await, 0, "no poll is due");
    let before = up.emulator.stats().describe_calls;
    assert_eq!(app.workers.events.run_once().await.unwrap(), vidgate_workers::Outcome::Worked);
    assert_eq!(app.poll_until_idle().await, 1, "the event made the task due");
    let s = app.status(&id).await;
    assert_eq!((s["status"].as_str(), s["error"].as_str()), (Some("COMPLETED"), None), "{s}");
    let stats = up.emulator.stats();
    assert_eq!(
        stats.describe_calls, before,
        "the event answered; no DescribeTaskDetail was needed"
    );
    assert_eq!(stats.events_confirmed, 1);
    // A second pull finds nothing (confirmed events are gone) and a late poll changes nothing.
    assert_eq!(app.workers.events.run_once().await.unwrap(), vidgate_workers::Outcome::Idle);
}

#[tokio::test]
async fn push_callbacks_complete_a_task_and_bad_signatures_are_refused() {
    let clock = Arc::new(ManualClock::starting_now());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let up = Upstream::start(clock.clone(), |e| {
        e.push_url = Some(format!("http://127.0.0.1:{port}/callbacks/tencent-vod"));
        e.push_sign_key = Some("push-key".into());
    })
    .await;
    let app = TestApp::spawn_with_clock(clock, |c| {
        use_upstream(c, &up);
        c.server.listen = format!("127.0.0.1:{port}").parse().unwrap();
        c.tencent.events = vidgate_providers::tencent::EventMode::Push;
        c.tencent.callback_sign_key = vidgate::config::Secret::new("push-key");
        c.tencent.poll_initial = Duration::from_secs(3600);
        c.tencent.poll_max = Duration::from_secs(3600);
    })
    .await;
    let id = app.create(&body("pushed")).await;
    app.dispatch_until_idle().await;
    for _ in 0..5 {
        app.advance(1000);
        up.emulator.step().await;
    }
    // The emulator posts the callback on its own; wait for its answer (bounded).
    for _ in 0..100 {
        if up.emulator.stats().pushes_sent == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(up.emulator.stats().pushes_sent, 1);
    assert_eq!(app.poll_until_idle().await, 1);
    assert_eq!(app.status(&id).await["error"], Value::Null);
    let r = app
        .http
        .post(app.url("/callbacks/tencent-vod?Sign=00&T=9999999999"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn several_accounts_each_run_one_task_and_share_one_queue() {
    let clock = Arc::new(ManualClock::starting_now());
    let up = Upstream::start(clock.clone(), |e| {
        e.accounts = vec![
            vidgate_emulator::EmulatorAccount {
                secret_id: "AKIDtestUpstreama".into(),
                secret_key: "test-upstream-secret-key-0123456789a".into(),
                sub_app_id: 1001,
                concurrency: 1,
            },
            vidgate_emulator::EmulatorAccount {
                secret_id: "AKIDtestUpstreamb".into(),
                secret_key: "test-upstream-secret-key-0123456789b".into(),
                sub_app_id: 1002,
                concurrency: 1,
            },
        ];
    })
    .await;
    let app = TestApp::spawn_with_clock(clock, |c| {
        use_upstream(c, &up);
        c.tencent.secret_id = String::new();
        c.tencent.accounts = vec![account("a", 1001, &up), account("b", 1002, &up)];
    })
    .await;
    let mut ids = Vec::new();
    for i in 0..4 {
        ids.push(app.create(&body(&format!("multi {i}"))).await);
    }
    assert_eq!(app.dispatch_until_idle().await, 2);
    assert_eq!(
        app.store.slots_in_use(Pool::Tencent).await.unwrap(),
        vec![("a".into(), 1), ("b".into(), 1)]
    );
    assert_eq!(app.status(&ids[2]).await["queue_position"], 0);
    assert_eq!(app.status(&ids[3]).await["queue_position"], 1);
    drive(&app, &up, 120).await;
    for id in &ids {
        assert_eq!(app.status(id).await["error"], Value::Null);
    }
    let stats = up.emulator.stats();
    assert_eq!(stats.create_accepted, 4);
}

/// The deadline passes while the upstream still has the job: the caller hears `timeout`, and
/// the job keeps its hold and its slot while vidgate follows it; it finishes upstream later,
/// the upstream bills it, and so does vidgate (once, settling the hold), while the request
/// stays failed.
#[tokio::test]
async fn a_job_that_succeeds_after_the_deadline_is_charged_as_the_upstream_bills_it() {
    let (app, upstream) = setup(
        |e| e.processing_time = Duration::from_secs(30),
        |c| c.queue.request_deadline = Duration::from_secs(10),
    )
    .await;
    let id = app.create(&body("slow upstream")).await;
    let mut timed_out = false;
    for _ in 0..60 {
        app.dispatch_until_idle().await;
        upstream.emulator.step().await;
        app.poll_until_idle().await;
        app.reap().await;
        let s = app.status(&id).await;
        if !timed_out && s["status"] == "COMPLETED" {
            assert_eq!(s["error_type"], "timeout", "{s}");
            assert_eq!(s["metrics"]["cost"], Value::Null, "not known while followed: {s}");
            let (_, usage) = app.get_json("/tencent-vod/v1/usage").await;
            assert_eq!(usage["total"]["pending"].as_i64(), Some(1), "still held: {usage}");
            assert_eq!(
                app.store.slots_in_use(Pool::Tencent).await.unwrap(),
                vec![("default".into(), 1)],
                "the job still holds its upstream slot"
            );
            timed_out = true;
        }
        app.advance(1000);
    }
    assert!(timed_out);
    let s = app.status(&id).await;
    assert_eq!(
        (s["status"].as_str(), s["error_type"].as_str()),
        (Some("COMPLETED"), Some("timeout"))
    );
    assert_eq!(
        s["metrics"]["cost"].as_f64(),
        Some(0.2),
        "charged for the 2 s the upstream made: {s}"
    );
    let logs = app.logs(&id).await;
    assert!(
        logs.iter().any(|l| l.contains("after its request had ended: charged 0.2 credits")),
        "{logs:?}"
    );
    let (_, usage) = app.get_json("/tencent-vod/v1/usage").await;
    assert_eq!(usage["total"]["spent"].as_f64(), Some(0.2), "{usage}");
    assert_eq!(
        (usage["total"]["succeeded"].as_i64(), usage["total"]["released"].as_i64()),
        (Some(1), Some(0)),
        "settled, never released: {usage}"
    );
    assert!(app.store.slots_in_use(Pool::Tencent).await.unwrap().is_empty(), "the slot is free");
}

/// An upstream that bills more seconds than it was asked for: the customer is charged its
/// hold and no more (a prepaid balance never goes below zero), and the operator sees the
/// excess as an `overage` ledger row naming what was left uncharged.
#[tokio::test]
async fn a_job_billed_above_its_hold_is_charged_the_hold_and_the_excess_shown_to_the_operator() {
    let (app, upstream) = setup(|e| e.extra_billed_seconds = 3, |_| {}).await;
    let key = app.new_key("over").await;
    let store = app.store.clone();
    let record = store.key_by_name("over").await.unwrap().unwrap();
    let prepaid = vidgate_store::KeyBudget { prepaid: true, ..Default::default() };
    assert!(store.set_key_budget("over", prepaid).await.unwrap());
    let exact = vidgate_domain::pricing::Credits::from_credits(0.2).unwrap();
    let topped = store.top_up(&record.id, exact, "one request", app.clock_now()).await.unwrap();
    assert!(matches!(topped, vidgate_store::TopUp::Done(_)), "{topped:?}");
    // 2 s of Vidu q2 at 720p: held 0.2; the upstream bills 5 s, worth 0.5.
    let (code, _, handle) = app.post_create_as(&key, &body("billed long")).await;
    assert_eq!(code, StatusCode::OK, "{handle}");
    let id = handle["request_id"].as_str().unwrap().to_owned();
    drive(&app, &upstream, 60).await;
    let (_, s) = app.status_as(&key, &id, false).await;
    assert_eq!(s["status"], "COMPLETED", "{s}");
    assert_eq!(s["metrics"]["cost"].as_f64(), Some(0.2), "charged its hold: {s}");
    assert_eq!(upstream.emulator.jobs()[0].output_seconds, Some(5), "billed 2 + 3 s");
    let (code, ledger) = app.get_json("/admin/ledger?key=over").await;
    assert_eq!(code, StatusCode::OK, "{ledger}");
    let rows: Vec<(&str, f64, Option<f64>)> = ledger["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (e["kind"].as_str().unwrap(), e["amount"].as_f64().unwrap(), e["uncharged"].as_f64())
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("topup", 0.2, None),
            ("hold", -0.2, None),
            ("settle", 0.0, None),
            ("overage", 0.0, Some(0.3))
        ],
        "{ledger}"
    );
    let balance = store.balance(&record.id, app.clock_now()).await.unwrap().unwrap();
    assert_eq!(balance.balance, vidgate_domain::pricing::Credits::ZERO, "never below zero");
}

/// A request cancelled once the upstream has it runs on; when the upstream then fails the
/// job, its hold is released: the customer pays nothing, the slot is freed, a prepaid
/// balance is whole again.
#[tokio::test]
async fn a_request_cancelled_after_dispatch_that_the_upstream_fails_costs_nothing() {
    let (app, upstream) =
        setup(|e| e.faults = Faults { task_failure: 1.0, ..Faults::default() }, |_| {}).await;
    let key = app.new_key("cxf").await;
    let store = app.store.clone();
    let record = store.key_by_name("cxf").await.unwrap().unwrap();
    let prepaid = vidgate_store::KeyBudget { prepaid: true, ..Default::default() };
    assert!(store.set_key_budget("cxf", prepaid).await.unwrap());
    let exact = vidgate_domain::pricing::Credits::from_credits(0.2).unwrap();
    let topped = store.top_up(&record.id, exact, "one request", app.clock_now()).await.unwrap();
    assert!(matches!(topped, vidgate_store::TopUp::Done(_)), "{topped:?}");
    let (code, _, handle) = app.post_create_as(&key, &body("cancelled then failed")).await;
    assert_eq!(code, StatusCode::OK, "{handle}");
    let id = handle["request_id"].as_str().unwrap().to_owned();
    app.dispatch_until_idle().await;
    assert_eq!(upstream.emulator.jobs().len(), 1, "the upstream has it");
    let (code, cancelled) = app.cancel_as(&key, &id).await;
    assert_eq!(
        (code, cancelled["status"].as_str()),
        (StatusCode::ACCEPTED, Some("CANCELLATION_REQUESTED"))
    );
    let (_, s) = app.status_as(&key, &id, false).await;
    assert_eq!(s["status"], "IN_PROGRESS", "it runs on: {s}");
    assert_eq!(store.slots_in_use(Pool::Tencent).await.unwrap(), vec![("default".into(), 1)]);
    drive(&app, &upstream, 60).await;
    let (_, s) = app.status_as(&key, &id, false).await;
    assert_eq!(s["status"], "COMPLETED", "{s}");
    assert_ne!(s["error_type"], "request_cancelled", "the upstream's end, not the cancel: {s}");
    let (code, ledger) = app.get_json("/admin/ledger?key=cxf").await;
    assert_eq!(code, StatusCode::OK, "{ledger}");
    let kinds: Vec<&str> =
        ledger["entries"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["topup", "hold", "release"], "{ledger}");
    let balance = store.balance(&record.id, app.clock_now()).await.unwrap().unwrap();
    assert_eq!(
        (balance.balance, balance.spent_total),
        (exact, vidgate_domain::pricing::Credits::ZERO)
    );
    assert!(store.slots_in_use(Pool::Tencent).await.unwrap().is_empty(), "the slot is free");
}
