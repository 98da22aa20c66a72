//! The egress guard holds against the environment: a proxy named in `HTTP_PROXY`/`ALL_PROXY`
//! would resolve a target's name itself, past the guard, so the guarded clients use none.

use std::io::Read;
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::process::Server;

const API_KEY: &str = "api-key-for-the-egress-proxy-test";

/// A "proxy" on loopback that counts the connections it gets and what they asked for.
fn fake_proxy() -> (String, Arc<AtomicUsize>, Arc<std::sync::Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (count, seen) = (Arc::new(AtomicUsize::new(0)), Arc::new(std::sync::Mutex::new(vec![])));
    let (c, s) = (count.clone(), seen.clone());
    std::thread::spawn(move || {
        for conn in listener.incoming().map_while(Result::ok) {
            c.fetch_add(1, Ordering::SeqCst);
            let mut conn = conn;
            let _ = conn.set_read_timeout(Some(Duration::from_millis(500)));
            let mut buf = [0u8; 512];
            let n = conn.read(&mut buf).unwrap_or(0);
            s.lock().unwrap().push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    });
    (url, count, seen)
}

async fn wait_completed(http: &reqwest::Client, base: &str, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let s: Value = http
            .get(format!("{base}/tencent-vod/v1/aigc-video/requests/{id}/status"))
            .bearer_auth(API_KEY)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if s["status"] == "COMPLETED" {
            return s;
        }
        assert!(Instant::now() < deadline, "request {id} did not complete: {s}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_proxy_from_the_environment_never_sees_guarded_traffic() {
    let dir = tempfile::tempdir().unwrap();
    let (proxy, connections, seen) = fake_proxy();
    let server = Server::start(
        dir.path(),
        &[
            ("VIDGATE_BOOTSTRAP_KEY", API_KEY),
            ("HTTP_PROXY", &proxy),
            ("HTTPS_PROXY", &proxy),
            ("ALL_PROXY", &proxy),
            ("http_proxy", &proxy),
            ("https_proxy", &proxy),
            ("all_proxy", &proxy),
            ("NO_PROXY", ""),
        ],
    );
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    // An input image and a webhook, both named by a host that resolves to loopback.
    let body = json!({"model_name": "Vidu", "model_version": "q2", "prompt": "proxy test",
        "file_infos": [{"type": "Url", "url": "http://localhost:9/internal-admin.png"}],
        "webhook_url": "http://localhost:9/internal-admin",
        "output_config": {"duration": 1, "resolution": "720P", "aspect_ratio": "1:1"}});
    let handle: Value = http
        .post(format!("{}/tencent-vod/v1/aigc-video", server.base))
        .bearer_auth(API_KEY)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = handle["request_id"].as_str().expect("accepted").to_owned();
    let status = wait_completed(&http, &server.base, &id).await;
    assert!(
        status["error"].as_str().unwrap_or_default().contains("not resolve to any allowed"),
        "the guard refused the image: {status}"
    );
    // The webhook's first attempt has been made (and refused by the guard) once it is listed.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let attempts: Value = http
            .get(format!("{}/tencent-vod/v1/aigc-video/requests/{id}/webhooks", server.base))
            .bearer_auth(API_KEY)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if attempts.to_string().contains("allowed address") {
            break;
        }
        assert!(Instant::now() < deadline, "the webhook was not attempted: {attempts}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        connections.load(Ordering::SeqCst),
        0,
        "the proxy saw guarded traffic: {:?}",
        seen.lock().unwrap()
    );
    drop(server);
}
