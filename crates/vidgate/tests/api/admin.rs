//! The admin API over real HTTP: only admin keys get in; keys, limits, budgets and top-ups are
//! managed; anyone's requests are read and cancelled; every change lands in the audit log.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, small_request, split};

/// An admin-API call with `key`: the status and the JSON answer.
pub(crate) async fn call(
    app: &TestApp,
    key: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut r = app.http.request(method, app.url(path)).bearer_auth(key);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let (s, _, b) = split(r.send().await.unwrap()).await;
    (s, b)
}

#[tokio::test]
async fn admin_keys_manage_keys_budgets_and_anyones_requests_and_every_change_is_audited() {
    let app = TestApp::spawn().await;
    let admin = app.key.clone();
    // Not a key, or a user key: no entry.
    let user = app.new_key("plain-user").await;
    assert_eq!(
        call(&app, "vg_nope", Method::GET, "/admin/keys", None).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (code, body) = call(&app, &user, Method::GET, "/admin/keys", None).await;
    assert_eq!((code, body["error_type"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")));

    // Create a key with limits, a budget and a first top-up.
    let (code, created) = call(
        &app,
        &admin,
        Method::POST,
        "/admin/keys",
        Some(json!({
            "name": "team-a", "limits": {"max_queued": 5},
            "budget": {"prepaid": true, "day_limit": 1.0}, "top_up": 0.25
        })),
    )
    .await;
    assert_eq!(code, StatusCode::CREATED, "{created}");
    let team_key = created["key"].as_str().unwrap().to_owned();
    assert!(team_key.starts_with("vg_"));
    assert_eq!(
        (created["role"].as_str(), created["limits"]["max_queued"].as_i64()),
        (Some("user"), Some(5))
    );
    assert_eq!(
        (created["budget"]["balance"].as_f64(), created["budget"]["day_limit"].as_f64()),
        (Some(0.25), Some(1.0))
    );
    // Names are unique; bad fields are named.
    let (code, _) =
        call(&app, &admin, Method::POST, "/admin/keys", Some(json!({"name": "team-a"}))).await;
    assert_eq!(code, StatusCode::CONFLICT);
    let (code, err) = call(
        &app,
        &admin,
        Method::POST,
        "/admin/keys",
        Some(json!({"name": "b", "budget": {"day_limit": "lots"}})),
    )
    .await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(err["detail"][0]["loc"], json!(["body", "budget", "day_limit"]), "{err}");
    let (code, err) = call(
        &app,
        &admin,
        Method::PUT,
        "/admin/keys/team-a/limits",
        Some(json!({"max_running": -1})),
    )
    .await;
    assert_eq!(
        (code, &err["detail"][0]["loc"]),
        (StatusCode::UNPROCESSABLE_ENTITY, &json!(["body", "max_running"]))
    );

    // The new key works within its budget: two small requests (0.1 each), then 402.
    let (a, _, handle) = app.post_create_as(&team_key, &small_request("one")).await;
    assert_eq!(a, StatusCode::OK, "{handle}");
    let first = handle["request_id"].as_str().unwrap().to_owned();
    assert_eq!(app.post_create_as(&team_key, &small_request("two")).await.0, StatusCode::OK);
    assert_eq!(
        app.post_create_as(&team_key, &small_request("three")).await.0,
        StatusCode::PAYMENT_REQUIRED
    );
    let (code, key) = call(
        &app,
        &admin,
        Method::POST,
        "/admin/keys/team-a/top-ups",
        Some(json!({"amount": 1.0, "note": "invoice 7"})),
    )
    .await;
    assert_eq!(code, StatusCode::OK, "{key}");
    assert!((key["budget"]["balance"].as_f64().unwrap() - 1.05).abs() < 1e-9, "{key}");
    // An adjustment that would take the prepaid balance below zero is refused, named, and
    // changes nothing (no ledger row, no audit entry, the balance as it was).
    let (code, err) = call(
        &app,
        &admin,
        Method::POST,
        "/admin/keys/team-a/top-ups",
        Some(json!({"amount": -2.0, "note": "too much"})),
    )
    .await;
    assert_eq!((code, err["error_type"].as_str()), (StatusCode::CONFLICT, Some("would_overdraw")));
    assert!(err["detail"].as_str().unwrap().contains("below zero"), "{err}");
    let (_, keys) = call(&app, &admin, Method::GET, "/admin/keys", None).await;
    let team = keys.as_array().unwrap().iter().find(|k| k["name"] == "team-a").unwrap();
    assert!((team["budget"]["balance"].as_f64().unwrap() - 1.05).abs() < 1e-9, "{team}");
    assert_eq!(app.post_create_as(&team_key, &small_request("three")).await.0, StatusCode::OK);
    let (code, key) = call(
        &app,
        &admin,
        Method::PUT,
        "/admin/keys/team-a/limits",
        Some(json!({"max_queued": 3, "max_running": 1})),
    )
    .await;
    assert_eq!((code, key["limits"]["max_running"].as_i64()), (StatusCode::OK, Some(1)));
    let (code, key) = call(
        &app,
        &admin,
        Method::PUT,
        "/admin/keys/team-a/budget",
        Some(json!({"prepaid": false})),
    )
    .await;
    assert_eq!((code, key["budget"]["prepaid"].as_bool()), (StatusCode::OK, Some(false)));
    // The double just past the 1e9 maximum is read as itself, not rounded down onto it.
    let past_max = f64::from_bits(1e9_f64.to_bits() + 1);
    let (code, err) = call(
        &app,
        &admin,
        Method::PUT,
        "/admin/keys/team-a/budget",
        Some(json!({"prepaid": false, "day_limit": past_max})),
    )
    .await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert_eq!(err["detail"][0]["loc"], json!(["body", "day_limit"]), "{err}");

    // Anyone's requests: listed by key, read with logs, cancelled.
    let (code, page) = call(&app, &admin, Method::GET, "/admin/requests?key=team-a", None).await;
    assert_eq!(code, StatusCode::OK, "{page}");
    assert_eq!(page["requests"].as_array().unwrap().len(), 3);
    let (code, one) =
        call(&app, &admin, Method::GET, &format!("/admin/requests/{first}"), None).await;
    assert_eq!((code, one["status"].as_str()), (StatusCode::OK, Some("IN_QUEUE")));
    assert!(one["logs"].as_array().is_some_and(|l| !l.is_empty()));
    let (code, cancelled) =
        call(&app, &admin, Method::PUT, &format!("/admin/requests/{first}/cancel"), None).await;
    assert_eq!(
        (code, cancelled["status"].as_str()),
        (StatusCode::ACCEPTED, Some("CANCELLATION_REQUESTED"))
    );
    let (_, s) = app.status_as(&team_key, &first, false).await;
    assert_eq!(
        (s["status"].as_str(), s["error_type"].as_str()),
        (Some("COMPLETED"), Some("request_cancelled"))
    );

    // Usage over every key, by key; the ledger of one.
    let (code, usage) = call(&app, &admin, Method::GET, "/admin/usage?group_by=key", None).await;
    assert_eq!(code, StatusCode::OK, "{usage}");
    let team_id = created["id"].as_str().unwrap();
    let row = usage["rows"].as_array().unwrap().iter().find(|r| r["group"] == team_id).unwrap();
    assert_eq!(
        (row["requests"].as_i64(), row["released"].as_i64(), row["pending"].as_i64()),
        (Some(3), Some(1), Some(2))
    );
    let (code, ledger) = call(&app, &admin, Method::GET, "/admin/ledger?key=team-a", None).await;
    assert_eq!(code, StatusCode::OK);
    let kinds: Vec<&str> =
        ledger["entries"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["topup", "hold", "hold", "topup", "hold", "release"]);

    // Revoked: gone from use, still listed.
    assert_eq!(
        call(&app, &admin, Method::DELETE, "/admin/keys/team-a", None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        call(&app, &admin, Method::DELETE, "/admin/keys/team-a", None).await.0,
        StatusCode::NOT_FOUND
    );
    let (_, keys) = call(&app, &admin, Method::GET, "/admin/keys", None).await;
    let team = keys.as_array().unwrap().iter().find(|k| k["name"] == "team-a").unwrap();
    assert!(team["revoked_at"].is_string());
    assert!(keys.to_string().find(&team_key).is_none(), "a listing never shows a key");

    // The audit log: who did what to what, in order, and never a key.
    let (code, audit) = call(&app, &admin, Method::GET, "/admin/audit", None).await;
    assert_eq!(code, StatusCode::OK);
    let entries = audit["entries"].as_array().unwrap();
    let actions: Vec<(&str, &str)> = entries
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["target"].as_str().unwrap()))
        .collect();
    assert_eq!(
        actions,
        [
            ("key.create", "team-a"),
            ("key.top_up", "team-a"),
            ("key.limits", "team-a"),
            ("key.budget", "team-a"),
            ("request.cancel", first.as_str()),
            ("key.revoke", "team-a"),
        ]
    );
    assert!(entries.iter().all(|e| e["actor_name"] == "default"));
    assert_eq!(entries[1]["detail"]["note"], "invoice 7");
    assert!(!audit.to_string().contains(&team_key));
}

/// A revoked key is refused at once on the replica that revoked it, though it was just used
/// (and so is in the key cache; the test's clock does not move, so the cache's TTL never
/// runs out by itself).
#[tokio::test]
async fn a_revoked_key_is_refused_at_once_where_it_was_revoked() {
    let app = TestApp::spawn().await;
    let user = app.new_key("revoked-soon").await;
    assert_eq!(app.post_create_as(&user, &small_request("before")).await.0, StatusCode::OK);
    let (code, _) = call(&app, &app.key, Method::DELETE, "/admin/keys/revoked-soon", None).await;
    assert_eq!(code, StatusCode::NO_CONTENT);
    let (code, _, body) = app.post_create_as(&user, &small_request("after")).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED, "{body}");
}
