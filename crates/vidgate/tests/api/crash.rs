//! Crash safety with the real binary: `kill -9` the server while requests are queued, being
//! submitted and rendering; restart it; every accepted request reaches a terminal state and
//! none is sent upstream as two jobs or finished twice.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::small_request;
use crate::process::Server;

const KEY: &str = "crash-test-bootstrap-key";

fn env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("VIDGATE_BOOTSTRAP_KEY", KEY),
        ("VIDGATE_QUEUE__LEASE", "1s"),
        ("VIDGATE_WORKERS__REAPER_INTERVAL", "200ms"),
        ("VIDGATE_WORKERS__IDLE_WAIT", "100ms"),
        ("VIDGATE_SANDBOX__CONCURRENCY", "3"),
        ("VIDGATE_SANDBOX__QUEUE_DELAY", "200ms"),
        ("VIDGATE_SANDBOX__PROCESSING_TIME", "700ms"),
        ("VIDGATE_SANDBOX__POLL_INTERVAL", "100ms"),
        ("VIDGATE_SANDBOX__FPS", "4"),
    ]
}

async fn create_some(http: &reqwest::Client, base: &str, n: usize, ids: &mut Vec<String>) {
    for i in 0..n {
        let r = http
            .post(format!("{base}/tencent-vod/v1/aigc-video"))
            .bearer_auth(KEY)
            .json(&small_request(&format!("crash {i}")))
            .send()
            .await;
        // A create cut off by the kill may or may not have committed; only 200s count.
        if let Ok(r) = r
            && r.status() == 200
        {
            let handle: Value = r.json().await.unwrap();
            ids.push(handle["request_id"].as_str().unwrap().to_owned());
        }
    }
}

async fn status(http: &reqwest::Client, base: &str, id: &str) -> Value {
    let r = http
        .get(format!("{base}/tencent-vod/v1/aigc-video/requests/{id}/status?logs=1"))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert!(r.status() == 200 || r.status() == 202, "request {id} answered {}", r.status());
    r.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_nine_at_any_moment_loses_nothing_and_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let mut ids = Vec::new();
    // Three crashes at different moments: right after a burst of creates, mid-processing, later.
    for (burst, pause_ms) in [(8usize, 50u64), (8, 700), (6, 1500)] {
        let server = Server::start(dir.path(), &env());
        create_some(&http, &server.base, burst, &mut ids).await;
        tokio::time::sleep(Duration::from_millis(pause_ms)).await;
        server.kill9();
    }
    let server = Server::start(dir.path(), &env());
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut finals: HashMap<String, Value> = HashMap::new();
    while finals.len() < ids.len() {
        assert!(
            Instant::now() < deadline,
            "only {} of {} requests finished after the crashes",
            finals.len(),
            ids.len()
        );
        for id in &ids {
            if !finals.contains_key(id) {
                let s = status(&http, &server.base, id).await;
                if s["status"] == "COMPLETED" {
                    finals.insert(id.clone(), s);
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(ids.len(), 22, "every create before a kill was answered 200");
    for (id, s) in &finals {
        assert_eq!(s["error"], Value::Null, "{id} failed: {s}");
        let logs: Vec<&str> =
            s["logs"].as_array().unwrap().iter().map(|l| l["message"].as_str().unwrap()).collect();
        let upstream: BTreeSet<&str> =
            logs.iter().filter_map(|m| m.split("upstream task ").nth(1)).collect();
        assert_eq!(upstream.len(), 1, "{id} went upstream as {upstream:?}");
        assert_eq!(
            logs.iter().filter(|m| m.starts_with("finished")).count(),
            1,
            "{id} finished twice: {logs:?}"
        );
    }
    let listed = http
        .get(format!("{}/tencent-vod/v1/aigc-video/requests?limit=100", server.base))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(
        listed["requests"].as_array().unwrap().len(),
        ids.len(),
        "no request appeared that was not answered 200"
    );
    // The ledger: each request held once and settled once at its cost, whatever the kills
    // interrupted (the settlement commits with the request's final state, so there is no
    // moment between them for a crash to fall into).
    let today = chrono::Utc::now().date_naive();
    let usage = http
        .get(format!(
            "{}/tencent-vod/v1/usage?from={}&to={today}",
            server.base,
            today.pred_opt().unwrap()
        ))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let total = &usage["total"];
    assert_eq!(
        (total["requests"].as_i64(), total["succeeded"].as_i64(), total["pending"].as_i64()),
        (Some(22), Some(22), Some(0)),
        "{usage}"
    );
    let costs: f64 = finals.values().map(|s| s["metrics"]["cost"].as_f64().unwrap()).sum();
    assert!((total["spent"].as_f64().unwrap() - costs).abs() < 1e-9, "{usage} vs {costs}");
    assert_eq!(usage["budget"]["balance"].as_f64(), Some(-total["spent"].as_f64().unwrap()));
}
