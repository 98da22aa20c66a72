//! Customers trying to get video for free, against the upstream emulator, on SQLite and on
//! PostgreSQL. Three keys, each prepaid for two requests, keep creating: one cancels each
//! request once the upstream has it, one lets a 2 s `Cancel-After` deadline pass while the
//! upstream works, one deletes each video (`DELETE /v1/videos/{id}`) once dispatched. The
//! upstream bills every job it runs, so afterwards every job the emulator finished is charged
//! exactly once, to its key, at what the upstream reported; nothing else is charged; no
//! balance is below zero; and vidgate never had more jobs upstream than the account's slots.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use vidgate_domain::Pool;

use reqwest::StatusCode;
use serde_json::{Value, json};
use vidgate_domain::ManualClock;
use vidgate_domain::pricing::Credits;
use vidgate_store::{KeyBudget, LedgerEntry, TopUp};

use crate::helpers::{TestApp, split};
use crate::upstream::{Upstream, use_upstream};

/// Vidu q2, 2 s at 720p: 0.2 credits at the default prices.
const PRICE: f64 = 0.2;
const SLOTS: usize = 2;

fn body(prompt: &str) -> Value {
    json!({"model_name": "Vidu", "model_version": "q2", "prompt": prompt,
        "output_config": {"duration": 2, "resolution": "720P"}})
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Trick {
    CancelAfterDispatch,
    DeadlineLoop,
    DeleteAfterDispatch,
}

struct Customer {
    trick: Trick,
    name: &'static str,
    key: String,
    key_id: vidgate_domain::KeyId,
    requests: Vec<String>,
    /// Requests already cancelled or deleted.
    done_with: Vec<String>,
}

async fn status_of(app: &TestApp, key: &str, id: &str) -> (StatusCode, Value) {
    app.status_as(key, id, false).await
}

/// One attacker's move this second: create (refused once the balance is held), and cancel or
/// delete whatever the upstream already has.
async fn play(app: &TestApp, c: &mut Customer, round: usize) {
    let mut req = app
        .http
        .post(app.queue_url(""))
        .bearer_auth(&c.key)
        .json(&body(&format!("{} wants a free video, try {round}", c.name)));
    if c.trick == Trick::DeadlineLoop {
        req = req.header("cancel-after", "2s");
    }
    let (code, _, answer) = split(req.send().await.unwrap()).await;
    match code {
        StatusCode::OK => c.requests.push(answer["request_id"].as_str().unwrap().to_owned()),
        StatusCode::PAYMENT_REQUIRED => assert_eq!(answer["error_type"], "budget_exceeded"),
        other => panic!("{}: create answered {other}: {answer}", c.name),
    }
    for id in c.requests.clone() {
        if c.done_with.contains(&id) {
            continue;
        }
        let (_, s) = status_of(app, &c.key, &id).await;
        if s["status"] != "IN_PROGRESS" {
            continue;
        }
        match c.trick {
            Trick::CancelAfterDispatch => {
                let (code, answer) = app.cancel_as(&c.key, &id).await;
                assert_eq!(code, StatusCode::ACCEPTED, "{answer}");
                assert_eq!(answer["status"], "CANCELLATION_REQUESTED");
            }
            Trick::DeleteAfterDispatch => {
                let r = app
                    .http
                    .delete(app.url(&format!("/v1/videos/{id}")))
                    .bearer_auth(&c.key)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), StatusCode::OK);
                let (code, _) = status_of(app, &c.key, &id).await;
                assert_eq!(code, StatusCode::NOT_FOUND, "a deleted video is gone at once");
            }
            Trick::DeadlineLoop => continue,
        }
        c.done_with.push(id);
    }
}

/// One simulated second: vidgate's workers and the upstream each take their step.
async fn tick(app: &TestApp, upstream: &Upstream) {
    app.dispatch_until_idle().await;
    upstream.emulator.step().await;
    app.poll_until_idle().await;
    app.reap().await;
    let unfinished = upstream.emulator.jobs().iter().filter(|j| j.status != "FINISH").count();
    assert!(
        unfinished <= SLOTS,
        "vidgate had {unfinished} jobs upstream at once, with {SLOTS} slots"
    );
    app.advance(1000);
}

async fn customers_cannot_get_video_for_free(app: &TestApp, upstream: &Upstream) {
    let mut customers = Vec::new();
    for (trick, name) in [
        (Trick::CancelAfterDispatch, "canceller"),
        (Trick::DeadlineLoop, "deadliner"),
        (Trick::DeleteAfterDispatch, "deleter"),
    ] {
        let key = app.new_key(name).await;
        let record = app.store.key_by_name(name).await.unwrap().unwrap();
        let prepaid = KeyBudget { prepaid: true, ..KeyBudget::default() };
        assert!(app.store.set_key_budget(name, prepaid).await.unwrap());
        let two = Credits::from_credits(2.0 * PRICE).unwrap();
        let topped = app.store.top_up(&record.id, two, "two requests", app.clock_now()).await;
        assert!(matches!(topped.unwrap(), TopUp::Done(_)));
        customers.push(Customer {
            trick,
            name,
            key,
            key_id: record.id,
            requests: Vec::new(),
            done_with: Vec::new(),
        });
    }
    for round in 0..40 {
        for c in customers.iter_mut() {
            play(app, c, round).await;
        }
        tick(app, upstream).await;
    }
    // Let every job end upstream, and vidgate follow each to its end.
    for _ in 0..120 {
        let busy: i64 =
            app.store.slots_in_use(Pool::Tencent).await.unwrap().iter().map(|(_, n)| n).sum();
        let upstream_busy = upstream.emulator.jobs().iter().any(|j| j.status != "FINISH");
        if busy == 0 && !upstream_busy {
            break;
        }
        tick(app, upstream).await;
    }
    let jobs = upstream.emulator.jobs();
    assert!(jobs.iter().all(|j| j.status == "FINISH" && j.succeeded), "{jobs:?}");
    let by_session: HashMap<&str, &vidgate_emulator::JobRecord> =
        jobs.iter().map(|j| (j.session_id.as_str(), j)).collect();
    assert_eq!(by_session.len(), jobs.len(), "one upstream job per request");

    let price = Credits::from_credits(PRICE).unwrap();
    let mut charged_jobs = 0;
    for c in &customers {
        let rows = app.store.ledger(Some(&c.key_id), 0, 10_000).await.unwrap();
        let mut spent: BTreeMap<String, Credits> = BTreeMap::new();
        let mut closes: BTreeMap<String, usize> = BTreeMap::new();
        for r in rows.iter().filter(|r: &&LedgerEntry| r.request_id.is_some()) {
            let id = r.request_id.clone().unwrap();
            let sum = spent.entry(id.clone()).or_default();
            *sum = *sum + r.spend;
            if matches!(r.kind.as_str(), "settle" | "release") {
                *closes.entry(id).or_default() += 1;
            }
        }
        for id in &c.requests {
            let job = by_session.get(id.as_str());
            let spend = spent.get(id).copied().unwrap_or_default();
            assert_eq!(closes.get(id).copied().unwrap_or(0), 1, "{}: {id} closed once", c.name);
            match job {
                // Every job the upstream ran is charged, at what it reported (2 s).
                Some(j) => {
                    assert_eq!(j.output_seconds, Some(2));
                    assert_eq!(spend, price, "{}: job of {id} charged once", c.name);
                    charged_jobs += 1;
                }
                // Nothing else is charged.
                None => assert_eq!(spend, Credits::ZERO, "{}: {id} never ran", c.name),
            }
        }
        let balance = app.store.balance(&c.key_id, app.clock_now()).await.unwrap().unwrap();
        assert!(balance.balance >= Credits::ZERO, "{}: balance {}", c.name, balance.balance);
        let ran = c.requests.iter().filter(|id| by_session.contains_key(id.as_str())).count();
        assert_eq!(ran, 2, "{}: the balance paid for exactly two jobs: {:?}", c.name, c.requests);
        assert_eq!(balance.balance, Credits::ZERO, "{}: both paid for", c.name);
    }
    assert_eq!(charged_jobs, jobs.len(), "every job the upstream ran was charged to a key");

    // What each customer was told: the canceller's videos were delivered anyway; the
    // deadliner's ended with `timeout`; the deleter's are gone.
    for c in &customers {
        for id in c.requests.iter().filter(|id| by_session.contains_key(id.as_str())) {
            let (code, s) = status_of(app, &c.key, id).await;
            match c.trick {
                Trick::CancelAfterDispatch => {
                    assert_eq!(s["status"], "COMPLETED", "{s}");
                    assert_eq!(s["error"], Value::Null, "delivered: {s}");
                    let logs = app.logs_as(&c.key, id).await;
                    assert!(logs.iter().any(|l| l.contains("delivered and charged")), "{logs:?}");
                }
                Trick::DeadlineLoop => assert_eq!(s["error_type"], "timeout", "{s}"),
                Trick::DeleteAfterDispatch => assert_eq!(code, StatusCode::NOT_FOUND),
            }
        }
    }
}

async fn setup(database_url: Option<String>) -> (TestApp, Upstream) {
    let clock = Arc::new(ManualClock::starting_now());
    let upstream = Upstream::start(clock.clone(), |e| e.accounts[0].concurrency = SLOTS).await;
    let app = TestApp::spawn_with_clock(clock, |c| {
        use_upstream(c, &upstream);
        c.tencent.concurrency = SLOTS as i64;
        if let Some(url) = database_url {
            c.store.database_url = vidgate::config::Secret::new(url);
        }
    })
    .await;
    (app, upstream)
}

#[tokio::test]
async fn on_sqlite_cancel_deadline_and_delete_get_no_free_video() {
    let (app, upstream) = setup(None).await;
    customers_cannot_get_video_for_free(&app, &upstream).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_cancel_deadline_and_delete_get_no_free_video() {
    let Some(admin) = vidgate_store::postgres::testing::test_url() else { return };
    let (db_url, db_name) = crate::replicas::fresh_database(&admin).await;
    let (app, upstream) = setup(Some(db_url)).await;
    customers_cannot_get_video_for_free(&app, &upstream).await;
    drop(app);
    crate::replicas::drop_database(&admin, &db_name).await;
}

/// The ledger rows of one request: (kind, change to what its key spent).
async fn rows_of(app: &TestApp, id: &str) -> Vec<(String, Credits)> {
    let key_id = app.store.list_keys().await.unwrap().remove(0).id;
    app.store
        .ledger(Some(&key_id), 0, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.request_id.as_deref() == Some(id))
        .map(|r| (r.kind, r.spend))
        .collect()
}

async fn lost_attempt_setup(faults: vidgate_emulator::Faults) -> (TestApp, Upstream) {
    let clock = Arc::new(ManualClock::starting_now());
    let upstream = Upstream::start(clock.clone(), |e| e.faults = faults).await;
    let app = TestApp::spawn_with_clock(clock, |c| use_upstream(c, &upstream)).await;
    (app, upstream)
}

/// An attempt made its job upstream but its answer was lost; the request is cancelled while
/// it waits to be sent again. The upstream is asked first: its job runs on, and is delivered
/// and charged (a cancel cannot make it free).
#[tokio::test]
async fn a_cancel_after_a_lost_answer_finds_the_job_and_charges_it() {
    let faults = vidgate_emulator::Faults { drop_first_creates: 1, ..Default::default() };
    let (app, upstream) = lost_attempt_setup(faults).await;
    let id = app.create(&body("its first answer is lost")).await;
    assert_eq!(app.dispatch_until_idle().await, 1);
    assert_eq!(app.status(&id).await["status"], "IN_QUEUE", "back in the queue to be sent again");
    assert_eq!(upstream.emulator.jobs().len(), 1, "yet the upstream made the job");
    let (code, answer) = app.cancel_as(&app.key, &id).await;
    assert_eq!(
        (code, answer["status"].as_str()),
        (StatusCode::ACCEPTED, Some("CANCELLATION_REQUESTED"))
    );
    for _ in 0..30 {
        tick(&app, &upstream).await;
    }
    let s = app.status(&id).await;
    assert_eq!((s["status"].as_str(), &s["error"]), (Some("COMPLETED"), &Value::Null), "{s}");
    let logs = app.logs(&id).await;
    assert!(
        logs.iter().any(|l| l.contains("an earlier attempt had reached the upstream")),
        "{logs:?}"
    );
    assert_eq!(upstream.emulator.jobs().len(), 1, "never a second job");
    let price = Credits::from_credits(PRICE).unwrap();
    let rows = rows_of(&app, &id).await;
    assert_eq!(rows.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(), ["hold", "settle"]);
    assert_eq!(rows.iter().map(|(_, s)| *s).sum::<Credits>(), price, "charged once");
}

/// The attempt was refused (no job made), and the request is cancelled while it waits to be
/// sent again: the upstream is asked, has no job, and the request is released, but only once
/// the upstream's list can be trusted to show a job made moments before (five minutes).
#[tokio::test]
async fn a_cancel_after_a_refused_attempt_is_released_once_the_lookup_can_be_trusted() {
    let faults = vidgate_emulator::Faults { refuse_first_creates: 1, ..Default::default() };
    let (app, upstream) = lost_attempt_setup(faults).await;
    let id = app.create(&body("its first attempt is refused")).await;
    assert_eq!(app.dispatch_until_idle().await, 1);
    assert_eq!(app.status(&id).await["status"], "IN_QUEUE");
    app.cancel_as(&app.key, &id).await;
    app.dispatch_until_idle().await;
    let s = app.status(&id).await;
    assert_eq!(
        (s["status"].as_str(), s["error_type"].as_str()),
        (Some("COMPLETED"), Some("request_cancelled"))
    );
    app.poll_until_idle().await;
    let kinds = |rows: Vec<(String, Credits)>| rows.into_iter().map(|(k, _)| k).collect::<Vec<_>>();
    assert_eq!(kinds(rows_of(&app, &id).await), ["hold"], "a miss this early is asked again");
    app.advance(5 * 60_000 + 1_000);
    app.poll_until_idle().await;
    assert_eq!(kinds(rows_of(&app, &id).await), ["hold", "release"], "no job, nothing charged");
    assert!(upstream.emulator.jobs().is_empty());
    assert!(app.store.slots_in_use(Pool::Tencent).await.unwrap().is_empty(), "its slot is free");
}
