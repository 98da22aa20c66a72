//! The PostgreSQL outage drill: a cluster this test owns is stopped and started again in the
//! middle of a load of creates, polls and completions across two replicas on the upstream
//! emulator. Afterwards every request answered 200 exists and ends, none went upstream twice,
//! calls during the outage got 503 (never 500), and wake-ups work again. Prints its figures as
//! one JSON line (`cargo test -p vidgate --test api pg_outage -- --nocapture`). Skipped where
//! PostgreSQL's server binaries are not installed or this process is not root (failed, when
//! `CI` is set).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::process::{Server, free_port};
use crate::replicas::{KEY, env, start_upstream};

/// A throwaway cluster: initdb'd under a temporary directory, run as `postgres`.
struct OwnCluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
}

impl OwnCluster {
    fn start() -> Option<OwnCluster> {
        let is_root = Command::new("id").arg("-u").output().ok()?.stdout == b"0\n";
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .flatten()
            .map(|e| e.path().join("bin"))
            .filter(|b| b.join("pg_ctl").exists())
            .max()?;
        if !is_root {
            return None;
        }
        let dir = tempfile::tempdir().ok()?;
        let cluster = OwnCluster { dir, bin, port: free_port() };
        Command::new("chown").args(["-R", "postgres"]).arg(cluster.dir.path()).status().ok()?;
        let data = cluster.data();
        let ok = cluster
            .as_postgres("initdb", &["-D", &data, "-A", "trust", "-U", "postgres", "--no-sync"])
            .success();
        (ok && cluster.pg_ctl_start()).then_some(cluster)
    }

    fn data(&self) -> String {
        self.dir.path().join("data").to_string_lossy().into_owned()
    }

    fn as_postgres(&self, tool: &str, args: &[&str]) -> std::process::ExitStatus {
        Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join(tool))
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .expect("run a PostgreSQL tool")
    }

    fn pg_ctl_start(&self) -> bool {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("log").to_string_lossy().into_owned();
        self.as_postgres("pg_ctl", &["-D", &self.data(), "-o", &options, "-l", &log, "-w", "start"])
            .success()
    }

    fn stop(&self) {
        self.as_postgres("pg_ctl", &["-D", &self.data(), "-m", "fast", "-w", "stop"]);
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        self.as_postgres("pg_ctl", &["-D", &self.data(), "-m", "immediate", "-w", "stop"]);
    }
}

const OUTAGE_SECS: u64 = 12;

#[derive(Default)]
struct Tally {
    accepted: Vec<String>,
    /// Create answers while the database was down, by status.
    during: BTreeMap<u16, u64>,
    other: BTreeMap<u16, u64>,
    /// 503 answers without a usable `Retry-After` (whole seconds, at least 1).
    unavailable_without_retry_after: u64,
    recovered_at: Option<Instant>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_postgresql_restart_mid_load_loses_nothing_and_duplicates_nothing() {
    let Some(cluster) = OwnCluster::start() else {
        vidgate_store::postgres::testing::missing_prerequisite(
            "PostgreSQL server binaries and root",
        );
        return;
    };
    let upstream_dir = tempfile::tempdir().unwrap();
    let upstream = start_upstream(upstream_dir.path());
    let dir = tempfile::tempdir().unwrap();
    let mut vars = env(&cluster.url(), &upstream.base);
    // Idle polling every 20 s only: within this test, work moves on wake-ups (NOTIFY).
    vars.retain(|(k, _)| *k != "VIDGATE_WORKERS__IDLE_WAIT");
    vars.push(("VIDGATE_WORKERS__IDLE_WAIT", "20s".to_owned()));
    vars.push(("VIDGATE_STORE__MAX_CONNECTIONS", "8".to_owned()));
    let pairs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let replicas = [Server::start(dir.path(), &pairs), Server::start(dir.path(), &pairs)];
    let bases: Vec<String> = replicas.iter().map(|s| s.base.clone()).collect();
    let http = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap();
    let tally = Arc::new(Mutex::new(Tally::default()));
    let (down, stop) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));

    let mut load = tokio::task::JoinSet::new();
    for worker in 0..3usize {
        let (http, bases, tally, down, stop) =
            (http.clone(), bases.clone(), tally.clone(), down.clone(), stop.clone());
        load.spawn(async move {
            let mut i = 0usize;
            while !stop.load(Ordering::SeqCst) {
                i += 1;
                let base = &bases[(worker + i) % bases.len()];
                let body = json!({"model_name": "Vidu", "model_version": "q2",
                    "prompt": format!("outage {worker}-{i}"), "output_config": {"duration": 1}});
                let was_down = down.load(Ordering::SeqCst);
                let answer = http
                    .post(format!("{base}/tencent-vod/v1/aigc-video"))
                    .bearer_auth(KEY)
                    .json(&body)
                    .send()
                    .await;
                let Ok(r) = answer else { continue };
                let status = r.status().as_u16();
                let retry_after = r
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u64>().ok());
                let mut t = tally.lock().await;
                if status == 503 && retry_after.is_none_or(|s| s < 1) {
                    t.unavailable_without_retry_after += 1;
                }
                *(if was_down { &mut t.during } else { &mut t.other })
                    .entry(status)
                    .or_default() += 1;
                if status == 200 {
                    let v: Value = r.json().await.unwrap_or_default();
                    if let Some(id) = v["request_id"].as_str() {
                        t.accepted.push(id.to_owned());
                    }
                    if !was_down && t.recovered_at.is_none() && !t.during.is_empty() {
                        t.recovered_at = Some(Instant::now());
                    }
                }
                drop(t);
                // About 7 creates a second in all: what the emulated account (2 slots of
                // ~0.4 s) can finish, so the queue drains soon after the load.
                tokio::time::sleep(Duration::from_millis(400)).await;
            }
        });
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    down.store(true, Ordering::SeqCst);
    cluster.stop();
    // Longer than the pool's 10 s acquire timeout: calls waiting for a connection give up
    // with 503 instead of waiting for the database to come back.
    tokio::time::sleep(Duration::from_secs(OUTAGE_SECS)).await;
    assert!(cluster.pg_ctl_start(), "the cluster starts again");
    let restarted = Instant::now();
    down.store(false, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(5)).await;
    stop.store(true, Ordering::SeqCst);
    while load.join_next().await.is_some() {}

    // Every accepted request exists and ends.
    let accepted = tally.lock().await.accepted.clone();
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut pending = accepted.clone();
    while !pending.is_empty() {
        assert!(Instant::now() < deadline, "{} accepted requests never ended", pending.len());
        let mut still = Vec::new();
        for id in pending {
            let s: Value = http
                .get(format!("{}/tencent-vod/v1/aigc-video/requests/{id}/status", bases[0]))
                .bearer_auth(KEY)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_ne!(s["detail"], "request not found", "accepted request {id} was lost");
            if s["status"] != "COMPLETED" {
                still.push(id);
            }
        }
        pending = still;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let stats: Value = reqwest::get(format!("{}/__emulator/stats", upstream.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let duplicates = stats["accepted_per_session"]
        .as_object()
        .unwrap()
        .values()
        .filter(|n| n.as_u64() > Some(1))
        .count();
    let t = tally.lock().await;
    let recovery = t.recovered_at.map(|at| at.saturating_duration_since(restarted).as_secs_f64());
    println!(
        "{}",
        json!({"pg_outage": {"requests_accepted": accepted.len(), "answers_during_outage": t.during,
            "answers_otherwise": t.other, "lost": 0, "duplicates_upstream": duplicates,
            "seconds_to_first_create_after_restart": recovery, "outage_seconds": OUTAGE_SECS}})
    );
    assert_eq!(duplicates, 0, "a request went upstream twice");
    assert!(
        !t.during.contains_key(&500) && !t.other.contains_key(&500),
        "no 500s: {:?} {:?}",
        t.during,
        t.other
    );
    assert!(
        t.during.get(&503).copied().unwrap_or(0) > 0,
        "the outage was seen as 503: {:?}",
        t.during
    );
    assert_eq!(t.unavailable_without_retry_after, 0, "every 503 says when to retry");
    assert!(recovery.is_some(), "creates never succeeded again");
    drop(replicas);
}
