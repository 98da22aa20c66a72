//! Media belongs to the key that made it: its URLs open only with a signed token or the
//! owner's key, and a File id naming another key's media fails exactly as a missing one does.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, small_request};

fn from_cover(file_id: &str) -> Value {
    json!({"model_name": "Vidu", "model_version": "q2", "prompt": "from a cover",
        "file_infos": [{"type": "File", "file_id": file_id}],
        "output_config": {"duration": 1, "resolution": "720P"}})
}

#[tokio::test]
async fn another_keys_file_id_fails_like_a_missing_one_and_media_urls_are_unguessable() {
    let app = TestApp::spawn().await;
    let a = app.create(&small_request("a's clip")).await;
    app.drive_to_completion().await;
    let (_, _, result) = app.result(&a).await;
    let cover_id = result["video"]["cover_file_id"].as_str().unwrap().to_owned();
    let url = result["video"]["url"].as_str().unwrap().to_owned();
    // The URL is the content route with a signed token; without the token (and no key) it
    // opens nothing, and another key cannot read it.
    assert!(url.contains(&format!("/requests/{a}/content?variant=video&token=")), "{url}");
    assert_eq!(app.http.get(&url).send().await.unwrap().status(), StatusCode::OK);
    let bare = url.split("&token=").next().unwrap();
    assert_eq!(app.http.get(bare).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    let b_key = app.new_key("b").await;
    let as_b = app.http.get(bare).bearer_auth(&b_key).send().await.unwrap();
    assert_eq!(as_b.status(), StatusCode::NOT_FOUND, "another key's content is 404");
    // The old media directory route is gone.
    let old = app.http.get(app.url(&format!("/media/{a}/video.mp4"))).send().await.unwrap();
    assert_eq!(old.status(), StatusCode::NOT_FOUND);

    // The owner can use its cover as a first frame.
    let own = app.create(&from_cover(&cover_id)).await;
    // Key B names A's cover, and a cover id that never existed.
    let b = b_key;
    let theirs = app.post_create_as(&b, &from_cover(&cover_id)).await.2["request_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let fake = cover_id.replace(&a, "019ab2c0-0000-7000-8000-000000000000");
    let missing = app.post_create_as(&b, &from_cover(&fake)).await.2["request_id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.drive_to_completion().await;
    assert_eq!(app.result(&own).await.0, StatusCode::OK, "the owner's own cover works");
    let error_of = |id: String, key: String| {
        let app = &app;
        async move {
            let (_, status) = app.status_as(&key, &id, false).await;
            (status["error_type"].clone(), status["error"].as_str().unwrap_or_default().to_owned())
        }
    };
    let (their_type, their_error) = error_of(theirs, b.clone()).await;
    let (missing_type, missing_error) = error_of(missing, b.clone()).await;
    assert_eq!(their_type, "input_fetch_failed");
    assert_eq!(their_type, missing_type);
    assert_eq!(
        their_error.replace(&cover_id, "ID"),
        missing_error.replace(&fake, "ID"),
        "another key's media must look missing"
    );
}
