//! The web dashboard: its files and headers, the models route its form is built from, and an
//! end-to-end run in headless Chromium (Debian's `chromium` + `chromedriver`, driven by
//! Selenium from the test virtualenv) against a live vidgate. The run's screenshot is kept at
//! `.ci/artifacts/dashboard.png`.

use std::path::PathBuf;
use std::process::Command;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, small_request, venv_python};
use crate::process::Server;

const KEY: &str = "vg_dashboard_e2e_key_0123456";

#[tokio::test]
async fn the_dashboard_is_served_from_the_binary_with_strict_headers() {
    let app = TestApp::spawn().await;
    let page = app.http.get(app.url("/dashboard")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let h = page.headers().clone();
    assert_eq!(h["content-type"], "text/html; charset=utf-8");
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(h["x-content-type-options"], "nosniff");
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"src="dashboard/app.js""#), "the page loads its script");

    for (file, kind) in
        [("app.js", "text/javascript"), ("admin.js", "text/javascript"), ("app.css", "text/css")]
    {
        let r = app.http.get(app.url(&format!("/dashboard/{file}"))).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{file}");
        assert!(r.headers()["content-type"].to_str().unwrap().starts_with(kind), "{file}");
        let etag = r.headers()["etag"].clone();
        assert!(!r.text().await.unwrap().is_empty());
        let again = app
            .http
            .get(app.url(&format!("/dashboard/{file}")))
            .header("if-none-match", etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{file} revalidates by ETag");
    }

    let missing = app.http.get(app.url("/dashboard/secrets.txt")).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert!(missing.text().await.unwrap().contains("secrets.txt"));

    let no_redirects =
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let slash = no_redirects.get(app.url("/dashboard/")).send().await.unwrap();
    assert_eq!(slash.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(slash.headers()["location"], "../dashboard");
}

#[tokio::test]
async fn the_dashboard_can_be_turned_off() {
    let app = TestApp::spawn_with(|c| c.server.dashboard = false).await;
    for path in ["/dashboard", "/dashboard/app.js"] {
        let r = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
    }
}

#[tokio::test]
async fn the_models_route_lists_the_rules_requests_are_checked_against() {
    let app = TestApp::spawn().await;
    let anonymous = app.http.get(app.url("/tencent-vod/v1/models")).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

    let (status, body) = app.get_json("/tencent-vod/v1/models").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["strict_model_rules"], true);
    let kling = body["models"].as_array().unwrap().iter().find(|m| m["name"] == "Kling").unwrap();
    let v21 = kling["versions"].as_array().unwrap().iter().find(|v| v["version"] == "2.1").unwrap();
    assert_eq!(v21["durations"], json!({"kind": "whole", "min": 3, "max": 15}));
    assert_eq!(v21["resolutions"], json!(["720P", "1080P"]));
    assert_eq!(v21["last_frame"], "1080P");
    assert_eq!(kling["scene_types"], json!(["motion_control", "avatar_i2v", "lip_sync"]));
    assert_eq!(
        (kling["origin"].as_str(), kling["as_of"].as_str()),
        (Some("built_in"), Some("2026-12-07"))
    );
    assert!(kling["source"].as_str().unwrap().contains("3.1.194"), "{kling}");
    // Each version with the usage products it can be billed under and the rows pricing it.
    let version = |v: &str| {
        kling["versions"].as_array().unwrap().iter().find(|x| x["version"] == v).unwrap().clone()
    };
    let v30 = version("3.0");
    let specs: Vec<&str> =
        v30["specifications"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
    assert!(
        specs.contains(&"Kling3.0_720P") && specs.contains(&"Kling3.0Sound_1080P"),
        "{specs:?}"
    );
    assert_eq!(
        version("3.0-turbo")["specifications"],
        json!(["Kling_Avatar_I2v_720P", "Kling_Avatar_I2v_1080P"]),
        "the SDK names a product for its avatar scene only"
    );
    let prices = v30["prices"].as_array().unwrap();
    let p1080 = prices.iter().find(|p| p["resolution"] == "1080P" && p["audio"].is_null()).unwrap();
    assert_eq!(p1080["per_second"], json!(0.2), "{prices:?}");
    assert_eq!(kling["family"]["durations"], json!({"kind": "whole", "min": 3, "max": 15}));
    // A scene type the model does not take is refused at create, named.
    let mut scene = small_request("a scene");
    scene["scene_type"] = json!("lip_sync");
    let (code, _, err) = app.post_create(&scene).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert_eq!(err["detail"][0]["loc"], json!(["body", "scene_type"]), "{err}");
    assert!(err["detail"][0]["msg"].as_str().unwrap().contains("template_effect"), "{err}");
    // One the model takes is accepted.
    let kling_scene = json!({"model_name": "Kling", "model_version": "3.0", "prompt": "a dance",
                             "scene_type": "motion_control"});
    assert_eq!(app.post_create(&kling_scene).await.0, StatusCode::OK);

    // What the route says is what create enforces: the largest listed duration passes, one
    // more second does not.
    let mut body = small_request("rules agree");
    body["model_name"] = json!("Kling");
    body["model_version"] = json!("2.1");
    body["output_config"] = json!({"duration": 15});
    assert_eq!(app.post_create(&body).await.0, StatusCode::OK);
    body["output_config"] = json!({"duration": 16});
    assert_eq!(app.post_create(&body).await.0, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn listings_carry_the_prompt_and_a_stream_url_while_unfinished() {
    let app = TestApp::spawn().await;
    let id = app.create(&small_request("a fox in the snow")).await;
    let (_, page) = app.get_json("/tencent-vod/v1/aigc-video/requests").await;
    let entry = &page["requests"][0];
    assert_eq!(entry["request_id"], id.as_str());
    assert_eq!(entry["prompt"], "a fox in the snow");
    let stream = entry["stream_url"].as_str().expect("unfinished: a stream url");
    let opened = app.http.get(stream).send().await.unwrap();
    assert_eq!(opened.status(), StatusCode::OK, "the listing's token opens the stream");
    drop(opened);

    app.drive_to_completion().await;
    let (_, page) = app.get_json("/tencent-vod/v1/aigc-video/requests").await;
    assert!(page["requests"][0].get("stream_url").is_none(), "{page}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_uses_the_dashboard_in_headless_chromium() {
    for tool in ["/usr/bin/chromium", "/usr/bin/chromedriver"] {
        assert!(
            std::path::Path::new(tool).exists(),
            "{tool} is missing: run ./scripts/install-deps.sh (the README's test command does)"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    // One slot and a few seconds per video, so the second request waits long enough to be
    // cancelled from its card. The upstream queue delay keeps the first request's
    // "dispatched" line the newest for 2 s: the page is watched only after the cancel, which
    // takes longer than 300 ms on a loaded machine.
    let env = [
        ("VIDGATE_BOOTSTRAP_KEY", KEY),
        ("VIDGATE_SANDBOX__CONCURRENCY", "1"),
        ("VIDGATE_SANDBOX__QUEUE_DELAY", "2s"),
        ("VIDGATE_SANDBOX__PROCESSING_TIME", "4s"),
        ("VIDGATE_SANDBOX__POLL_INTERVAL", "200ms"),
        ("VIDGATE_SANDBOX__FPS", "4"),
        ("VIDGATE_WORKERS__IDLE_WAIT", "100ms"),
    ];
    let server = Server::start(dir.path(), &env);
    let artifacts = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../.ci/artifacts"));
    std::fs::create_dir_all(&artifacts).unwrap();
    let shot = artifacts.join("dashboard.png");
    let _ = std::fs::remove_file(&shot);
    let _ = std::fs::remove_file(artifacts.join("dashboard-usage.png"));
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/dashboard/dashboard_check.py");
    let (python, base, shot_path) = (venv_python(), server.base.clone(), shot.clone());
    let out = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(script)
            .env("VIDGATE_URL", &base)
            .env("VIDGATE_KEY", KEY)
            .env("SCREENSHOT", &shot_path)
            .output()
            .expect("run the browser script")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the dashboard run failed (screenshot: {}): {stdout}\n{}",
        shot.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Value = serde_json::from_str(stdout.lines().last().unwrap_or_default()).unwrap();

    // The form is built from the models route and shows the server's field errors in place.
    assert!(seen["models"].as_array().unwrap().contains(&json!("Kling")), "{seen}");
    assert_eq!(seen["resolutions"], json!(["default (720P)", "720P", "1080P"]));
    let errors = seen["form_errors"].as_str().unwrap();
    assert!(errors.contains("body.output_config.duration"), "{errors}");
    assert!(errors.contains("body.file_infos.0.url"), "{errors}");
    assert_eq!(seen["invalid_fields"], json!(["duration", "value"]));

    // Live: the first request was seen in progress, with log lines only the stream carries.
    let states: Vec<&str> =
        seen["first_states"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
    assert_eq!(states.last(), Some(&"succeeded"), "{seen}");
    assert!(states.contains(&"IN_PROGRESS"), "{seen}");
    let logs = seen["first_logs"].as_array().unwrap();
    assert!(logs.iter().any(|l| l.as_str().unwrap().starts_with("dispatched")), "{seen}");
    assert!(seen["second_position"].as_str().unwrap().starts_with("position"), "{seen}");

    // The video played in the page, with its cover.
    assert_eq!(seen["video"]["width"], 1280);
    assert_eq!(seen["video"]["height"], 720);
    assert_eq!(seen["video"]["duration"], 5);
    let poster = seen["video"]["poster"].as_str().unwrap();
    assert!(poster.contains("/content?variant=cover&token="), "{seen}");
    assert_eq!(seen["cover_width"], 1280);
    assert_eq!(seen["prompt_shown"], "A lighthouse at dusk, waves rolling in");
    assert_eq!(seen["console_errors"], json!([]), "the page logged errors");
    let png = std::fs::read(&shot).expect("screenshot saved");
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "a real screenshot");

    // The usage chart, from the usage route (`group_by=day_model`): the first request's 5 s of
    // Kling today, for the key and (an admin key) for every key; a screenshot of it is kept.
    for chart in ["usage-chart", "admin-usage-chart"] {
        let bars = seen["usage_bars"][chart].as_array().unwrap();
        assert_eq!(bars.len(), 1, "one day, one model: {seen}");
        assert_eq!(bars[0]["model"], "Kling", "{seen}");
        assert_eq!(bars[0]["seconds"].as_str().and_then(|s| s.parse::<f64>().ok()), Some(5.0));
    }
    assert_eq!(seen["usage_legend"], json!(["Kling"]));
    let chart_png = std::fs::read(artifacts.join("dashboard-usage.png")).expect("chart screenshot");
    assert!(chart_png.starts_with(b"\x89PNG"), "a real screenshot of the chart");

    // What the browser did is what the API holds: exactly two requests (the bad submission
    // created nothing), the form's fields arrived, the second was cancelled.
    let http = reqwest::Client::new();
    let get = |path: String| {
        let (http, base) = (http.clone(), server.base.clone());
        async move {
            let r = http.get(format!("{base}{path}")).bearer_auth(KEY).send().await.unwrap();
            r.json::<Value>().await.unwrap()
        }
    };
    let page = get("/tencent-vod/v1/aigc-video/requests".into()).await;
    assert_eq!(page["requests"].as_array().unwrap().len(), 2, "{page}");
    let [first, second] = [&seen["ids"][0], &seen["ids"][1]].map(|v| v.as_str().unwrap());
    let cancelled = get(format!("/tencent-vod/v1/aigc-video/requests/{second}/status")).await;
    assert_eq!(cancelled["error_type"], "request_cancelled", "{cancelled}");
    assert_eq!(seen["after_reload"][second], "cancelled");
    assert_eq!(seen["after_reload"][first], "succeeded");
    let input =
        get(format!("/tencent-vod/v1/query/{first}")).await["Response"]["AigcVideoTask"]["Input"]
            .clone();
    assert_eq!(input["ModelName"], "Kling");
    assert_eq!(input["ModelVersion"], "2.1");
    assert_eq!(input["NegativePrompt"], "blurry");
    assert_eq!(input["EnhancePrompt"], "Enabled");
    assert_eq!(input["SessionContext"], "dashboard-e2e");
    assert_eq!(input["ExtInfo"], "from-the-dashboard");
    assert_eq!(input["TasksPriority"], 7);
    let out = &input["OutputConfig"];
    assert_eq!(out["Duration"], 5.0);
    assert_eq!(out["Resolution"], "720P");
    assert_eq!(out["AspectRatio"], "16:9");
    assert_eq!(out["StorageMode"], "Temporary");
    assert_eq!(out["MediaName"], "lighthouse");
    assert_eq!(out["PersonGeneration"], "Disallowed");
}

/// An operator manages keys from the page: the Administration section (admin keys only)
/// makes a key with a budget and a top-up, tops it up, sets a limit; the API then holds
/// exactly that, and the audit log names each change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_manages_keys_and_budgets_from_the_dashboard() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[("VIDGATE_BOOTSTRAP_KEY", KEY)]);
    let artifacts = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../.ci/artifacts"));
    std::fs::create_dir_all(&artifacts).unwrap();
    let shot = artifacts.join("dashboard-admin.png");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/dashboard/admin_check.py");
    let (python, base, shot_path) = (venv_python(), server.base.clone(), shot.clone());
    let out = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(script)
            .env("VIDGATE_URL", &base)
            .env("VIDGATE_KEY", KEY)
            .env("SCREENSHOT", &shot_path)
            .output()
            .expect("run the browser script")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the admin run failed (screenshot: {}): {stdout}\n{}",
        shot.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Value = serde_json::from_str(stdout.lines().last().unwrap_or_default()).unwrap();
    assert!(seen["account"].as_str().unwrap().starts_with("balance 0 credits"), "{seen}");
    assert!(seen["created"].as_str().unwrap().contains("vg_"), "the new key shown once: {seen}");
    let row: Vec<&str> =
        seen["row_after_changes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    assert_eq!(&row[..4], ["team-ui", "user", "active", "2.5"], "{seen}");
    assert_eq!(row[6], "prepaid, day ≤ 5, month ≤ 40");
    assert!(seen["top_up_error"].as_str().unwrap().contains("non-zero"), "{seen}");
    let audit: Vec<&str> =
        seen["audit"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    for action in ["key.create team-ui", "key.top_up team-ui", "key.budget team-ui"] {
        assert!(audit.iter().any(|l| l.ends_with(&format!("bootstrap: {action}"))), "{audit:?}");
    }
    assert_eq!(seen["user_sees_admin"], false);
    assert!(seen["user_account"].as_str().unwrap().starts_with("balance 2.5 credits"), "{seen}");
    assert_eq!(seen["console_errors"], json!([]), "the page logged errors");

    // What the page did is what the API holds.
    let keys: Value = reqwest::Client::new()
        .get(format!("{}/admin/keys", server.base))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let team = keys.as_array().unwrap().iter().find(|k| k["name"] == "team-ui").unwrap();
    assert_eq!(team["budget"]["balance"], 2.5);
    // Revoked from the page: the row says so, the API holds it, and the key no longer works.
    assert_eq!(seen["row_after_revoke"][2], "revoked", "{seen}");
    assert!(team["revoked_at"].is_string(), "{team}");
    let revoked = seen["revoked_key"].as_str().unwrap();
    let r = reqwest::Client::new()
        .get(format!("{}/tencent-vod/v1/usage", server.base))
        .bearer_auth(revoked)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::UNAUTHORIZED);
    assert_eq!(
        (team["budget"]["prepaid"].as_bool(), team["budget"]["month_limit"].as_f64()),
        (Some(true), Some(40.0))
    );
}
