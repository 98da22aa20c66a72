//! The emulator's life cycle on a manual clock.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use vidgate_domain::ManualClock;

use super::*;
use crate::config::{EmulatorAccount, EmulatorConfig};
use crate::validate::validate_create;

fn emulator(dir: &std::path::Path, concurrency: usize) -> (Arc<Emulator>, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(1_795_500_000_000));
    let mut config = EmulatorConfig::new(
        vec![EmulatorAccount {
            secret_id: "a".into(),
            secret_key: "k".into(),
            sub_app_id: 7,
            concurrency,
        }],
        dir.to_path_buf(),
        "http://127.0.0.1:9000".into(),
    );
    config.queue_time = Duration::from_millis(100);
    config.processing_time = Duration::from_secs(2);
    config.fps = 2;
    (Emulator::new(config, clock.clone()), clock)
}

fn create(e: &Emulator, session: &str, prompt: &str) -> Result<String, (&'static str, String)> {
    let params = json!({"SubAppId": 7, "ModelName": "Vidu", "ModelVersion": "q2", "Prompt": prompt, "SessionId": session,
                        "OutputConfig": {"Duration": 1.0, "Resolution": "720P"}});
    let account = e.config.accounts[0].clone();
    let valid = validate_create(&params, &account, &e.config.catalog)?;
    e.create(7, params, valid)
}

fn status(e: &Emulator, id: &str) -> (String, i64) {
    let d = e.describe(7, id).unwrap();
    (d["Status"].as_str().unwrap().to_owned(), d["AigcVideoTask"]["Progress"].as_i64().unwrap())
}

#[tokio::test]
async fn tasks_wait_then_process_one_at_a_time_then_finish_with_a_real_file() {
    let dir = tempfile::tempdir().unwrap();
    let (e, clock) = emulator(dir.path(), 1);
    let a = create(&e, "s-a", "first").unwrap();
    let b = create(&e, "s-b", "second").unwrap();
    assert_eq!(status(&e, &a).0, "WAITING");
    clock.advance(100);
    e.step().await;
    assert_eq!(status(&e, &a).0, "PROCESSING");
    assert_eq!(status(&e, &b).0, "WAITING", "the account's quota is one processing task");
    clock.advance(1000);
    assert_eq!(status(&e, &a), ("PROCESSING".into(), 50));
    clock.advance(1000);
    e.step().await;
    let d = e.describe(7, &a).unwrap();
    assert_eq!(d["Status"], "FINISH");
    assert_eq!(d["AigcVideoTask"]["ErrCode"], 0);
    let file = &d["AigcVideoTask"]["Output"]["FileInfos"][0];
    assert!(file["FileUrl"].as_str().unwrap().ends_with(&format!("/files/{a}.mp4")));
    assert_eq!(file["MetaData"]["Width"], 1280);
    assert!(dir.path().join(format!("{a}.mp4")).exists());
    assert_eq!(status(&e, &b).0, "PROCESSING", "the freed slot went to the next task");
}

#[tokio::test]
async fn a_session_id_is_refused_for_three_days_and_creates_are_rate_limited() {
    let dir = tempfile::tempdir().unwrap();
    let (e, clock) = emulator(dir.path(), 1);
    create(&e, "dup", "x").unwrap();
    assert_eq!(create(&e, "dup", "x").unwrap_err().0, "InvalidParameterValue.SessionId");
    clock.advance(3 * 24 * 3_600_000);
    create(&e, "dup", "x").unwrap();
    for i in 0..19 {
        create(&e, &format!("r{i}"), "x").unwrap();
    }
    assert_eq!(
        create(&e, "r-over", "x").unwrap_err().0,
        "RequestLimitExceeded",
        "21st create within one second"
    );
    clock.advance(1000);
    create(&e, "r-after", "x").unwrap();
    let stats = e.stats();
    assert_eq!(stats.duplicate_sessions, 1);
    assert_eq!(stats.accepted_per_session["dup"], 2);
    assert_eq!(stats.accepted_per_session["r0"], 1);
}

#[tokio::test]
async fn events_are_redelivered_until_confirmed() {
    let dir = tempfile::tempdir().unwrap();
    let (e, clock) = emulator(dir.path(), 2);
    let a = create(&e, "s-1", "moderation: emulator-moderation-test").unwrap();
    clock.advance(100);
    e.step().await;
    clock.advance(2000);
    e.step().await;
    let first: Vec<Value> = e.take_events(7);
    assert_eq!(first.len(), 1);
    let ev = &first[0];
    assert_eq!(ev["AigcVideoCompleteEvent"]["TaskId"], a.as_str());
    assert_eq!(ev["AigcVideoCompleteEvent"]["ErrCodeExt"], "InvalidParameter.VoilationContent");
    assert!(e.take_events(7).is_empty(), "delivered, not yet due again");
    clock.advance(30_000);
    let again = e.take_events(7);
    assert_eq!(again.len(), 1, "unconfirmed for 30 s: delivered again");
    e.confirm(7, &[again[0]["EventHandle"].as_str().unwrap().to_owned()]);
    clock.advance(30_000);
    assert!(e.take_events(7).is_empty());
}

#[tokio::test]
async fn describe_tasks_pages_newest_first_with_session_ids() {
    let dir = tempfile::tempdir().unwrap();
    let (e, clock) = emulator(dir.path(), 1);
    let ids: Vec<String> = (0..5)
        .map(|i| {
            clock.advance(1000);
            create(&e, &format!("s{i}"), "x").unwrap()
        })
        .collect();
    let p1 = e.list(7, 2, 0);
    assert_eq!(p1["TaskSet"][0]["TaskId"], ids[4].as_str());
    assert_eq!(p1["TaskSet"][0]["SessionId"], "s4");
    let p3 = e.list(7, 2, p1["ScrollToken"].as_str().unwrap().parse::<usize>().unwrap() + 2);
    assert_eq!(p3["TaskSet"].as_array().unwrap().len(), 1);
    assert_eq!(p3["ScrollToken"], "");
    assert!(e.describe(8, &ids[0]).is_err(), "another application's task does not exist");
}
