//! Keys at startup: the first key, and the bootstrap key for automation.

use reqwest::StatusCode;

use crate::helpers::{TestApp, small_request, with_bootstrap};

#[tokio::test]
async fn a_first_start_with_no_key_creates_one_that_works() {
    let app = TestApp::spawn().await;
    assert!(app.key.starts_with("vg_") && app.key.len() == 43, "{}", app.key);
    assert_eq!(app.post_create(&small_request("x")).await.0, StatusCode::OK);
    let keys = app.store.list_keys().await.unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].name, "default");
    assert!(app.key.starts_with(&keys[0].prefix));
}

#[tokio::test]
async fn the_bootstrap_key_is_accepted_and_no_other_key_is_made() {
    let app = TestApp::spawn_with(with_bootstrap("automation-key-123456")).await;
    assert!(app.key.is_empty(), "no first key when a bootstrap key is set");
    assert_eq!(
        app.post_create_as("automation-key-123456", &small_request("x")).await.0,
        StatusCode::OK
    );
    let keys = app.store.list_keys().await.unwrap();
    assert_eq!(keys.iter().map(|k| k.name.as_str()).collect::<Vec<_>>(), vec!["bootstrap"]);
    assert_eq!(
        app.post_create_as("automation-key-wrong", &small_request("x")).await.0,
        StatusCode::UNAUTHORIZED
    );
}
