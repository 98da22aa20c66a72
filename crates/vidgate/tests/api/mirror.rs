//! Mirroring upstream outputs into the media store, with real processes: the upstream
//! emulator, `s3s-fs`, and `vidgate serve` (SQLite, or two replicas on PostgreSQL). A copy
//! killed with `kill -9` midway is made again after the restart and the half upload is never
//! served; a 200 MB output is copied with bounded memory (peak RSS printed as a JSON line and
//! recorded in the README); replicas serve each other's media.

use std::path::Path;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Digest;

use crate::process::Server;
use crate::s3::S3Server;

const KEY: &str = "mirror-test-key-0123456789abcdef";

fn emulator(dir: &Path, extra: &str) -> Server {
    let config = dir.join("emulator.toml");
    std::fs::write(
        &config,
        format!(
            "queue_time = \"50ms\"\nprocessing_time = \"300ms\"\npull_wait = \"1s\"\nfps = 8\n{extra}\n\
             [[accounts]]\nsecret_id = \"AKIDmirror\"\nsecret_key = \"mirror-upstream-key\"\nsub_app_id = 778\nconcurrency = 2\n"
        ),
    )
    .unwrap();
    Server::emulator(dir, &config)
}

fn env(upstream: &str, s3: &S3Server) -> Vec<(&'static str, String)> {
    let mut env = vec![
        ("TENCENTCLOUD_SECRET_ID", "AKIDmirror".to_owned()),
        ("TENCENTCLOUD_SECRET_KEY", "mirror-upstream-key".to_owned()),
        ("VIDGATE_TENCENT_SUBAPP_ID", "778".to_owned()),
        ("VIDGATE_TENCENT_ENDPOINT", upstream.to_owned()),
        ("VIDGATE_TENCENT__POLL_INITIAL", "200ms".to_owned()),
        ("VIDGATE_TENCENT__POLL_MAX", "300ms".to_owned()),
        ("VIDGATE_BOOTSTRAP_KEY", KEY.to_owned()),
        ("VIDGATE_QUEUE__LEASE", "1s".to_owned()),
        ("VIDGATE_WORKERS__REAPER_INTERVAL", "200ms".to_owned()),
        ("VIDGATE_WORKERS__IDLE_WAIT", "300ms".to_owned()),
        // The emulator's file URLs are on 127.0.0.1, which the egress guard refuses by default.
        ("VIDGATE_EGRESS_ALLOW", "127.0.0.0/8".to_owned()),
    ];
    env.extend(s3.env());
    env
}

fn start(dir: &Path, env: &[(&'static str, String)]) -> Server {
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Server::start(dir, &pairs)
}

async fn create(http: &reqwest::Client, base: &str, prompt: &str) -> String {
    let body = json!({"model_name": "Kling", "model_version": "2.1", "prompt": prompt,
        "output_config": {"duration": 5, "resolution": "720P", "aspect_ratio": "16:9"}});
    let r = http
        .post(format!("{base}/tencent-vod/v1/aigc-video"))
        .bearer_auth(KEY)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.json::<Value>().await.unwrap()["request_id"].as_str().unwrap().to_owned()
}

/// Polls the result until it is there (real time: these are real processes).
async fn result(http: &reqwest::Client, base: &str, id: &str, within: Duration) -> Value {
    let started = Instant::now();
    loop {
        let r = http
            .get(format!("{base}/tencent-vod/v1/aigc-video/requests/{id}"))
            .bearer_auth(KEY)
            .send()
            .await;
        if let Ok(r) = r
            && r.status() == StatusCode::OK
        {
            return r.json().await.unwrap();
        }
        assert!(started.elapsed() < within, "request {id} did not finish within {within:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn sha_of(http: &reqwest::Client, url: &str) -> (String, u64) {
    let mut r = http.get(url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{url}");
    let (mut hash, mut n) = (sha2::Sha256::new(), 0u64);
    while let Some(chunk) = r.chunk().await.unwrap() {
        n += chunk.len() as u64;
        hash.update(&chunk);
    }
    (hex::encode(hash.finalize()), n)
}

async fn emulator_stats(http: &reqwest::Client, upstream: &str) -> Value {
    http.get(format!("{upstream}/__emulator/stats")).send().await.unwrap().json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_killed_midway_is_made_again_and_never_served_half() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = S3Server::start();
    // 24 MB at 6 MB/s: the copy takes about four seconds.
    let upstream = emulator(dir.path(), "output_padding = 24000000\nfile_rate = 6000000");
    let env = env(&upstream.base, &s3);
    let data = dir.path().join("vidgate");
    let http = reqwest::Client::new();
    let first = start(&data, &env);
    let id = create(&http, &first.base, "killed mid-copy").await;
    let started = Instant::now();
    while emulator_stats(&http, &upstream.base).await["file_downloads_started"] == 0 {
        assert!(started.elapsed() < Duration::from_secs(60), "the copy never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    first.kill9();
    let stats = emulator_stats(&http, &upstream.base).await;
    assert_eq!(stats["file_downloads_finished"], 0, "killed before the copy finished: {stats}");

    let second = start(&data, &env);
    let done = result(&http, &second.base, &id, Duration::from_secs(90)).await;
    let video = &done["video"];
    let source = video["source_url"].as_str().unwrap();
    assert!(source.starts_with(&upstream.base), "{done}");
    let url = video["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!(
            "{}/tencent-vod/v1/aigc-video/requests/{id}/content",
            second.base
        )),
        "{url}"
    );
    let (ours, size) = sha_of(&http, url).await;
    let (theirs, _) = sha_of(&http, source).await;
    assert_eq!(ours, theirs, "the kept file is the upstream's, whole");
    assert_eq!(video["sha256"], ours.as_str());
    assert_eq!(video["file_size"], size);
    assert!(size > 24_000_000);
    let stats = emulator_stats(&http, &upstream.base).await;
    assert_eq!(stats["create_accepted"], 1, "one upstream job: {stats}");
    assert!(stats["file_downloads_started"].as_u64().unwrap() >= 2, "copied again: {stats}");
}

/// `VmHWM` (peak resident memory) of a process, in bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_200_mb_output_is_mirrored_with_bounded_memory() {
    const PADDING: u64 = 200_000_000;
    let dir = tempfile::tempdir().unwrap();
    let s3 = S3Server::start();
    let upstream = emulator(dir.path(), &format!("output_padding = {PADDING}"));
    let server = start(&dir.path().join("vidgate"), &env(&upstream.base, &s3));
    let http = reqwest::Client::new();
    let before = peak_rss(server.pid());
    let id = create(&http, &server.base, "two hundred megabytes").await;
    let done = result(&http, &server.base, &id, Duration::from_secs(180)).await;
    let copied = peak_rss(server.pid());
    let video = &done["video"];
    let (ours, size) = sha_of(&http, video["url"].as_str().unwrap()).await;
    let served = peak_rss(server.pid());
    let (theirs, _) = sha_of(&http, video["source_url"].as_str().unwrap()).await;
    assert_eq!(ours, theirs);
    assert!(size > PADDING);
    println!(
        "{}",
        json!({"mirror_200mb": {"file_bytes": size, "peak_rss_before": before,
            "peak_rss_after_copy": copied, "peak_rss_after_serving": served}})
    );
    // Streamed: the peak stays far below the file (buffers: a few 8 MiB parts).
    assert!(served < 120 * 1024 * 1024, "peak RSS {served} bytes for a {size}-byte file");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_on_postgres_serve_each_others_media() {
    let Some(admin_url) = vidgate_store::postgres::testing::test_url() else { return };
    let (db_url, db_name) = crate::replicas::fresh_database(&admin_url).await;
    let dir = tempfile::tempdir().unwrap();
    let s3 = S3Server::start();
    let mut env = s3.env();
    env.extend([
        ("DATABASE_URL", db_url.clone()),
        ("VIDGATE_BOOTSTRAP_KEY", KEY.to_owned()),
        ("VIDGATE_SANDBOX__QUEUE_DELAY", "0s".to_owned()),
        ("VIDGATE_SANDBOX__PROCESSING_TIME", "300ms".to_owned()),
        ("VIDGATE_SANDBOX__POLL_INTERVAL", "100ms".to_owned()),
        ("VIDGATE_SANDBOX__FPS", "4".to_owned()),
        ("VIDGATE_WORKERS__IDLE_WAIT", "200ms".to_owned()),
    ]);
    // Separate data directories: nothing is shared but the database and the bucket.
    let a = start(&dir.path().join("a"), &env);
    let b = start(&dir.path().join("b"), &env);
    let http = reqwest::Client::new();
    let mut made = Vec::new();
    for (i, server) in [&a, &b, &a, &b].into_iter().enumerate() {
        let body = json!({"model_name": "Vidu", "model_version": "q2", "prompt": format!("shared {i}"),
            "output_config": {"duration": 1}});
        let r = http
            .post(format!("{}/tencent-vod/v1/aigc-video", server.base))
            .bearer_auth(KEY)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let id = r.json::<Value>().await.unwrap()["request_id"].as_str().unwrap().to_owned();
        made.push((server.base.clone(), id));
    }
    for (creator, id) in &made {
        let done = result(&http, creator, id, Duration::from_secs(60)).await;
        let url = done["video"]["url"].as_str().unwrap();
        let sha = done["video"]["sha256"].as_str().unwrap();
        for other in [&a.base, &b.base] {
            let there = url.replace(creator.as_str(), other);
            assert_eq!(sha_of(&http, &there).await.0, sha, "{there}");
            let cover =
                done["video"]["cover_url"].as_str().unwrap().replace(creator.as_str(), other);
            assert_eq!(http.get(&cover).send().await.unwrap().status(), StatusCode::OK);
        }
    }
    drop((a, b));
    crate::replicas::drop_database(&admin_url, &db_name).await;
}
