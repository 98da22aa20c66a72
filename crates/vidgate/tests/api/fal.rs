//! fal's official Python client (`fal-client`, from PyPI, pinned) drives vidgate unchanged over
//! HTTPS: submit, subscribe with logs, status and result by handle and by id, cancel. Only
//! `FAL_KEY`, `FAL_QUEUE_RUN_HOST` and (for the test's own certificate) `SSL_CERT_FILE` differ
//! from talking to fal itself.

use std::process::Command;

use serde_json::Value;

use crate::helpers::venv_python;
use crate::process::Server;

const KEY: &str = "fal-compat-key-0123456789";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fals_python_client_works_against_vidgate_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    let env = [
        ("VIDGATE_BOOTSTRAP_KEY", KEY),
        ("VIDGATE_SANDBOX__CONCURRENCY", "1"),
        ("VIDGATE_SANDBOX__QUEUE_DELAY", "100ms"),
        ("VIDGATE_SANDBOX__PROCESSING_TIME", "700ms"),
        ("VIDGATE_SANDBOX__POLL_INTERVAL", "100ms"),
        ("VIDGATE_SANDBOX__FPS", "4"),
        ("VIDGATE_WORKERS__IDLE_WAIT", "100ms"),
    ];
    let server = Server::start_tls(dir.path(), &env, &cert_path, &key_path);
    let host = server.base.trim_start_matches("https://").to_owned();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fal/fal_client_check.py");
    let python = venv_python();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(script)
            .env("FAL_KEY", KEY)
            .env("FAL_QUEUE_RUN_HOST", &host)
            .env("SSL_CERT_FILE", &cert_path)
            .output()
            .expect("run the fal client")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "fal client failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Value =
        serde_json::from_str(stdout.lines().last().unwrap_or_default()).expect("the script's JSON");
    assert!(
        seen["subscribe_video_url"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}/tencent-vod/v1/aigc-video/requests/", server.base)),
        "{seen}"
    );
    let kinds = seen["subscribe_update_kinds"].as_array().unwrap();
    assert!(kinds.contains(&Value::from("InProgress")), "{seen}");
    let logs: Vec<&str> = seen["subscribe_log_messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    assert!(logs.iter().any(|m| m.starts_with("dispatched")), "logs reached the client: {logs:?}");
    assert!(["Queued", "InProgress"].contains(&seen["first_status"].as_str().unwrap()), "{seen}");
    assert!(
        ["Queued", "InProgress", "Completed"].contains(&seen["status_by_id"].as_str().unwrap()),
        "{seen}"
    );
    assert_eq!(seen["handle_result_width"], 1280);
    assert_eq!(seen["result_by_id_same"], true);
    assert!(
        seen["completed_metrics"].as_array().unwrap().contains(&Value::from("inference_time")),
        "{seen}"
    );
    assert_eq!(seen["waiting_status"], "Queued");
    assert_eq!(seen["waiting_position"], 0);
    assert_eq!(seen["cancelled_error_type"], "request_cancelled");
    assert_eq!(seen["cancelled_result"], 400, "a cancelled request's result is an error");
}
