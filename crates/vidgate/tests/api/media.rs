//! The content route over the local media store: signed URLs from the result open the file
//! without a key until they expire, `Range`/`HEAD`/`ETag` are exact, another key's content is
//! 404, the owner can delete it (410 after), and the janitor deletes it when its retention
//! (global, or the key's own) ends.

use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Digest;

use crate::helpers::TestApp;

fn clip(prompt: &str) -> Value {
    json!({"model_name": "Vidu", "model_version": "q2", "prompt": prompt, "output_config": {"duration": 1}})
}

async fn finished(app: &TestApp, prompt: &str) -> (String, Value) {
    let id = app.create(&clip(prompt)).await;
    app.drive_to_completion().await;
    let (code, _, result) = app.result(&id).await;
    assert_eq!(code, StatusCode::OK, "{result}");
    (id, result)
}

#[tokio::test]
async fn signed_urls_serve_exact_bytes_ranges_and_etags() {
    let app = TestApp::spawn().await;
    let (id, result) = finished(&app, "ranges").await;
    let url = result["video"]["url"].as_str().unwrap();
    let size = result["video"]["file_size"].as_u64().unwrap();
    let sha = result["video"]["sha256"].as_str().unwrap();

    let whole = app.http.get(url).send().await.unwrap();
    assert_eq!(whole.status(), StatusCode::OK);
    assert_eq!(whole.headers()["content-type"], "video/mp4");
    assert_eq!(whole.headers()["accept-ranges"], "bytes");
    assert_eq!(whole.headers()["etag"], format!("\"{sha}\"").as_str());
    let bytes = whole.bytes().await.unwrap();
    assert_eq!(bytes.len() as u64, size);
    assert_eq!(hex::encode(sha2::Sha256::digest(&bytes)), sha, "the checksum is the file's");

    let part = app.http.get(url).header("Range", "bytes=100-199").send().await.unwrap();
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.headers()["content-range"], format!("bytes 100-199/{size}").as_str());
    assert_eq!(part.bytes().await.unwrap(), bytes.slice(100..200));
    let tail = app.http.get(url).header("Range", "bytes=-10").send().await.unwrap();
    assert_eq!(tail.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(tail.bytes().await.unwrap(), bytes.slice(bytes.len() - 10..));
    let outside = app.http.get(url).header("Range", format!("bytes={size}-")).send().await.unwrap();
    assert_eq!(outside.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(outside.headers()["content-range"], format!("bytes */{size}").as_str());

    let head = app.http.head(url).send().await.unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(head.headers()["content-length"], size.to_string().as_str());
    assert!(head.bytes().await.unwrap().is_empty());
    let cached =
        app.http.get(url).header("If-None-Match", format!("\"{sha}\"")).send().await.unwrap();
    assert_eq!(cached.status(), StatusCode::NOT_MODIFIED);

    // The cover, and the owner's key instead of a token.
    let cover = app.http.get(result["video"]["cover_url"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(cover.headers()["content-type"], "image/jpeg");
    let route = app.url(&format!("/tencent-vod/v1/aigc-video/requests/{id}/content"));
    let keyed = app.http.get(&route).bearer_auth(&app.key).send().await.unwrap();
    assert_eq!(keyed.bytes().await.unwrap(), bytes);
    let bad = app
        .http
        .get(format!("{route}?variant=thumbnail"))
        .bearer_auth(&app.key)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn altered_expired_or_misapplied_tokens_open_nothing() {
    let app = TestApp::spawn().await;
    let (_, result) = finished(&app, "tokens").await;
    let url = result["video"]["url"].as_str().unwrap().to_owned();
    let (head, token) = url.split_once("&token=").unwrap();
    let (expiry, sig) = token.split_once('.').unwrap();
    let later = expiry.parse::<i64>().unwrap() + 86_400;
    let forged = [
        format!("{head}&token={later}.{sig}"),
        format!("{head}&token={expiry}.{}", sig.replace(&sig[..2], "AA")),
        url.replace("variant=video", "variant=cover"),
    ];
    for bad in &forged {
        let r = app.http.get(bad).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{bad}");
    }
    assert_eq!(app.http.get(&url).send().await.unwrap().status(), StatusCode::OK);
    // Past media.url_ttl (24 h by default) the URL is refused; the result hands out a new one.
    app.advance(24 * 3_600_000 + 1000);
    assert_eq!(app.http.get(&url).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    let (_, _, fresh) = app.result(result_id(&result)).await;
    let fresh = fresh["video"]["url"].as_str().unwrap();
    assert_ne!(fresh, url);
    assert_eq!(app.http.get(fresh).send().await.unwrap().status(), StatusCode::OK);
}

fn result_id(result: &Value) -> &str {
    let url = result["video"]["url"].as_str().unwrap();
    url.split("/requests/").nth(1).unwrap().split('/').next().unwrap()
}

#[tokio::test]
async fn the_owner_deletes_media_and_retention_ends_it() {
    let app =
        TestApp::spawn_with(|c| c.media.retention = std::time::Duration::from_secs(3600)).await;
    let (id, result) = finished(&app, "deleted").await;
    let url = result["video"]["url"].as_str().unwrap();
    let expires =
        chrono::DateTime::parse_from_rfc3339(result["video"]["expires_at"].as_str().unwrap())
            .unwrap();
    let in_secs = expires.timestamp() - app.clock_now() / 1000;
    assert!((3590..=3600).contains(&in_secs), "expires in {in_secs} s");
    let route = app.url(&format!("/tencent-vod/v1/aigc-video/requests/{id}/content"));
    let other = app.new_key("other").await;
    let theirs = app.http.delete(&route).bearer_auth(&other).send().await.unwrap();
    assert_eq!(theirs.status(), StatusCode::NOT_FOUND);
    let gone = app.http.delete(&route).bearer_auth(&app.key).send().await.unwrap();
    assert_eq!(gone.status(), StatusCode::OK);
    let body: Value = gone.json().await.unwrap();
    assert_eq!(body["deleted"], json!(["cover", "video"]));
    let after = app.http.get(url).send().await.unwrap();
    assert_eq!(after.status(), StatusCode::GONE);
    assert_eq!(after.json::<Value>().await.unwrap()["error_type"], "media_deleted");
    let again = app.http.delete(&route).bearer_auth(&app.key).send().await.unwrap();
    assert_eq!(again.json::<Value>().await.unwrap()["deleted"], json!([]));
    // The result stays readable.
    assert_eq!(app.result(&id).await.0, StatusCode::OK);

    // Retention: kept until it ends, then the janitor deletes it (410 from then on).
    let (_, kept) = finished(&app, "kept an hour").await;
    let kept_url = kept["video"]["url"].as_str().unwrap();
    vidgate_workers::Worker::run_once(app.workers.janitor.as_ref()).await.unwrap();
    assert_eq!(app.http.get(kept_url).send().await.unwrap().status(), StatusCode::OK);
    app.advance(3_601_000);
    vidgate_workers::Worker::run_once(app.workers.janitor.as_ref()).await.unwrap();
    let (_, _, fresh) = app.result(result_id(&kept)).await;
    let fresh = fresh["video"]["url"].as_str().unwrap();
    assert_eq!(app.http.get(fresh).send().await.unwrap().status(), StatusCode::GONE);
}
