//! Three-way reconciliation against the upstream emulator, on SQLite and PostgreSQL: a normal
//! day agrees; a removed settlement, a job the upstream ran that vidgate never recorded, and
//! upstream usage under a product vidgate sold nothing of each make it disagree, naming the
//! cause (and the request, where it is vidgate's); `vidgate usage reconcile` says the same
//! and exits non-zero.

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use vidgate_domain::{Clock, ManualClock, Secret};
use vidgate_providers::tencent::TencentAccount;
use vidgate_providers::tencent::client::ApiClient;

use crate::helpers::TestApp;
use crate::process::BIN;
use crate::upstream::{SECRET_ID, SECRET_KEY, SUB_APP, Upstream, drive, use_upstream};

const KLING: &str = "Kling2.0&2.1std_720P";

/// A job made at the upstream behind vidgate's back (another tool sharing the account).
async fn direct_job(upstream: &Upstream, clock: Arc<ManualClock>, model: &str, version: &str) {
    let account = TencentAccount {
        name: "direct".into(),
        secret_id: SECRET_ID.into(),
        secret_key: Secret::new(SECRET_KEY),
        sub_app_id: SUB_APP,
        endpoint: upstream.url.parse().unwrap(),
        region: None,
        concurrency: 1,
        create_rate: 20.0,
    };
    let client =
        ApiClient::new(std::slice::from_ref(&account), 100.0, Duration::from_secs(5), clock)
            .unwrap();
    let params = json!({"SubAppId": SUB_APP, "ModelName": model, "ModelVersion": version,
                        "Prompt": "made elsewhere", "OutputConfig": {"Duration": 6}});
    client.call(&account, "CreateAigcVideoTask", &params).await.unwrap();
}

async fn report(app: &TestApp, day: &str) -> Value {
    let (code, r) = app.get_json(&format!("/admin/reconcile?date={day}")).await;
    assert_eq!(code, reqwest::StatusCode::OK, "{r}");
    r
}

fn causes(r: &Value) -> Vec<String> {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["cause"].as_str().unwrap().to_owned())
        .collect()
}

/// Deletes the settlement row of `request_id`, as a lost write would.
async fn remove_settlement(app: &TestApp, db_url: &Option<String>, request_id: &str) {
    let sql = "DELETE FROM ledger WHERE request_id = $1 AND kind = 'settle'";
    let done = match db_url {
        Some(url) => {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            sqlx::query(sql).bind(request_id).execute(&pool).await.unwrap().rows_affected()
        }
        None => {
            let url = format!("sqlite://{}", app.data_dir.join("vidgate.db").display());
            let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
            sqlx::query(sql).bind(request_id).execute(&pool).await.unwrap().rows_affected()
        }
    };
    assert_eq!(done, 1);
}

async fn books_against_the_upstream(db_url: Option<String>) {
    let clock = Arc::new(ManualClock::starting_now());
    let upstream = Upstream::start(clock.clone(), |e| e.accounts[0].concurrency = 2).await;
    let app = TestApp::spawn_with_clock(clock.clone(), |c| {
        use_upstream(c, &upstream);
        c.tencent.concurrency = 2;
        if let Some(url) = &db_url {
            c.store.database_url = vidgate::config::Secret::new(url.clone());
        }
    })
    .await;
    let kling = json!({"model_name": "Kling", "model_version": "2.1", "prompt": "p",
                       "output_config": {"duration": 5}});
    let (a, b) = (app.create(&kling).await, app.create(&kling).await);
    drive(&app, &upstream, 60).await;
    let day = vidgate_api::reconcile::upstream_day(clock.now_ms()).to_string();

    // A normal day: the three sides agree, per account and in all.
    let r = report(&app, &day).await;
    assert_eq!(r["agrees"], true, "{r:#}");
    assert_eq!(r["timezone"], "UTC+8");
    let all =
        r["lines"].as_array().unwrap().iter().find(|l| l["account"] == "all").unwrap().clone();
    assert_eq!(all["specification"], KLING, "{r:#}");
    assert_eq!(
        (
            all["ledger"]["jobs"].as_i64(),
            all["tasks"]["jobs"].as_i64(),
            all["upstream"]["jobs"].as_i64()
        ),
        (Some(2), Some(2), Some(2))
    );
    let out = Command::new(BIN)
        .args(["usage", "reconcile", "--date", &day, "--url", &app.base, "--admin-key", &app.key])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{said}{}", String::from_utf8_lossy(&out.stderr));
    assert!(said.contains("the books agree") && said.contains(KLING), "{said}");

    // A settlement lost: named, with its request.
    remove_settlement(&app, &db_url, &b).await;
    let r = report(&app, &day).await;
    assert_eq!(r["agrees"], false);
    let missing = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["cause"] == "missing_settlement")
        .expect("named");
    assert_eq!(missing["request_ids"], json!([b]), "{r:#}");
    assert!(!r.to_string().contains(&format!("\"{a}\"")), "the settled one is not blamed");

    // A job the upstream ran that vidgate never recorded, and one under a product vidgate sold
    // nothing of: both named.
    direct_job(&upstream, clock.clone(), "Kling", "2.1").await;
    direct_job(&upstream, clock.clone(), "Hailuo", "02").await;
    for _ in 0..30 {
        upstream.emulator.step().await;
        app.advance(1000);
    }
    let r = report(&app, &day).await;
    let found = causes(&r);
    for cause in ["missing_settlement", "unrecorded_upstream_jobs", "unexplained_upstream_usage"] {
        assert!(found.iter().any(|c| c == cause), "{cause} in {found:?}: {r:#}");
    }
    let hailuo = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["cause"] == "unexplained_upstream_usage")
        .unwrap();
    assert_eq!(hailuo["specification"], "Hailuo02&2.3_768P");

    // The command line says the same, exits non-zero, and gives JSON for machines.
    let out = Command::new(BIN)
        .args([
            "usage",
            "reconcile",
            "--date",
            &day,
            "--json",
            "--url",
            &app.base,
            "--admin-key",
            &app.key,
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let json: Value = serde_json::from_slice(&out.stdout).expect("--json prints the report");
    assert_eq!(json["agrees"], false);
    assert_eq!(causes(&json), found);

    // On the database host, with the configured upstream (no running vidgate needed).
    let mut env = vec![
        ("TENCENTCLOUD_SECRET_ID", SECRET_ID.to_owned()),
        ("TENCENTCLOUD_SECRET_KEY", SECRET_KEY.to_owned()),
        ("VIDGATE_TENCENT_SUBAPP_ID", SUB_APP.to_string()),
        ("VIDGATE_TENCENT_ENDPOINT", upstream.url.clone()),
    ];
    if let Some(url) = &db_url {
        env.push(("DATABASE_URL", url.clone()));
    }
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let args = ["usage", "reconcile", "--date", &day, "--json"];
    let out = crate::process::vidgate(&app.data_dir, &args, &env);
    assert!(!out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let local: Value = serde_json::from_slice(&out.stdout).expect("--json prints the report");
    assert_eq!(causes(&local), found, "the same findings as the API's");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sqlite_the_books_are_reconciled_against_the_upstream() {
    books_against_the_upstream(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_the_books_are_reconciled_against_the_upstream() {
    let Some(admin) = vidgate_store::postgres::testing::test_url() else { return };
    let (db_url, db_name) = crate::replicas::fresh_database(&admin).await;
    books_against_the_upstream(Some(db_url)).await;
    crate::replicas::drop_database(&admin, &db_name).await;
}
