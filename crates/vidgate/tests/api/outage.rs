//! The store failing under vidgate: a full disk under SQLite answers 503 with Retry-After
//! (never 500), loses no committed request, and vidgate recovers when space returns.

use std::process::Command;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::small_request;
use crate::process::Server;

const KEY: &str = "outage-test-key-0123456789abc";

/// A small tmpfs mounted at a fresh directory, unmounted on drop; `None` where this process
/// may not mount (not root, or in a container that forbids it).
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(megabytes: u32) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"])
            .arg(dir.path())
            .output()
            .is_ok_and(|o| o.status.success());
        ok.then_some(SmallDisk { dir })
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.dir.path()).status();
    }
}

/// Fills the filesystem with one file; returns its path.
fn fill(dir: &std::path::Path) -> std::path::PathBuf {
    use std::io::Write;
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    let block = vec![0u8; 64 * 1024];
    while f.write_all(&block).is_ok() {}
    let _ = f.sync_all();
    path
}

#[tokio::test]
async fn a_full_disk_answers_503_loses_nothing_committed_and_recovers() {
    let Some(disk) = SmallDisk::mount(24) else {
        vidgate_store::postgres::testing::missing_prerequisite("a tmpfs mount (root)");
        return;
    };
    let data = disk.dir.path().join("data");
    let server = Server::start(
        &data,
        &[("VIDGATE_BOOTSTRAP_KEY", KEY), ("VIDGATE_SANDBOX__QUEUE_DELAY", "1h")],
    );
    let http = reqwest::Client::new();
    let create = |prompt: String| {
        http.post(format!("{}/tencent-vod/v1/aigc-video", server.base))
            .bearer_auth(KEY)
            .json(&small_request(&prompt))
            .send()
    };
    let mut committed = Vec::new();
    for i in 0..5 {
        let r = create(format!("before {i}")).await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        committed.push(r.json::<Value>().await.unwrap()["request_id"].as_str().unwrap().to_owned());
    }
    let filler = fill(disk.dir.path());
    let mut refused = 0;
    for i in 0..20 {
        let r = create(format!("during {i} {}", "x".repeat(1_900))).await.unwrap();
        match r.status() {
            StatusCode::OK => committed
                .push(r.json::<Value>().await.unwrap()["request_id"].as_str().unwrap().to_owned()),
            StatusCode::SERVICE_UNAVAILABLE => {
                assert!(r.headers().contains_key("retry-after"));
                let body: Value = r.json().await.unwrap();
                assert_eq!(body["error_type"], "unavailable", "{body}");
                refused += 1;
            }
            other => panic!("a full disk answered {other}: {}", r.text().await.unwrap()),
        }
    }
    assert!(refused > 0, "the disk never filled up");
    std::fs::remove_file(&filler).unwrap();
    let mut recovered = false;
    for i in 0..50 {
        let r = create(format!("after {i}")).await.unwrap();
        if r.status() == StatusCode::OK {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(recovered, "vidgate did not recover once space returned");
    for id in &committed {
        let r = http
            .get(format!("{}/tencent-vod/v1/aigc-video/requests/{id}/status", server.base))
            .bearer_auth(KEY)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::ACCEPTED, "committed request {id} is there");
    }
    eprintln!("full disk: {} committed, {refused} refused with 503", committed.len());
    drop(server);
}
