//! The sandbox renders locally: a clip longer or larger than its configured maximum is
//! refused at create, with the field that is too big, however lenient the model's rules.
//! (The default maximum is 4K; this test sets 1080P to see both fields refused.)

use reqwest::StatusCode;
use serde_json::json;
use vidgate_domain::Pool;

use crate::helpers::TestApp;

#[tokio::test]
async fn a_clip_beyond_the_sandboxs_maximum_is_refused_at_create() {
    let app = TestApp::spawn_with(|c| c.sandbox.max_resolution = "1080P".into()).await;
    // Hunyuan's rules accept any duration and resolution.
    let huge = json!({"model_name": "Hunyuan", "model_version": "1.5", "prompt": "endless",
        "output_config": {"duration": 600, "resolution": "4K", "aspect_ratio": "16:9"}});
    let (code, _, body) = app.post_create(&huge).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let locs: Vec<String> =
        body["detail"].as_array().unwrap().iter().map(|d| d["loc"].to_string()).collect();
    assert_eq!(
        locs,
        vec![r#"["body","output_config","duration"]"#, r#"["body","output_config","resolution"]"#],
        "{body}"
    );
    assert_eq!(body["detail"][0]["type"], "provider_limit");
    assert_eq!(app.store.queue_stats(Pool::Sandbox).await.unwrap().queued, 0, "nothing stored");
    // At the limits it is accepted.
    let edge = json!({"model_name": "Hunyuan", "model_version": "1.5", "prompt": "long enough",
        "output_config": {"duration": 30, "resolution": "1080P", "aspect_ratio": "16:9"}});
    assert_eq!(app.post_create(&edge).await.0, StatusCode::OK);
}
