//! The model catalog against the pinned official SDK (`tencentcloud-sdk-python-vod` in
//! scripts/requirements-test.txt, imported from the test virtualenv): the catalog has every
//! model version, scene type and usage specification the SDK documents; every version is
//! accepted on fal's route, through its alias on OpenAI's route, and by the emulator; and
//! `vidgate models check` says the same from the SDK's file and names what is missing.

use std::path::PathBuf;
use std::process::Command;

use reqwest::StatusCode;
use serde_json::json;
use vidgate_domain::models::Catalog;
use vidgate_domain::models::aliases::AliasCatalog;
use vidgate_domain::models::sdk::{SdkCatalog, drift};

use crate::helpers::{TestApp, split, venv_python};
use crate::process::BIN;

/// The SDK's `models.py`, as the pinned package installed it.
fn sdk_models_py() -> PathBuf {
    let out = Command::new(venv_python())
        .args(["-c", "import tencentcloud.vod.v20180717.models as m; print(m.__file__)"])
        .output()
        .expect("the test virtualenv's python runs");
    assert!(
        out.status.success(),
        "the pinned SDK is not installed: run ./scripts/install-deps.sh ({})",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

fn pinned_sdk() -> SdkCatalog {
    let text = std::fs::read_to_string(sdk_models_py()).expect("the SDK's models.py reads");
    SdkCatalog::parse(&text).expect("the SDK documents its lists as 3.1.x does")
}

#[test]
fn the_catalog_has_everything_the_pinned_sdk_lists() {
    let sdk = pinned_sdk();
    let versions: usize = sdk.versions.values().map(Vec::len).sum();
    assert!(versions >= 40, "3.1.194 lists 40 versions; read {versions}: {:?}", sdk.versions);
    assert!(sdk.scene_types["Kling"].contains(&"lip_sync".to_owned()), "{:?}", sdk.scene_types);
    assert!(sdk.specifications.len() >= 100, "{:?}", sdk.specifications);
    let missing = drift(&sdk, Catalog::built_in());
    assert!(
        missing.is_empty(),
        "the pinned SDK lists {} thing(s) the catalog lacks:\n  {}",
        missing.len(),
        missing.join("\n  ")
    );
}

#[tokio::test]
async fn every_version_the_sdk_lists_is_accepted_on_both_fronts() {
    let sdk = pinned_sdk();
    let app = TestApp::spawn().await;
    let aliases = AliasCatalog::defaults(Catalog::built_in());
    for (model, versions) in &sdk.versions {
        for version in versions {
            let body =
                json!({"model_name": model, "model_version": version, "prompt": "new model"});
            let (code, _, answer) = app.post_create(&body).await;
            assert_eq!(code, StatusCode::OK, "{model} {version} on fal's route: {answer}");
            let alias = aliases.name_of(model, version).expect("every version has an alias");
            let r = app
                .http
                .post(app.url("/v1/videos"))
                .bearer_auth(&app.key)
                .json(&json!({"model": alias, "prompt": "new model"}))
                .send()
                .await
                .unwrap();
            let (code, _, video) = split(r).await;
            assert_eq!(code, StatusCode::OK, "{alias} on OpenAI's route: {video}");
            assert_eq!(video["model"], json!(alias), "{video}");
        }
    }
}

#[test]
fn models_check_passes_on_the_pinned_sdk_and_names_what_a_newer_one_adds() {
    let file = sdk_models_py();
    let out = Command::new(BIN).args(["models", "check", "--sdk"]).arg(&file).output().unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{said}{}", String::from_utf8_lossy(&out.stderr));
    assert!(said.contains("every model version"), "{said}");
    // An SDK that adds a version and a scene type: the check fails and names both.
    let text = std::fs::read_to_string(&file).unwrap();
    let newer = text
        .replace("3.0-Omni、3.0-turbo、scene", "3.0-Omni、3.0-turbo、scene、4.0")
        .replace("lip_sync 表示对口型；", "lip_sync 表示对口型；    dance 表示舞蹈；");
    assert_ne!(newer, text, "the SDK's wording changed; update this test's edit");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("models.py");
    std::fs::write(&path, newer).unwrap();
    let out = Command::new(BIN).args(["models", "check", "--sdk"]).arg(&path).output().unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{said}");
    assert!(said.contains("Kling version 4.0"), "{said}");
    assert!(said.contains("Kling scene type dance"), "{said}");
}

/// `rules.unknown_versions`: by default a version the catalog does not list is a 422 naming
/// the known ones; under `pass` it is accepted, held to its family's limits, logged as such,
/// and rendered (the sandbox here); `strict_model_rules = false` passes unknown models too.
#[tokio::test]
async fn a_version_newer_than_the_catalog_is_refused_or_sold_by_policy() {
    let newer = json!({"model_name": "Kling", "model_version": "4.0", "prompt": "next year",
                       "output_config": {"duration": 3, "resolution": "720P"}});
    let app = TestApp::spawn().await;
    let (code, _, err) = app.post_create(&newer).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert_eq!(err["detail"][0]["loc"], json!(["body", "model_version"]), "{err}");

    let app = TestApp::spawn_with(|c| {
        c.rules.unknown_versions = vidgate_domain::request::UnknownVersions::Pass;
    })
    .await;
    let (_, models) = app.get_json("/tencent-vod/v1/models").await;
    assert_eq!(models["unknown_versions"], "pass", "{models}");
    let mut too_long = newer.clone();
    too_long["output_config"]["duration"] = json!(16);
    let (code, _, err) = app.post_create(&too_long).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "the family's limits hold: {err}");
    assert_eq!(err["detail"][0]["loc"], json!(["body", "output_config", "duration"]), "{err}");
    let id = app.create(&newer).await;
    let logs = app.logs(&id).await;
    assert!(logs.iter().any(|l| l.contains("\"4.0\" is not in the model catalog")), "{logs:?}");
    app.drive_to_completion().await;
    let (code, _, result) = app.result(&id).await;
    assert_eq!(code, StatusCode::OK, "{result}");
    assert!(result["video"]["url"].is_string(), "rendered: {result}");
    let unknown_model = json!({"model_name": "Jimeng", "model_version": "1.0", "prompt": "p"});
    assert_eq!(app.post_create(&unknown_model).await.0, StatusCode::UNPROCESSABLE_ENTITY);

    let lax = TestApp::spawn_with(|c| c.rules.strict_model_rules = false).await;
    assert_eq!(
        lax.post_create(&unknown_model).await.0,
        StatusCode::OK,
        "the old setting's meaning"
    );
}
