//! Hostile and random input: nothing a client sends makes the server answer 5xx or stop
//! serving, and nothing already accepted is lost.

use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config as PropConfig, TestRunner};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, seed_example, small_request};

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| json!(f)),
        ".{0,30}".prop_map(Value::String),
        prop_oneof![
            Just("Kling"),
            Just("2.1"),
            Just("Enabled"),
            Just("Url"),
            Just("https://e.com/a.png"),
            Just("1080P"),
            Just("8")
        ]
        .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(3, 48, 6, |inner| {
        let key = prop_oneof![
            Just("model_name".to_owned()),
            Just("model_version".to_owned()),
            Just("prompt".to_owned()),
            Just("output_config".to_owned()),
            Just("file_infos".to_owned()),
            Just("duration".to_owned()),
            Just("type".to_owned()),
            Just("url".to_owned()),
            Just("tasks_priority".to_owned()),
            Just("session_id".to_owned()),
            Just("last_frame_url".to_owned()),
            ".{0,6}",
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(key, inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Random bodies and raw bytes against the create route: 200 or a 4xx, never 5xx.
#[test]
fn no_body_makes_the_create_route_fail_with_a_5xx() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let app = rt.block_on(TestApp::spawn_with(|c| c.rules.strict_model_rules = false));
    let mut runner = TestRunner::new(PropConfig {
        cases: 300,
        failure_persistence: None,
        ..PropConfig::default()
    });
    let result = runner.run(&(json_value(), any::<bool>()), |(body, as_raw)| {
        let status = rt.block_on(async {
            let r = app.http.post(app.queue_url("")).bearer_auth(&app.key);
            let r = if as_raw { r.body(body.to_string().into_bytes()) } else { r.json(&body) };
            r.send().await.unwrap().status()
        });
        prop_assert!(status == StatusCode::OK || status.is_client_error(), "{status} for {body}");
        Ok(())
    });
    result.unwrap();
    let mut bytes_runner = TestRunner::new(PropConfig {
        cases: 200,
        failure_persistence: None,
        ..PropConfig::default()
    });
    bytes_runner
        .run(&prop::collection::vec(any::<u8>(), 0..200), |raw| {
            let status = rt.block_on(async {
                app.http
                    .post(app.queue_url(""))
                    .bearer_auth(&app.key)
                    .body(raw.clone())
                    .send()
                    .await
                    .unwrap()
                    .status()
            });
            prop_assert!(
                status.is_client_error() || status == StatusCode::OK,
                "{status} for {raw:?}"
            );
            Ok(())
        })
        .unwrap();
    // Still serving, and every accepted request is stored.
    let (code, _) = rt.block_on(app.get_json("/healthz"));
    assert_eq!(code, StatusCode::OK);
}

#[tokio::test]
async fn a_corpus_of_bad_inputs_gets_4xx_and_the_server_keeps_serving() {
    let app = TestApp::spawn().await;
    let accepted = app.create(&small_request("accepted before the attack")).await;
    let nested = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_object = format!("{}1{}", "{\"a\":".repeat(5000), "}".repeat(5000));
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("invalid utf-8", b"{\"model_name\": \"\xff\xfe\", \"prompt\": \"x\"}".to_vec()),
        ("deeply nested arrays", nested.into_bytes()),
        ("deeply nested objects", deep_object.into_bytes()),
        ("huge number", br#"{"model_name":"Kling","model_version":"2.1","prompt":"x","tasks_priority":1e999999}"#.to_vec()),
        ("huge integer", br#"{"model_name":"Kling","model_version":"2.1","prompt":"x","tasks_priority":123456789012345678901234567890}"#.to_vec()),
        ("nul in a string", br#"{"model_name":"Kling","model_version":"2.1","prompt":"a\u0000b"}"#.to_vec()),
        ("raw nul byte", b"{\"model_name\":\"Kl\x00ing\"}".to_vec()),
        ("lone surrogate", br#"{"model_name":"Kling","model_version":"2.1","prompt":"\ud800"}"#.to_vec()),
        ("duplicate keys", br#"{"prompt":"a","prompt":7,"model_name":"Kling","model_version":"2.1"}"#.to_vec()),
        ("ten megabytes", vec![b' '; 10 * 1024 * 1024]),
    ];
    for (name, body) in cases {
        let r = app.http.post(app.queue_url("")).bearer_auth(&app.key).body(body).send().await;
        match r {
            Ok(r) => assert!(r.status().is_client_error(), "{name}: {}", r.status()),
            Err(e) => assert!(name == "ten megabytes", "{name}: connection failed: {e}"),
        }
    }
    // Wrong types in every field, one at a time.
    let wrong: [Value; 6] = [
        json!(true),
        json!(12345),
        json!(1.5),
        json!([1, 2]),
        json!({"x": 1}),
        json!("not-a-valid-value-for-this-field"),
    ];
    let seed = seed_example();
    let mut fields: Vec<(Option<&str>, String)> =
        seed.as_object().unwrap().keys().map(|k| (None, k.clone())).collect();
    fields.extend(
        seed["output_config"]
            .as_object()
            .unwrap()
            .keys()
            .map(|k| (Some("output_config"), k.clone())),
    );
    fields.extend(
        [
            "session_id",
            "session_context",
            "tasks_priority",
            "ext_info",
            "file_infos",
            "last_frame_url",
        ]
        .map(|f| (None, f.to_owned())),
    );
    for (parent, field) in &fields {
        for w in &wrong {
            let mut body = seed.clone();
            match parent {
                Some(p) => body[*p][field] = w.clone(),
                None => body[field] = w.clone(),
            }
            let (status, _, answer) = app.post_create(&body).await;
            assert!(
                status == StatusCode::OK || status == StatusCode::UNPROCESSABLE_ENTITY,
                "{parent:?}.{field} = {w}: {status} {answer}"
            );
        }
    }
    assert_eq!(app.status(&accepted).await["status"], "IN_QUEUE", "nothing accepted was lost");
}

#[tokio::test]
async fn a_slow_loris_connection_does_not_block_other_clients() {
    use tokio::io::AsyncWriteExt;
    let app = TestApp::spawn().await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut slow = Vec::new();
    for _ in 0..20 {
        let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
        s.write_all(b"POST /tencent-vod/v1/aigc-video HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{\"mo").await.unwrap();
        slow.push(s);
    }
    let r = tokio::time::timeout(Duration::from_secs(5), app.http.get(app.url("/healthz")).send())
        .await;
    assert_eq!(r.expect("answered while slow clients hang").unwrap().status(), StatusCode::OK);
    drop(slow);
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json_errors() {
    let app = TestApp::spawn().await;
    let (code, body) = app.get_json("/no/such/route").await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    assert_eq!(body["error_type"], "not_found");
    let r = app.http.delete(app.queue_url("")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    let (code, _) = app.status_as(&app.key, "../../etc/passwd", false).await;
    assert_eq!(code, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn query_parameters_are_checked_like_body_fields() {
    let app = TestApp::spawn().await;
    let id = app.create(&small_request("queried")).await;
    let get = |path: String| {
        let (http, key) = (app.http.clone(), app.key.clone());
        async move {
            let r = http.get(path).bearer_auth(key).send().await.unwrap();
            (r.status(), r.json::<serde_json::Value>().await.unwrap_or_default())
        }
    };
    // A typo is named, with what the route takes.
    let (code, body) = get(app.queue_url(&format!("/requests/{id}/status?log=1"))).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["detail"][0]["loc"], serde_json::json!(["query", "log"]));
    assert!(body["detail"][0]["msg"].as_str().unwrap().contains("takes logs"), "{body}");
    // Percent-encoded names are the names they spell.
    let (code, _) = get(app.queue_url(&format!("/requests/{id}/status?%6Cogs=1"))).await;
    assert_eq!(code, StatusCode::ACCEPTED);
    for bad in ["?logs=TRUE", "?logs=", "?logs=yes"] {
        let (code, body) = get(app.queue_url(&format!("/requests/{id}/status{bad}"))).await;
        assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
    }
    let (code, body) = get(app.queue_url(&format!("/requests/{id}?x=1"))).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["detail"][0]["msg"].as_str().unwrap().contains("no query parameters"));
    // Duplicates and undecodable values get the same JSON error, never a plain-text 400.
    let (code, body) = get(app.queue_url("/requests?limit=1&limit=2")).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (code, body) = get(app.queue_url("/requests?status=%FF")).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (code, _) = get(app.queue_url("/requests?status=IN_QUEUE&limit=5")).await;
    assert_eq!(code, StatusCode::OK);
}
