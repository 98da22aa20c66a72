//! The media store on real S3-protocol object storage: `s3s-fs` (built by
//! `scripts/install-deps.sh` into `.tools/`) on 127.0.0.1. The sandbox renders into the
//! bucket, the content route serves it byte-exact (whole and ranged) through vidgate, and in
//! redirect mode answers with a presigned URL the object store itself honours.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Digest;

use crate::helpers::TestApp;

const ACCESS: &str = "vidgate-test-access";
const SECRET: &str = "vidgate-test-secret-0123456789";
const BUCKET: &str = "media";

/// An `s3s-fs` process serving a temporary directory; killed on drop.
pub struct S3Server {
    child: Child,
    pub endpoint: String,
    _root: tempfile::TempDir,
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn binary() -> PathBuf {
    if let Ok(path) = std::env::var("VIDGATE_TEST_S3FS") {
        return path.into();
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let path = repo.join(".tools/bin/s3s-fs");
    assert!(
        path.exists(),
        "s3s-fs is missing: run scripts/install-deps.sh (it builds it into .tools/)"
    );
    path
}

impl S3Server {
    pub fn start() -> S3Server {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join(BUCKET)).unwrap();
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(binary())
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", ACCESS, "--secret-key", SECRET])
            .arg(root.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start s3s-fs");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(20), "s3s-fs did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        S3Server { child, endpoint: format!("http://127.0.0.1:{port}"), _root: root }
    }

    /// The same settings as environment variables, for `vidgate serve` processes.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("VIDGATE_MEDIA__STORE", "s3".into()),
            ("VIDGATE_MEDIA__S3__ENDPOINT", self.endpoint.clone()),
            ("VIDGATE_MEDIA__S3__BUCKET", BUCKET.into()),
            ("VIDGATE_MEDIA__S3__ACCESS_KEY_ID", ACCESS.into()),
            ("VIDGATE_MEDIA__S3__SECRET_ACCESS_KEY", SECRET.into()),
        ]
    }

    pub fn configure(&self, c: &mut vidgate::config::Config) {
        c.media.store = vidgate::config::MediaStoreKind::S3;
        c.media.s3.endpoint = Some(self.endpoint.clone());
        c.media.s3.bucket = BUCKET.into();
        c.media.s3.access_key_id = Some(ACCESS.into());
        c.media.s3.secret_access_key = Some(vidgate::config::Secret::new(SECRET));
        c.media.s3.path_style = true;
    }
}

async fn rendered(app: &TestApp) -> (String, Value) {
    let id = app
        .create(&json!({"model_name": "Vidu", "model_version": "q2", "prompt": "into s3", "output_config": {"duration": 1}}))
        .await;
    app.drive_to_completion().await;
    let (code, _, result) = app.result(&id).await;
    assert_eq!(code, StatusCode::OK, "{result}");
    (id, result)
}

#[tokio::test]
async fn renders_go_into_the_bucket_and_are_served_byte_exact() {
    let s3 = S3Server::start();
    let app = TestApp::spawn_with(|c| s3.configure(c)).await;
    let (id, result) = rendered(&app).await;
    let url = result["video"]["url"].as_str().unwrap();
    let sha = result["video"]["sha256"].as_str().unwrap();
    let bytes = app.http.get(url).send().await.unwrap().bytes().await.unwrap();
    assert_eq!(hex::encode(sha2::Sha256::digest(&bytes)), sha);
    assert_eq!(bytes.len() as u64, result["video"]["file_size"].as_u64().unwrap());
    let part = app.http.get(url).header("Range", "bytes=1000-1999").send().await.unwrap();
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.bytes().await.unwrap(), bytes.slice(1000..2000));
    // Nothing under the data directory: the bucket holds it.
    assert!(!app.data_dir.join("media").exists());
    // Deleting removes the object from the bucket.
    let route = app.url(&format!("/tencent-vod/v1/aigc-video/requests/{id}/content"));
    let gone = app.http.delete(&route).bearer_auth(&app.key).send().await.unwrap();
    assert_eq!(gone.status(), StatusCode::OK);
    assert_eq!(app.http.get(url).send().await.unwrap().status(), StatusCode::GONE);
}

#[tokio::test]
async fn redirect_mode_hands_out_presigned_urls_the_store_honours() {
    let s3 = S3Server::start();
    let app = TestApp::spawn_with(|c| {
        s3.configure(c);
        c.media.serve = vidgate_api::ServeMode::Redirect;
    })
    .await;
    let (_, result) = rendered(&app).await;
    let url = result["video"]["url"].as_str().unwrap();
    let no_redirects =
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let r = no_redirects.get(url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::TEMPORARY_REDIRECT);
    let presigned = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        presigned.starts_with(&s3.endpoint) && presigned.contains("X-Amz-Signature="),
        "{presigned}"
    );
    let bytes = reqwest::get(&presigned).await.unwrap().bytes().await.unwrap();
    assert_eq!(
        hex::encode(sha2::Sha256::digest(&bytes)),
        result["video"]["sha256"].as_str().unwrap()
    );
    let altered = presigned.replace("X-Amz-Signature=", "X-Amz-Signature=0");
    let refused = reqwest::get(&altered).await.unwrap().status();
    assert!(refused.is_client_error(), "an altered signature is refused: {refused}");
}
