//! The OpenAPI document: every route is described, and the create route's schemas match the
//! seed's (`spec/create-task.openapi.md`, vendored verbatim).

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::TestApp;

/// The seed's request properties (top level, then `output_config`, then `file_infos` items).
const SEED_BODY: &[&str] = &[
    "prompt",
    "negative_prompt",
    "enhance_prompt",
    "output_config",
    "session_id",
    "session_context",
    "tasks_priority",
    "ext_info",
    "file_infos",
    "last_frame_url",
    "model_name",
    "model_version",
];
const SEED_REQUIRED: &[&str] = &["model_name", "prompt", "model_version"];
const SEED_OUTPUT_CONFIG: &[&str] = &[
    "storage_mode",
    "aspect_ratio",
    "person_generation",
    "input_compliance_check",
    "output_compliance_check",
    "audio_generation",
    "duration",
    "resolution",
];
const SEED_FILE_INFO: &[&str] = &["type", "file_id", "text", "url"];
const SEED_RESPONSE_REQUIRED: &[&str] = &[
    "status",
    "request_id",
    "response_url",
    "status_url",
    "cancel_url",
    "logs",
    "metrics",
    "queue_position",
];

fn seed_text() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../spec/create-task.openapi.md"
    ))
    .expect("the vendored seed spec")
}

#[test]
fn the_property_lists_here_are_the_seeds() {
    let seed = seed_text();
    for name in SEED_BODY
        .iter()
        .chain(SEED_OUTPUT_CONFIG)
        .chain(SEED_FILE_INFO)
        .chain(SEED_RESPONSE_REQUIRED)
    {
        assert!(seed.contains(&format!(" {name}:")), "{name} is not in the seed");
    }
}

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => &doc["components"]["schemas"][r.rsplit('/').next().unwrap()],
        None => schema,
    }
}

fn property_names(doc: &Value, schema: &Value) -> Vec<String> {
    let mut names: Vec<String> = resolve(doc, schema)["properties"]
        .as_object()
        .expect("properties")
        .keys()
        .cloned()
        .collect();
    names.sort();
    names
}

fn sorted(names: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

/// `Option<T>` fields appear as `oneOf: [null, T]` in OpenAPI 3.1.
fn unwrap_nullable<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    if let Some(Value::Array(alts)) = schema.get("oneOf")
        && let Some(non_null) =
            alts.iter().find(|a| a.get("type") != Some(&Value::String("null".into())))
    {
        return resolve(doc, non_null);
    }
    resolve(doc, schema)
}

#[tokio::test]
async fn every_route_is_documented_and_the_create_schemas_match_the_seed() {
    let app = TestApp::spawn().await;
    let r = app.http.get(app.url("/openapi.json")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let doc: Value = r.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for (path, method) in [
        ("/tencent-vod/v1/aigc-video", "post"),
        ("/tencent-vod/v1/aigc-video/requests", "get"),
        ("/tencent-vod/v1/aigc-video/requests/{request_id}", "get"),
        ("/tencent-vod/v1/aigc-video/requests/{request_id}/status", "get"),
        ("/tencent-vod/v1/aigc-video/requests/{request_id}/cancel", "put"),
        ("/tencent-vod/v1/aigc-video/requests/{request_id}/status/stream", "get"),
        ("/tencent-vod/v1/aigc-video/requests/{request_id}/webhooks", "get"),
        ("/tencent-vod/v1/aigc-video/requests/{request_id}/webhooks/redeliver", "post"),
        ("/tencent-vod/v1/models", "get"),
        ("/tencent-vod/v1/query/{task_id}", "get"),
        ("/callbacks/tencent-vod", "post"),
        ("/metrics", "get"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/openapi.json", "get"),
    ] {
        let op = &paths.get(path).unwrap_or_else(|| panic!("{path} is not documented"))[method];
        assert!(op.is_object(), "{method} {path} is not documented");
        for (code, response) in op["responses"].as_object().unwrap() {
            assert!(
                response["description"].as_str().is_some_and(|d| !d.is_empty()),
                "{method} {path} {code} has no description"
            );
        }
    }
    let create = &paths["/tencent-vod/v1/aigc-video"]["post"];
    let body = &create["requestBody"]["content"]["application/json"]["schema"];
    assert_eq!(property_names(&doc, body), sorted(SEED_BODY));
    let mut required: Vec<String> = resolve(&doc, body)["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    required.sort();
    assert_eq!(required, sorted(SEED_REQUIRED));
    let props = &resolve(&doc, body)["properties"];
    let oc = unwrap_nullable(&doc, &props["output_config"]);
    let oc_names = property_names(&doc, oc);
    for name in SEED_OUTPUT_CONFIG {
        assert!(oc_names.contains(&name.to_string()), "output_config.{name} missing");
    }
    let fi_items = unwrap_nullable(&doc, &props["file_infos"]);
    assert_eq!(property_names(&doc, &fi_items["items"]), sorted(SEED_FILE_INFO));

    let ok = &create["responses"]["200"]["content"]["application/json"]["schema"];
    let mut resp_required: Vec<String> = resolve(&doc, ok)["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    resp_required.retain(|r| SEED_RESPONSE_REQUIRED.contains(&r.as_str()));
    resp_required.sort();
    assert_eq!(resp_required, sorted(SEED_RESPONSE_REQUIRED));
}

#[tokio::test]
async fn the_docs_ui_is_served_from_the_binary() {
    let app = TestApp::spawn().await;
    let r = app.http.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("swagger"));
    let r = app.http.get(app.url("/docs/swagger-ui.css")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_result_schema_documents_every_field_of_an_output_file() {
    let app = TestApp::spawn().await;
    let (_, doc) = app.get_json("/openapi.json").await;
    let file = &doc["components"]["schemas"]["MediaFile"]["properties"];
    for field in [
        "url",
        "content_type",
        "file_name",
        "file_size",
        "width",
        "height",
        "duration",
        "expires_at",
        "file_id",
        "cover_url",
        "cover_file_id",
    ] {
        assert!(file.get(field).is_some(), "MediaFile lacks {field}: {file}");
    }
    // And a real result carries exactly those fields.
    let id = app.create(&crate::helpers::small_request("schema")).await;
    app.drive_to_completion().await;
    let (_, _, result) = app.result(&id).await;
    let mut got: Vec<&String> = result["video"].as_object().unwrap().keys().collect();
    let mut want: Vec<&String> = file.as_object().unwrap().keys().collect();
    got.sort();
    want.sort();
    assert_eq!(got, want);
}
