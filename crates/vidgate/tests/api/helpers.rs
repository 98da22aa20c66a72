//! The test harness: `TestApp::spawn()` builds the real application on port 0 with its own
//! data directory and a manual clock, and gives typed helpers for the HTTP API and for
//! driving the workers step by step.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;
use vidgate_domain::Pool;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use vidgate::config::{Config, Secret};
use vidgate::startup::{Application, BuildOptions, WorkerMode, Workers};
use vidgate_domain::{Clock, ManualClock};
use vidgate_store::Store;
use vidgate_workers::{Outcome, Worker};

pub struct TestApp {
    pub base: String,
    pub key: String,
    pub http: reqwest::Client,
    pub clock: Arc<ManualClock>,
    pub workers: Workers,
    pub store: Arc<dyn Store>,
    pub provider: Arc<dyn vidgate_providers::Provider>,
    pub data_dir: PathBuf,
    pub config: Config,
    /// Where `/metrics` is served when `server.metrics_listen` gives it its own listener.
    pub metrics_addr: Option<std::net::SocketAddr>,
    pub statuses: Arc<vidgate_api::status_cache::StatusCache>,
    /// Statements of the app's store made to fail on purpose (`FaultPlan::fail`), for the
    /// branches a real database takes only in an outage or a race.
    pub faults: Arc<vidgate_store::FaultPlan>,
    /// The app's rate limiter, and its name in the store's replica count.
    pub rates: Arc<vidgate_api::limits::RateLimiter>,
    pub replica_id: String,
    shutdown: CancellationToken,
    stopped: Option<tokio::sync::oneshot::Receiver<()>>,
    dir: Option<tempfile::TempDir>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// The seed's own example body.
pub fn seed_example() -> Value {
    json!({
        "model_name": "Kling",
        "model_version": "1.6",
        "prompt": "A car was driving on the highway, under the bright sunshine.",
        "negative_prompt": "Blurry, jittery",
        "enhance_prompt": "Enabled",
        "output_config": {
            "storage_mode": "Temporary",
            "media_name": "car-video",
            "duration": 8,
            "resolution": "1080P",
            "aspect_ratio": "16:9",
            "audio_generation": "Enabled",
            "person_generation": "AllowAdult",
            "input_compliance_check": "Enabled",
            "output_compliance_check": "Enabled",
            "enhance_switch": "Enabled"
        }
    })
}

/// A small, quick request (Vidu q2 allows 1 s clips).
pub fn small_request(prompt: &str) -> Value {
    json!({"model_name": "Vidu", "model_version": "q2", "prompt": prompt,
        "output_config": {"duration": 1, "resolution": "720P", "aspect_ratio": "1:1"}})
}

/// Test defaults: port 0, a temporary data directory, a fast sandbox (4 fps; 1 s simulated
/// queue, 4 s simulated processing on the manual clock).
pub fn test_config(data_dir: &Path) -> Config {
    let mut c = Config::defaults();
    c.server.listen = "127.0.0.1:0".parse().expect("an address");
    c.store.data_dir = data_dir.to_path_buf();
    c.store.sqlite_durability = vidgate_store::sqlite::Durability::Normal;
    c.sandbox.fps = 4;
    c.sandbox.moderation_blocklist = vec!["forbidden-word".into()];
    c.server.shutdown_deadline = Duration::from_secs(2);
    // The manual clock does not move by itself, so rate buckets would never refill: tests
    // that are not about limits run without them (limits.rs turns them on).
    c.limits.create_rate = 0.0;
    c.limits.read_rate = 0.0;
    c.limits.unauthenticated_rate = 0.0;
    c
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
        Self::spawn_with_clock(Arc::new(ManualClock::starting_now()), tweak).await
    }

    /// With a clock shared with something else under test (the upstream emulator).
    pub async fn spawn_with_clock(
        clock: Arc<ManualClock>,
        tweak: impl FnOnce(&mut Config),
    ) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = test_config(dir.path());
        tweak(&mut config);
        Self::start(clock, config, dir, String::new()).await
    }

    /// Stops this app (as a graceful shutdown would) and starts a new process-worth of it on
    /// the same data directory, configuration and clock.
    pub async fn restart(self) -> TestApp {
        self.restart_with(|_| {}).await
    }

    /// `restart`, with a change to the configuration.
    pub async fn restart_with(mut self, tweak: impl FnOnce(&mut Config)) -> TestApp {
        self.shutdown.cancel();
        if let Some(stopped) = self.stopped.take() {
            let _ = stopped.await;
        }
        let dir = self.dir.take().expect("a running app has its directory");
        let (clock, mut config, key) = (self.clock.clone(), self.config.clone(), self.key.clone());
        tweak(&mut config);
        drop(self);
        Self::start(clock, config, dir, key).await
    }

    async fn start(
        clock: Arc<ManualClock>,
        config: Config,
        dir: tempfile::TempDir,
        key: String,
    ) -> TestApp {
        let options = BuildOptions {
            clock: clock.clone(),
            workers: WorkerMode::Manual,
            announce_first_key: false,
        };
        let app = Application::build(config.clone(), options).await.expect("app builds");
        let addr = app.local_addr();
        let metrics_addr = app.metrics_addr();
        let key = app.first_key.clone().unwrap_or(key);
        let (store, workers, provider) =
            (app.store.clone(), app.workers.clone(), app.provider.clone());
        let statuses = app.statuses.clone();
        let faults = app.faults.clone();
        let (rates, replica_id) = (app.rates.clone(), app.replica_id.clone());
        let shutdown = CancellationToken::new();
        let (done, stopped) = tokio::sync::oneshot::channel();
        let token = shutdown.clone();
        tokio::spawn(async move {
            let _ = app.run_until_stopped(token).await;
            let _ = done.send(());
        });
        TestApp {
            base: format!("http://{addr}"),
            key,
            http: reqwest::Client::new(),
            clock,
            workers,
            store,
            provider,
            data_dir: dir.path().to_path_buf(),
            config,
            metrics_addr,
            statuses,
            faults,
            rates,
            replica_id,
            shutdown,
            stopped: Some(stopped),
            dir: Some(dir),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn queue_url(&self, rest: &str) -> String {
        self.url(&format!("/tencent-vod/v1/aigc-video{rest}"))
    }

    /// A further API key, created through the store as `vidgate keys create` does.
    pub async fn new_key(&self, name: &str) -> String {
        let (key, record) = vidgate::bootstrap::new_key_record(name, self.clock.now_ms());
        self.store.create_key(record).await.expect("key created");
        key
    }

    pub async fn post_create_as(&self, key: &str, body: &Value) -> (StatusCode, HeaderMap, Value) {
        let r = self
            .http
            .post(self.queue_url(""))
            .bearer_auth(key)
            .json(body)
            .send()
            .await
            .expect("POST");
        split(r).await
    }

    pub async fn post_create(&self, body: &Value) -> (StatusCode, HeaderMap, Value) {
        self.post_create_as(&self.key, body).await
    }

    /// Creates a request that must be accepted; returns its id.
    pub async fn create(&self, body: &Value) -> String {
        let (status, _, handle) = self.post_create(body).await;
        assert_eq!(status, StatusCode::OK, "create failed: {handle}");
        handle["request_id"].as_str().expect("request_id").to_owned()
    }

    pub async fn status_as(&self, key: &str, id: &str, logs: bool) -> (StatusCode, Value) {
        let q = if logs { "?logs=1" } else { "" };
        let r = self
            .http
            .get(self.queue_url(&format!("/requests/{id}/status{q}")))
            .header("Authorization", format!("Key {key}"))
            .send()
            .await
            .expect("GET status");
        let (s, _, b) = split(r).await;
        (s, b)
    }

    pub async fn status(&self, id: &str) -> Value {
        let (code, body) = self.status_as(&self.key, id, false).await;
        assert!(
            code == StatusCode::OK || code == StatusCode::ACCEPTED,
            "status answered {code}: {body}"
        );
        body
    }

    pub async fn logs(&self, id: &str) -> Vec<String> {
        self.logs_as(&self.key, id).await
    }

    pub async fn logs_as(&self, key: &str, id: &str) -> Vec<String> {
        let (_, body) = self.status_as(key, id, true).await;
        body["logs"]
            .as_array()
            .expect("logs")
            .iter()
            .map(|l| l["message"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    pub async fn result(&self, id: &str) -> (StatusCode, HeaderMap, Value) {
        let r = self
            .http
            .get(self.queue_url(&format!("/requests/{id}")))
            .bearer_auth(&self.key)
            .send()
            .await
            .expect("GET result");
        split(r).await
    }

    pub async fn cancel_as(&self, key: &str, id: &str) -> (StatusCode, Value) {
        let r = self
            .http
            .put(self.queue_url(&format!("/requests/{id}/cancel")))
            .bearer_auth(key)
            .send()
            .await
            .expect("PUT cancel");
        let (s, _, b) = split(r).await;
        (s, b)
    }

    pub async fn get_json(&self, path: &str) -> (StatusCode, Value) {
        let r = self.http.get(self.url(path)).bearer_auth(&self.key).send().await.expect("GET");
        let (s, _, b) = split(r).await;
        (s, b)
    }

    pub fn clock_now(&self) -> i64 {
        self.clock.now_ms()
    }

    pub fn advance(&self, ms: i64) {
        self.clock.advance(ms);
    }

    /// One replica heartbeat now (the app's own beats every 5 s of real time): how many
    /// replicas share the store, as this app's rate limiter now counts them.
    pub async fn beat(&self) -> u64 {
        let now = self.clock.now_ms();
        vidgate_api::replicas::beat(self.store.as_ref(), &self.rates, &self.replica_id, now)
            .await
            .expect("a heartbeat")
    }

    async fn run_until_idle(worker: &dyn Worker) -> usize {
        let mut n = 0;
        while worker.run_once().await.expect("worker step") == Outcome::Worked {
            n += 1;
            assert!(n < 10_000, "worker never went idle");
        }
        n
    }

    /// Runs the dispatcher until it finds nothing to do; returns how many steps it took.
    pub async fn dispatch_until_idle(&self) -> usize {
        Self::run_until_idle(self.workers.dispatcher.as_ref()).await
    }

    /// Polls every running request that is due, once each.
    pub async fn poll_until_idle(&self) -> usize {
        Self::run_until_idle(self.workers.poller.as_ref()).await
    }

    pub async fn reap(&self) {
        self.workers.reaper.run_once().await.expect("reaper step");
    }

    /// Drives a request to its end on the manual clock: dispatch, then advance and poll.
    pub async fn drive_to_completion(&self) {
        self.dispatch_until_idle().await;
        for _ in 0..100 {
            self.advance(1000);
            self.poll_until_idle().await;
            self.dispatch_until_idle().await;
            let active = self
                .store
                .slots_in_use(Pool::Sandbox)
                .await
                .unwrap()
                .iter()
                .map(|(_, n)| n)
                .sum::<i64>();
            if active == 0 {
                return;
            }
        }
        panic!("requests did not finish in 100 simulated seconds");
    }

    /// Downloads a URL into the data directory and returns the file path.
    pub async fn download(&self, url: &str, name: &str) -> PathBuf {
        let r = self.http.get(url).send().await.expect("download");
        assert_eq!(r.status(), StatusCode::OK, "downloading {url}");
        let bytes = r.bytes().await.expect("bytes");
        let path = self.data_dir.join(name);
        std::fs::write(&path, &bytes).expect("write download");
        path
    }
}

pub async fn split(r: reqwest::Response) -> (StatusCode, HeaderMap, Value) {
    let status = r.status();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, headers, body)
}

/// What ffprobe says about a video file.
#[derive(Debug)]
pub struct Probe {
    pub video_codec: String,
    pub width: u64,
    pub height: u64,
    pub duration: f64,
    pub audio_codec: Option<String>,
}

/// ffprobe is installed by `scripts/install-deps.sh` (which the README's test command runs).
pub fn ffprobe(path: &Path) -> Probe {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_type,codec_name,width,height:format=duration",
            "-of",
            "json",
        ])
        .arg(path)
        .output()
        .expect(
            "ffprobe is missing: run ./scripts/install-deps.sh (the README's test command does)",
        );
    assert!(out.status.success(), "ffprobe failed: {}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).expect("ffprobe json");
    let streams = v["streams"].as_array().cloned().unwrap_or_default();
    let video = streams.iter().find(|s| s["codec_type"] == "video").expect("a video stream");
    let audio = streams.iter().find(|s| s["codec_type"] == "audio");
    Probe {
        video_codec: video["codec_name"].as_str().unwrap_or_default().into(),
        width: video["width"].as_u64().unwrap_or(0),
        height: video["height"].as_u64().unwrap_or(0),
        duration: v["format"]["duration"].as_str().and_then(|d| d.parse().ok()).unwrap_or(0.0),
        audio_codec: audio.and_then(|a| a["codec_name"].as_str()).map(str::to_owned),
    }
}

/// Decodes every frame; `true` when ffmpeg reports no error.
pub fn decodes_cleanly(path: &Path) -> bool {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-f", "null", "-"])
        .output()
        .expect("ffmpeg is missing: run ./scripts/install-deps.sh");
    out.status.success() && out.stderr.is_empty()
}

/// The Python of the test virtualenv (fal's client, selenium), made by `scripts/install-deps.sh`.
pub fn venv_python() -> PathBuf {
    let p = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../.venv/bin/python"));
    assert!(
        p.exists(),
        "the test virtualenv is missing: run ./scripts/install-deps.sh (the README's test command does)"
    );
    p
}

pub fn with_bootstrap(key: &str) -> impl FnOnce(&mut Config) + '_ {
    move |c| c.auth.bootstrap_key = Secret::new(key)
}
