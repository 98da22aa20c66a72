//! Accounting through the real HTTP path: quotes at create and estimate, budgets refusing
//! with 402 and storing nothing (also under 200 concurrent creates, on SQLite in-process and
//! on PostgreSQL across two replica processes, whose `/metrics` report their batches of
//! creates), settlement at the measured cost, nothing
//! charged for a cancelled request, and the usage report in JSON and CSV.

use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::{Value, json};
use vidgate_domain::pricing::Credits;
use vidgate_store::{KeyBudget, Store};

use crate::helpers::{TestApp, small_request};

fn credits(c: f64) -> Credits {
    Credits::from_credits(c).unwrap()
}

/// Gives the key named `name` a budget and a top-up of `top_up` credits.
async fn fund(store: &dyn Store, name: &str, budget: KeyBudget, top_up: f64, now: i64) {
    let key = store.key_by_name(name).await.unwrap().unwrap();
    assert!(store.set_key_budget(name, budget).await.unwrap());
    let done = store.top_up(&key.id, credits(top_up), "test", now).await.unwrap();
    assert!(matches!(done, vidgate_store::TopUp::Done(_)), "{done:?}");
}

fn prepaid() -> KeyBudget {
    KeyBudget { prepaid: true, ..KeyBudget::default() }
}

/// Vidu q2 at 720p for 1 s: 0.1 credits at the default prices.
const SMALL_COST: f64 = 0.1;

#[tokio::test]
async fn an_estimate_quotes_like_create_and_stores_nothing() {
    let app = TestApp::spawn().await;
    let r = app
        .http
        .post(app.queue_url("/estimate"))
        .bearer_auth(&app.key)
        .json(&json!({"model_name": "Kling", "model_version": "2.1", "prompt": "x",
            "output_config": {"duration": 10, "resolution": "1080P", "audio_generation": "Enabled"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    // 10 s × 0.20 (1080p) × 1.5 (sound).
    assert_eq!(body["estimate"]["amount"], 3.0, "{body}");
    assert_eq!(body["estimate"]["seconds"], 10.0);
    assert_eq!(
        (body["currency"].as_str(), body["allowed"].as_bool()),
        (Some("credits"), Some(true))
    );
    // The model's default duration (5 s) and resolution when the body leaves them out.
    let r = app
        .http
        .post(app.queue_url("/estimate"))
        .bearer_auth(&app.key)
        .json(&json!({"model_name": "Kling", "model_version": "2.1", "prompt": "x"}))
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        (body["estimate"]["seconds"].as_f64(), body["estimate"]["amount"].as_f64()),
        (Some(5.0), Some(0.5))
    );
    // The same body as create: a model alias names Kling 2.1 here too.
    let r = app
        .http
        .post(app.queue_url("/estimate"))
        .bearer_auth(&app.key)
        .json(&json!({"model": "kling-2.1", "prompt": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let alias: Value = r.json().await.unwrap();
    assert_eq!(alias["estimate"], body["estimate"], "{alias}");
    // The same validation as create, the same 422.
    let r = app
        .http
        .post(app.queue_url("/estimate"))
        .bearer_auth(&app.key)
        .json(&json!({"model_name": "Kling", "model_version": "2.1", "prompt": "x",
            "output_config": {"duration": 99}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let err: Value = r.json().await.unwrap();
    assert_eq!(err["detail"][0]["loc"], json!(["body", "output_config", "duration"]));
    let (_, listed) = app.get_json("/tencent-vod/v1/aigc-video/requests").await;
    assert_eq!(listed["requests"], json!([]), "an estimate stores nothing");
    // A key whose budget cannot cover it hears so, before it tries.
    fund(app.store.as_ref(), "default", prepaid(), 0.05, app.clock_now()).await;
    let r = app
        .http
        .post(app.queue_url("/estimate"))
        .bearer_auth(&app.key)
        .json(&small_request("x"))
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["allowed"], false, "{body}");
    assert!(body["reason"].as_str().unwrap().contains("balance is 0.05 credits"), "{body}");
    assert_eq!(body["budget"]["balance"], 0.05);
}

#[tokio::test]
async fn a_budget_refuses_with_402_stores_nothing_and_a_cancel_costs_nothing() {
    let app = TestApp::spawn().await;
    let now = app.clock_now();
    fund(app.store.as_ref(), "default", prepaid(), 2.5 * SMALL_COST, now).await;
    let a = app.create(&small_request("one")).await;
    let b = app.create(&small_request("two")).await;
    let (status, _, body) = app.post_create(&small_request("three")).await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED, "{body}");
    assert_eq!(body["error_type"], "budget_exceeded");
    assert!(body["detail"].as_str().unwrap().contains("top the key up"), "{body}");
    let (_, listed) = app.get_json("/tencent-vod/v1/aigc-video/requests").await;
    assert_eq!(
        listed["requests"].as_array().unwrap().len(),
        2,
        "the refused create stored nothing"
    );

    // Cancelled while queued: the hold comes back, and its cost is 0.
    let (code, _) = app.cancel_as(&app.key, &b).await;
    assert!(code.is_success());
    let status = app.status(&b).await;
    assert_eq!(
        (status["metrics"]["estimate"].as_f64(), status["metrics"]["cost"].as_f64()),
        (Some(0.1), Some(0.0))
    );
    // Which lets the third in.
    let c = app.create(&small_request("three again")).await;
    app.drive_to_completion().await;
    for id in [&a, &c] {
        let (code, _, result) = app.result(id).await;
        assert_eq!(code, StatusCode::OK, "{result}");
        // The sandbox measured a 1 s clip at 720p.
        assert_eq!(result["usage"]["output_seconds"], 1.0, "{result}");
        assert_eq!(result["usage"]["resolution"], "720P");
        assert_eq!(result["cost"], json!({"amount": 0.1, "seconds": 1.0, "basis": "usage"}));
    }
    let balance = app
        .store
        .balance(&app.store.key_by_name("default").await.unwrap().unwrap().id, app.clock_now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(balance.balance, credits(0.05), "2.5 × 0.1 topped up, two charged");

    // The usage report: JSON …
    let (code, usage) = app.get_json("/tencent-vod/v1/usage?group_by=model").await;
    assert_eq!(code, StatusCode::OK, "{usage}");
    assert_eq!(usage["rows"].as_array().unwrap().len(), 1);
    let vidu = &usage["rows"][0];
    assert_eq!(vidu["group"], "Vidu");
    assert_eq!(
        (vidu["requests"].as_i64(), vidu["succeeded"].as_i64(), vidu["released"].as_i64()),
        (Some(3), Some(2), Some(1))
    );
    assert_eq!((vidu["seconds"].as_f64(), vidu["spent"].as_f64()), (Some(2.0), Some(0.2)));
    assert_eq!(usage["budget"]["balance"], 0.05);
    // … and CSV.
    let r = app
        .http
        .get(app.url("/tencent-vod/v1/usage?group_by=day"))
        .bearer_auth(&app.key)
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let csv = r.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "group,requests,succeeded,released,pending,seconds,spent");
    assert!(lines[1].ends_with(",3,2,1,0,2,0.2"), "{csv}");
    // Bad parameters are named.
    let (code, err) = app.get_json("/tencent-vod/v1/usage?from=2026-13-01").await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(err["detail"][0]["loc"], json!(["query", "from"]));
    let (code, err) = app.get_json("/tencent-vod/v1/usage?group_by=week").await;
    assert_eq!(
        (code, &err["detail"][0]["loc"]),
        (StatusCode::UNPROCESSABLE_ENTITY, &json!(["query", "group_by"]))
    );
}

/// Fires `n` creates at once at `bases` (round robin) with `key`; returns how many were
/// accepted and how many refused for the budget.
async fn race(bases: &[String], key: &str, n: usize) -> (usize, usize) {
    let http = reqwest::Client::new();
    let calls = (0..n).map(|i| {
        let (http, url) =
            (http.clone(), format!("{}/tencent-vod/v1/aigc-video", bases[i % bases.len()]));
        async move {
            http.post(url)
                .bearer_auth(key)
                .json(&small_request(&format!("race {i}")))
                .send()
                .await
                .unwrap()
                .status()
        }
    });
    let statuses = futures::future::join_all(calls).await;
    let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    let refused = statuses.iter().filter(|s| **s == StatusCode::PAYMENT_REQUIRED).count();
    assert_eq!(ok + refused, n, "every create was answered 200 or 402: {statuses:?}");
    (ok, refused)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_creates_against_a_budget_for_fifty_accept_exactly_fifty() {
    let app = TestApp::spawn().await;
    fund(app.store.as_ref(), "default", prepaid(), 50.0 * SMALL_COST, app.clock_now()).await;
    let (ok, refused) = race(std::slice::from_ref(&app.base), &app.key, 200).await;
    assert_eq!((ok, refused), (50, 150));
    let id = app.store.key_by_name("default").await.unwrap().unwrap().id;
    let balance = app.store.balance(&id, app.clock_now()).await.unwrap().unwrap();
    assert_eq!(balance.balance, Credits::ZERO, "never negative");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_two_replicas_share_one_budget_exactly() {
    let Some(admin) = vidgate_store::postgres::testing::test_url() else { return };
    let (db_url, _) = crate::replicas::fresh_database(&admin).await;
    let dir = tempfile::tempdir().unwrap();
    const KEY: &str = "budget-key-0123456789abcdef";
    // No create rate limit: the race is about the budget.
    let env = [
        ("DATABASE_URL", db_url.as_str()),
        ("VIDGATE_BOOTSTRAP_KEY", KEY),
        ("VIDGATE_LIMITS__CREATE_RATE", "0"),
    ];
    let a = crate::process::Server::start(dir.path(), &env);
    let b = crate::process::Server::start(dir.path(), &env);
    let store: Arc<dyn Store> =
        Arc::new(vidgate_store::SqlStore::connect_postgres(&db_url, 2).await.unwrap());
    let now = chrono::Utc::now().timestamp_millis();
    fund(store.as_ref(), "bootstrap", prepaid(), 50.0 * SMALL_COST, now).await;
    let (ok, refused) = race(&[a.base.clone(), b.base.clone()], KEY, 200).await;
    assert_eq!((ok, refused), (50, 150));
    let id = store.key_by_name("bootstrap").await.unwrap().unwrap().id;
    let balance = store.balance(&id, now).await.unwrap().unwrap();
    assert_eq!(balance.balance, Credits::ZERO, "never negative");
    let sum: Credits =
        store.ledger(Some(&id), 0, 10_000).await.unwrap().iter().map(|e| e.amount).sum();
    assert_eq!(sum, balance.balance, "the balance is its ledger's sum");
    committers_report_their_batches(&[a.base.clone(), b.base.clone()], 200).await;
}

/// Each replica's `/metrics` reports its committer's batches of creates: together they held
/// the `creates` made, each batch ended one of the named ways, and the one-statement batches'
/// phases were timed (the connection, the read, the statement).
async fn committers_report_their_batches(bases: &[String], creates: u64) {
    let http = reqwest::Client::new();
    let (mut held, mut batches, mut by_way) = (0.0, 0.0, 0.0);
    let mut phases = [0.0; 3];
    for base in bases {
        let text = http.get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap();
        let sample = |series: &str| -> f64 {
            text.lines()
                .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
                .unwrap_or(0.0)
        };
        let count = sample("vidgate_store_create_batch_size_count");
        assert!(count >= 1.0, "{base} committed no batch:\n{text}");
        assert_eq!(sample("vidgate_store_create_batch_size_bucket{le=\"256\"}"), count);
        held += sample("vidgate_store_create_batch_size_sum");
        batches += count;
        for way in ["one_statement", "transaction", "rerun_locked", "failed"] {
            by_way += sample(&format!("vidgate_store_create_batch_seconds_count{{way=\"{way}\"}}"));
        }
        for (i, phase) in ["connection", "read", "statement"].iter().enumerate() {
            phases[i] += sample(&format!(
                "vidgate_store_create_batch_phase_seconds_count{{phase=\"{phase}\"}}"
            ));
        }
    }
    assert_eq!(held, creates as f64, "every create was in one batch");
    assert_eq!(by_way, batches, "every batch ended one of the named ways");
    let [connection, read, statement] = phases;
    assert!(connection >= read && read >= statement && statement >= 1.0, "{phases:?}");
}

#[tokio::test]
async fn max_running_per_key_keeps_a_high_priority_key_from_taking_every_slot() {
    let app = TestApp::spawn_with(|c| {
        c.accounting.max_running_per_key = 1;
        c.sandbox.concurrency = 4;
    })
    .await;
    let other = app.new_key("other").await;
    let mut urgent = small_request("urgent");
    urgent["tasks_priority"] = json!(10);
    let greedy: Vec<String> = futures::future::join_all((0..3).map(|_| app.create(&urgent))).await;
    let (code, _, handle) = app.post_create_as(&other, &small_request("patient")).await;
    assert_eq!(code, StatusCode::OK);
    let patient = handle["request_id"].as_str().unwrap().to_owned();
    app.dispatch_until_idle().await;
    let in_queue = |s: &Value| s["status"] == "IN_QUEUE";
    let greedy_waiting = {
        let mut n = 0;
        for id in &greedy {
            n += usize::from(in_queue(&app.status(id).await));
        }
        n
    };
    assert_eq!(greedy_waiting, 2, "one slot for the greedy key, though slots were free");
    let (_, s) = app.status_as(&other, &patient, false).await;
    assert!(!in_queue(&s), "the other key's request passed the greedy key's: {s}");
    // Once the running ones end, the greedy key's next one starts.
    app.drive_to_completion().await;
    for id in &greedy {
        assert_eq!(app.status(id).await["status"], "COMPLETED");
    }
}
