//! The model catalog as data: an operator adds a made-up version through the catalog file and
//! another through `PUT /admin/models/...`; creates for both are accepted with their own
//! limits on both fronts and rendered, without a restart; the listing says where each entry
//! comes from; the change reaches another replica; the emulator loads the same file. On
//! SQLite and PostgreSQL.

use std::path::Path;
use std::sync::Arc;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use vidgate_domain::ManualClock;

use crate::admin::call;
use crate::helpers::{TestApp, ffprobe};
use crate::upstream::{Upstream, drive, use_upstream};

/// An operator's catalog file: a made-up Kling version with its own limits, price and alias,
/// and a made-up model.
const OPERATOR_FILE: &str = r#"
[[models]]
name = "Kling"

[[models.versions]]
name = "5.0-file"
as_of = "2026-12-06"
source = "operator file test"
rules = { durations = { min = 2, max = 7 }, default_duration = 2.0 }
aliases = ["kling-file-five"]

[[models.versions.prices]]
per_second = 0.5
from = "2026-01-01"

[[models]]
name = "Jimeng"
as_of = "2026-12-06"
source = "operator file test"

[models.family]
durations = [4.0, 8.0]
default_duration = 4.0
resolutions = ["720P"]
default_resolution = "720P"

[[models.versions]]
name = "1.0"
"#;

fn write_file(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("models.toml");
    std::fs::write(&path, OPERATOR_FILE).unwrap();
    path
}

/// The listing's entry for a model's version, if listed.
async fn listed(app: &TestApp, model: &str, version: &str) -> Option<Value> {
    let (_, models) = app.get_json("/tencent-vod/v1/models").await;
    let m = models["models"].as_array()?.iter().find(|m| m["name"] == model)?.clone();
    m["versions"].as_array()?.iter().find(|v| v["version"] == version).cloned()
}

fn kling(version: &str, duration: u32) -> Value {
    json!({"model_name": "Kling", "model_version": version, "prompt": "operator catalog",
           "output_config": {"duration": duration}})
}

/// The length ffprobe reads from a request's rendered video.
async fn rendered_seconds(app: &TestApp, id: &str) -> f64 {
    let (code, _, result) = app.result(id).await;
    assert_eq!(code, StatusCode::OK, "{result}");
    let url = result["video"]["url"].as_str().expect("a video url").to_owned();
    let path = app.download(&url, &format!("{id}.mp4")).await;
    ffprobe(&path).duration
}

async fn operator_entries_are_sold_without_a_restart(db_url: Option<String>) {
    let files = tempfile::tempdir().unwrap();
    let file = write_file(files.path());
    let tweak = |c: &mut vidgate::config::Config, file: &Path, db: &Option<String>| {
        c.rules.catalog = Some(file.to_path_buf());
        if let Some(url) = db {
            c.store.database_url = vidgate::config::Secret::new(url.clone());
        }
    };
    let app = TestApp::spawn_with(|c| tweak(c, &file, &db_url)).await;
    let admin = app.key.clone();

    // The file's entries: listed as the operator's, held to their own limits, priced by their
    // own row, reachable by alias on OpenAI's route, and rendered.
    let v = listed(&app, "Kling", "5.0-file").await.expect("the file's version is listed");
    assert_eq!((v["origin"].as_str(), v["as_of"].as_str()), (Some("operator"), Some("2026-12-06")));
    assert_eq!(v["durations"], json!({"kind": "whole", "min": 2, "max": 7}), "{v}");
    let built_in = listed(&app, "Kling", "2.1").await.unwrap();
    assert_eq!(built_in["origin"], "built_in");
    assert_eq!(listed(&app, "Jimeng", "1.0").await.unwrap()["origin"], "operator");
    let (code, _, err) = app.post_create(&kling("5.0-file", 8)).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "its own limits: {err}");
    assert_eq!(err["detail"][0]["loc"], json!(["body", "output_config", "duration"]), "{err}");
    let (code, _, handle) = app.post_create(&kling("5.0-file", 3)).await;
    assert_eq!(code, StatusCode::OK, "{handle}");
    let from_file = handle["request_id"].as_str().unwrap().to_owned();
    let (code, estimate) = call(
        &app,
        &admin,
        Method::POST,
        "/tencent-vod/v1/aigc-video/estimate",
        Some(kling("5.0-file", 4)),
    )
    .await;
    assert_eq!(
        (code, estimate["estimate"]["amount"].as_f64()),
        (StatusCode::OK, Some(2.0)),
        "4 s x 0.5: {estimate}"
    );
    let (code, video) = call(
        &app,
        &admin,
        Method::POST,
        "/v1/videos",
        Some(json!({"model": "kling-file-five", "prompt": "alias", "seconds": "2"})),
    )
    .await;
    assert_eq!(code, StatusCode::OK, "{video}");
    // OpenAI's `seconds` and `size` are held to the version's own limits too.
    let too_long = json!({"model": "kling-file-five", "prompt": "alias", "seconds": "8"});
    let (code, err) = call(&app, &admin, Method::POST, "/v1/videos", Some(too_long)).await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{err}");
    assert!(err["error"]["message"].as_str().unwrap_or_default().contains("8 s"), "{err}");
    let too_big =
        json!({"model": "kling-file-five", "prompt": "alias", "seconds": "4", "size": "2560x1440"});
    let (code, err) = call(&app, &admin, Method::POST, "/v1/videos", Some(too_big)).await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{err}");
    assert!(err["error"]["message"].as_str().unwrap_or_default().contains("resolution"), "{err}");
    let jimeng = json!({"model_name": "Jimeng", "model_version": "1.0", "prompt": "new model"});
    let (code, _, handle) = app.post_create(&jimeng).await;
    assert_eq!(code, StatusCode::OK, "{handle}");

    // The admin API: a version that does not exist yet is refused, then put, then sold.
    let put_path = "/admin/models/Kling/versions/5.1-api";
    let (code, _, _) = app.post_create(&kling("5.1-api", 3)).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "not in the catalog yet");
    let entry = json!({"as_of": "2026-12-07", "source": "ops ticket 42",
                       "rules": {"durations": {"min": 2, "max": 6}}, "aliases": ["kling-api"],
                       "prices": [{"per_second": 0.25, "from": "2026-01-01"}]});
    let user = app.new_key("catalog-user").await;
    let (code, _) = call(&app, &user, Method::PUT, put_path, Some(entry.clone())).await;
    assert_eq!(code, StatusCode::FORBIDDEN, "admin keys only");
    let bad = json!({"rules": {"durations": {"min": 6, "max": 2}}});
    let (code, err) = call(&app, &admin, Method::PUT, put_path, Some(bad)).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert!(err.to_string().contains("min = 6, max = 2"), "says what is wrong: {err}");
    let typo = json!({"rules": {"max_image": 2}});
    let (code, err) = call(&app, &admin, Method::PUT, put_path, Some(typo)).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert!(err.to_string().contains("max_image"), "names the unknown field: {err}");
    let (code, model) = call(&app, &admin, Method::PUT, put_path, Some(entry)).await;
    assert_eq!(code, StatusCode::OK, "{model}");
    let version =
        model["versions"].as_array().unwrap().iter().find(|v| v["version"] == "5.1-api").unwrap();
    assert_eq!(
        (version["origin"].as_str(), version["source"].as_str()),
        (Some("operator"), Some("ops ticket 42"))
    );
    let (code, _, err) = app.post_create(&kling("5.1-api", 7)).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "its own limits: {err}");
    let (code, _, handle) = app.post_create(&kling("5.1-api", 4)).await;
    assert_eq!(code, StatusCode::OK, "sold without a restart: {handle}");
    let from_api = handle["request_id"].as_str().unwrap().to_owned();
    // Priced by its own row (4 s x 0.25), and listed as the operator's.
    let (code, estimate) = call(
        &app,
        &admin,
        Method::POST,
        "/tencent-vod/v1/aigc-video/estimate",
        Some(kling("5.1-api", 4)),
    )
    .await;
    assert_eq!((code, estimate["estimate"]["amount"].as_f64()), (StatusCode::OK, Some(1.0)));
    let v = listed(&app, "Kling", "5.1-api").await.expect("listed");
    assert_eq!(
        (v["origin"].as_str(), v["source"].as_str()),
        (Some("operator"), Some("ops ticket 42"))
    );
    let (code, video) = call(
        &app,
        &admin,
        Method::POST,
        "/v1/videos",
        Some(json!({"model": "kling-api", "prompt": "alias"})),
    )
    .await;
    assert_eq!(code, StatusCode::OK, "{video}");
    let (_, audit) = app.get_json("/admin/audit").await;
    let actions: Vec<(&str, &str)> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["target"].as_str().unwrap()))
        .collect();
    assert!(actions.contains(&("model.put", "Kling/5.1-api")), "audited: {actions:?}");
    let (_, stored) = app.get_json("/admin/models").await;
    assert_eq!(stored["entries"][0]["path"], "Kling/5.1-api", "{stored}");

    // Rendered with the lengths asked for.
    app.drive_to_completion().await;
    assert!((rendered_seconds(&app, &from_file).await - 3.0).abs() < 0.6);
    assert!((rendered_seconds(&app, &from_api).await - 4.0).abs() < 0.6);

    // Another replica on the same database (PostgreSQL) hears of a change and sells it too.
    if db_url.is_some() {
        let mut replica = TestApp::spawn_with(|c| tweak(c, &file, &db_url)).await;
        // The database's keys are the first replica's.
        replica.key = admin.clone();
        assert!(
            listed(&replica, "Kling", "5.1-api").await.is_some(),
            "stored entries load at start"
        );
        let next = json!({"rules": {"durations": [5.0]}});
        let (code, _) =
            call(&app, &admin, Method::PUT, "/admin/models/Kling/versions/5.2-api", Some(next))
                .await;
        assert_eq!(code, StatusCode::OK);
        // The change feed (NOTIFY) makes the replica reload by itself; wait for it, bounded.
        let mut heard = false;
        for _ in 0..400 {
            if listed(&replica, "Kling", "5.2-api").await.is_some() {
                heard = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert!(heard, "the replica reloads when the catalog changes elsewhere");
        let (code, _, _) = replica.post_create(&kling("5.2-api", 5)).await;
        assert_eq!(code, StatusCode::OK);
    }

    // Taking the entry back: the version is refused again; a second delete is a 404.
    let (code, _) = call(&app, &admin, Method::DELETE, put_path, None).await;
    assert_eq!(code, StatusCode::NO_CONTENT);
    let (_, audit) = app.get_json("/admin/audit").await;
    let deleted = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["action"] == "model.delete" && e["target"] == "Kling/5.1-api");
    assert!(deleted, "the delete is audited: {audit}");
    assert_eq!(app.post_create(&kling("5.1-api", 4)).await.0, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(call(&app, &admin, Method::DELETE, put_path, None).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn on_sqlite_operator_entries_are_sold_without_a_restart() {
    operator_entries_are_sold_without_a_restart(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_operator_entries_are_sold_without_a_restart() {
    let Some(admin) = vidgate_store::postgres::testing::test_url() else { return };
    let (db_url, db_name) = crate::replicas::fresh_database(&admin).await;
    operator_entries_are_sold_without_a_restart(Some(db_url)).await;
    crate::replicas::drop_database(&admin, &db_name).await;
}

/// A catalog file that does not build stops the start, naming the setting and the entry.
#[tokio::test]
async fn a_bad_catalog_file_is_refused_at_start_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("models.toml");
    std::fs::write(&path, "[[models]]\nname = \"Jimeng\"\n").unwrap();
    let mut config = crate::helpers::test_config(dir.path());
    config.rules.catalog = Some(path);
    let err = config.validate().unwrap_err().to_string();
    assert!(
        err.contains("rules.catalog") && err.contains("Jimeng") && err.contains("as_of"),
        "{err}"
    );
}

/// The emulator loads the operator's file too: the made-up version goes through vidgate to
/// the emulated upstream and back as a rendered video.
#[tokio::test]
async fn the_emulator_loads_the_same_operator_file() {
    let files = tempfile::tempdir().unwrap();
    let file = write_file(files.path());
    let clock = Arc::new(ManualClock::starting_now());
    let catalog = vidgate_emulator::load_catalog(&file).expect("the file loads");
    let upstream = Upstream::start(clock.clone(), |e| e.catalog = Arc::new(catalog)).await;
    let app = TestApp::spawn_with_clock(clock, |c| {
        use_upstream(c, &upstream);
        c.rules.catalog = Some(file.clone());
    })
    .await;
    let id = app.create(&kling("5.0-file", 3)).await;
    drive(&app, &upstream, 30).await;
    let status = app.status(&id).await;
    assert_eq!(status["status"], "COMPLETED", "{status}");
    let (code, _, result) = app.result(&id).await;
    assert_eq!(code, StatusCode::OK, "{result}");
    assert!(result["video"]["url"].is_string(), "{result}");
}
