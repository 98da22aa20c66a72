//! What the first round of accounting built and left untested: the monthly spending limit,
//! `Output.Usage` in the Tencent query envelope, `metrics.usage` in status and listings, the
//! local `vidgate usage` on an empty ledger, and that a settlement cannot be lost between a
//! request's end and its charge (it is written in the same transaction as the end: a failed
//! settlement undoes the end, and the next poll ends and settles it once).

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use vidgate_domain::ManualClock;

use crate::helpers::{TestApp, small_request, split};
use crate::process::vidgate;
use crate::upstream::{Upstream, drive, use_upstream};
use vidgate_workers::Worker;

fn kling(seconds: u32) -> Value {
    json!({"model_name": "Kling", "model_version": "2.1", "prompt": "p",
           "output_config": {"duration": seconds}})
}

#[tokio::test]
async fn a_monthly_limit_refuses_what_would_pass_it_and_says_so() {
    let app = TestApp::spawn().await;
    let r = app
        .http
        .request(Method::POST, app.url("/admin/keys"))
        .bearer_auth(&app.key)
        .json(&json!({"name": "monthly", "budget": {"month_limit": 0.9}}))
        .send()
        .await
        .unwrap();
    let (code, _, created) = split(r).await;
    assert_eq!(code, StatusCode::CREATED, "{created}");
    let key = created["key"].as_str().unwrap().to_owned();
    // 5 s at 720P is 0.5 credits: the first fits under 0.9, the second would pass it.
    let (code, _, first) = app.post_create_as(&key, &kling(5)).await;
    assert_eq!(code, StatusCode::OK, "{first}");
    let (code, _, err) = app.post_create_as(&key, &kling(5)).await;
    assert_eq!(code, StatusCode::PAYMENT_REQUIRED, "{err}");
    let said = err.to_string();
    assert!(said.contains("limit for this month") && said.contains("0.9"), "{said}");
    // A smaller one (3 s, 0.3) still fits: 0.8 of 0.9.
    assert_eq!(app.post_create_as(&key, &kling(3)).await.0, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_shows_in_the_query_envelope_status_and_listings() {
    let clock = Arc::new(ManualClock::starting_now());
    let upstream = Upstream::start(clock.clone(), |_| {}).await;
    let app = TestApp::spawn_with_clock(clock, |c| use_upstream(c, &upstream)).await;
    let id = app.create(&kling(5)).await;
    drive(&app, &upstream, 60).await;
    let job = upstream.emulator.jobs().into_iter().find(|j| j.session_id == id).unwrap();
    let billed = job.output_seconds.expect("a finished job has seconds");

    let (code, env) = app.get_json(&format!("/tencent-vod/v1/query/{id}")).await;
    assert_eq!(code, StatusCode::OK, "{env}");
    let usage = &env["Response"]["AigcVideoTask"]["Output"]["Usage"];
    assert_eq!(usage["OutputSeconds"], billed, "the upstream's names and figures: {env}");

    let status = app.status(&id).await;
    assert_eq!(
        status["metrics"]["usage"]["output_seconds"].as_f64(),
        Some(billed as f64),
        "{status}"
    );
    let (_, list) = app.get_json("/tencent-vod/v1/aigc-video/requests").await;
    let listed = list["requests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["request_id"] == id.as_str())
        .unwrap();
    assert_eq!(
        listed["metrics"]["usage"]["output_seconds"].as_f64(),
        Some(billed as f64),
        "{list}"
    );
}

#[test]
fn the_usage_report_of_an_empty_ledger_prints_zeros() {
    let dir = tempfile::tempdir().unwrap();
    let out = vidgate(dir.path(), &["usage"], &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    let total = text.lines().find(|l| l.starts_with("total ")).expect("a total line");
    assert!(!total.contains("-0"), "{total}");
    assert!(total.split_whitespace().skip(1).all(|n| n == "0"), "{total}");
}

/// The close of a request's hold: its ledger row, inside the completion's transaction.
const CLOSE_IN_TX: &str = "$4, 'close'";

#[tokio::test]
async fn a_settlement_cannot_be_lost_between_the_end_and_the_charge() {
    let app = TestApp::spawn().await;
    let id = app.create(&small_request("settled once")).await;
    app.dispatch_until_idle().await;
    app.advance(10_000);
    app.faults.fail(CLOSE_IN_TX, vidgate_store::Fault::Unavailable, 1);
    // The poll learns the job ended; its completion fails at the settlement.
    let step = app.workers.poller.run_once().await;
    assert!(step.is_err(), "the poller says its step failed: {step:?}");
    assert_eq!(app.faults.pending(CLOSE_IN_TX), 0, "the settlement was attempted");
    let status = app.status(&id).await;
    assert_eq!(status["status"], "IN_PROGRESS", "the end was undone with it: {status}");
    let (_, ledger) = app.get_json("/admin/ledger").await;
    let kinds = |l: &Value| -> Vec<String> {
        l["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(kinds(&ledger), ["hold"], "{ledger}");
    // The next poll ends and settles it, once.
    app.drive_to_completion().await;
    assert_eq!(app.status(&id).await["status"], "COMPLETED");
    let (_, ledger) = app.get_json("/admin/ledger").await;
    assert_eq!(kinds(&ledger), ["hold", "settle"], "{ledger}");
}
