//! Secrets stay secret through a full run of the real binaries: the upstream secret key never
//! reaches a log line (at debug level), an answer, or an error, on success or on failure.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::process::Server;

const SECRET_KEY: &str = "SecretKeyThatMustNeverBeLogged0042";
const API_KEY: &str = "api-key-for-the-secrets-test";

fn emulator_config(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("emulator.toml");
    std::fs::write(
        &path,
        format!(
            r#"
queue_time = "100ms"
processing_time = "800ms"
pull_wait = "1s"
fps = 4
[[accounts]]
secret_id = "AKIDsecretsTest"
secret_key = "{SECRET_KEY}"
sub_app_id = 1234
concurrency = 2
[faults]
internal_error = 0.2
drop = 0.1
seed = 3
"#
        ),
    )
    .unwrap();
    path
}

async fn run_requests(base: &str, n: usize) -> Vec<Value> {
    let http = reqwest::Client::new();
    let mut ids = Vec::new();
    for i in 0..n {
        let body = json!({"model_name": "Vidu", "model_version": "q2", "prompt": format!("secret test {i}"), "output_config": {"duration": 1}});
        let r: Value = http
            .post(format!("{base}/tencent-vod/v1/aigc-video"))
            .bearer_auth(API_KEY)
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        ids.push(r["request_id"].as_str().unwrap().to_owned());
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut done = Vec::new();
    for id in ids {
        loop {
            let s: Value = http
                .get(format!("{base}/tencent-vod/v1/aigc-video/requests/{id}/status?logs=1"))
                .bearer_auth(API_KEY)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if s["status"] == "COMPLETED" {
                let result = http
                    .get(format!("{base}/tencent-vod/v1/aigc-video/requests/{id}"))
                    .bearer_auth(API_KEY)
                    .send()
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap();
                done.push(json!({"status": s, "result": result}));
                break;
            }
            assert!(Instant::now() < deadline, "request {id} did not finish");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    done
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_upstream_secret_key_never_reaches_logs_answers_or_errors() {
    let dir = tempfile::tempdir().unwrap();
    let emulator = Server::emulator(dir.path(), &emulator_config(dir.path()));
    let env = |key: &'static str| {
        vec![
            ("TENCENTCLOUD_SECRET_ID", "AKIDsecretsTest".to_owned()),
            ("TENCENTCLOUD_SECRET_KEY", key.to_owned()),
            ("VIDGATE_TENCENT_SUBAPP_ID", "1234".to_owned()),
            ("VIDGATE_TENCENT_ENDPOINT", emulator.base.clone()),
            ("VIDGATE_TENCENT__POLL_INITIAL", "200ms".to_owned()),
            ("VIDGATE_TENCENT__POLL_MAX", "500ms".to_owned()),
            ("VIDGATE_QUEUE__RETRY_INITIAL", "100ms".to_owned()),
            ("VIDGATE_QUEUE__MAX_SUBMIT_ATTEMPTS", "30".to_owned()),
            ("VIDGATE_BOOTSTRAP_KEY", API_KEY.to_owned()),
            ("VIDGATE_LOG__FORMAT", "json".to_owned()),
            ("RUST_LOG", "debug".to_owned()),
        ]
    };
    // A run that succeeds (through injected faults), then one whose key is wrong.
    for (key, should_succeed) in [(SECRET_KEY, true), ("WrongSecretKeyAlsoNeverLogged99", false)] {
        let data = tempfile::tempdir().unwrap();
        let log = data.path().join("vidgate.log");
        let vars = env(key);
        let pairs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let server = Server::start_logged(data.path(), &pairs, &log);
        let answers = run_requests(&server.base, 3).await;
        let config_dump = reqwest::get(format!("{}/openapi.json", server.base))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        server.terminate();
        for a in &answers {
            assert_eq!(a["status"]["error"].is_null(), should_succeed, "{a}");
        }
        let logs = std::fs::read_to_string(&log).unwrap();
        assert!(logs.lines().count() > 10, "debug logs were written");
        for text in [logs.as_str(), &serde_json::to_string(&answers).unwrap(), &config_dump] {
            assert!(!text.contains(key), "the secret key appeared");
            assert!(!text.contains(&key[..16]), "part of the secret key appeared");
        }
        assert!(!logs.contains(API_KEY), "the API key appeared in the log");
    }
    drop(emulator);
}
