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
    let app = TestApp::spawn_with(with_bootstrap("automation-key-1234567890abc")).await;
    assert!(app.key.is_empty(), "no first key when a bootstrap key is set");
    assert_eq!(
        app.post_create_as("automation-key-1234567890abc", &small_request("x")).await.0,
        StatusCode::OK
    );
    let keys = app.store.list_keys().await.unwrap();
    assert_eq!(keys.iter().map(|k| k.name.as_str()).collect::<Vec<_>>(), vec!["bootstrap"]);
    assert_eq!(
        app.post_create_as("automation-key-wrong", &small_request("x")).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_revoked_keys_name_does_not_block_a_restart_and_can_be_used_again() {
    let app = TestApp::spawn().await;
    let old = app.key.clone();
    assert!(app.store.revoke_key("default", app.clock_now()).await.unwrap());
    let app = app.restart().await;
    let keys = app.store.list_keys().await.unwrap();
    let active: Vec<_> = keys.iter().filter(|k| k.revoked_at.is_none()).collect();
    assert_eq!(active.len(), 1, "a new first key: {keys:?}");
    assert_eq!(active[0].name, "default");
    assert_eq!(app.post_create_as(&old, &small_request("x")).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_short_bootstrap_key_stops_startup_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = crate::helpers::test_config(dir.path());
    config.auth.bootstrap_key = vidgate::config::Secret::new("short-key-123");
    let built = vidgate::startup::Application::build(
        config,
        vidgate::startup::BuildOptions {
            workers: vidgate::startup::WorkerMode::Manual,
            announce_first_key: false,
            ..Default::default()
        },
    )
    .await;
    let Err(e) = built else { panic!("a 13-character bootstrap key was accepted") };
    let message = format!("{e:#}");
    assert!(message.contains("at least 24 characters"), "{message}");
    assert!(!message.contains("short-key-123"), "the value is not echoed: {message}");
}

#[tokio::test]
async fn the_bootstrap_key_shows_a_short_prefix_stays_revoked_and_goes_when_unset() {
    const BOOT: &str = "automation-key-1234567890abc";
    let app = TestApp::spawn_with(with_bootstrap(BOOT)).await;
    let keys = app.store.list_keys().await.unwrap();
    assert_eq!(keys[0].prefix, "auto", "no more of the value than a short prefix");
    assert!(app.store.revoke_key("bootstrap", app.clock_now()).await.unwrap());
    let app = app.restart().await;
    assert_eq!(
        app.post_create_as(BOOT, &small_request("x")).await.0,
        StatusCode::UNAUTHORIZED,
        "a revoked bootstrap key stays revoked after a restart"
    );
    // A new value works; unsetting the variable disables it.
    const NEXT: &str = "automation-key-second-value-0";
    let app = app.restart_with(|c| c.auth.bootstrap_key = vidgate::config::Secret::new(NEXT)).await;
    assert_eq!(app.post_create_as(NEXT, &small_request("x")).await.0, StatusCode::OK);
    let app = app.restart_with(|c| c.auth.bootstrap_key = vidgate::config::Secret::new("")).await;
    assert_eq!(app.post_create_as(NEXT, &small_request("y")).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn unknown_keys_are_throttled_per_client_before_the_store_is_asked() {
    let app = TestApp::spawn_with(|c| {
        c.limits.unauthenticated_rate = 1.0;
        c.limits.unauthenticated_burst = 5;
    })
    .await;
    let status = |key: String| {
        let app = &app;
        async move { app.status_as(&key, "019ab2c0-0000-7000-8000-000000000000", false).await.0 }
    };
    assert_eq!(status(app.key.clone()).await, StatusCode::NOT_FOUND, "a real key, now cached");
    for i in 0..5 {
        assert_eq!(status(format!("vg_guess_{i}")).await, StatusCode::UNAUTHORIZED);
    }
    // The bucket of this client is empty: guesses get 429 without a lookup...
    assert_eq!(status("vg_guess_5".into()).await, StatusCode::TOO_MANY_REQUESTS);
    // ...a repeated unknown key is answered from memory, and a known key is not affected.
    assert_eq!(status("vg_guess_0".into()).await, StatusCode::UNAUTHORIZED);
    assert_eq!(status(app.key.clone()).await, StatusCode::NOT_FOUND);
    app.advance(1000);
    assert_eq!(status("vg_guess_6".into()).await, StatusCode::UNAUTHORIZED, "refilled");
}
