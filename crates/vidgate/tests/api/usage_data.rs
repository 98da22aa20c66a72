//! The emulator's `DescribeAigcUsageData`, read by the official SDK's own client
//! (`tencentcloud-sdk-python-vod`, pinned in scripts/requirements-test.txt): per usage product,
//! a day (UTC+8) of counts and seconds computed from the jobs the emulator ran, including the
//! job of a request vidgate's caller cancelled after dispatch (the upstream bills it).

use std::process::Command;
use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::{Value, json};
use vidgate_domain::{Clock, ManualClock};

use crate::helpers::{TestApp, venv_python};
use crate::upstream::{SECRET_ID, SECRET_KEY, SUB_APP, Upstream, drive, use_upstream};

/// The SDK's client, signing with TC3 as it does against the real upstream.
const CLIENT: &str = r#"
import json, sys
from tencentcloud.common import credential
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.vod.v20180717 import models, vod_client
endpoint, secret_id, secret_key, query = sys.argv[1:5]
http = HttpProfile()
http.endpoint = endpoint
http.scheme = "http"
client = vod_client.VodClient(credential.Credential(secret_id, secret_key), "", ClientProfile(httpProfile=http))
req = models.DescribeAigcUsageDataRequest()
req.from_json_string(query)
resp = client.DescribeAigcUsageData(req)
print(json.dumps([{"Specification": i.Specification,
                   "DataSet": [{"Time": d.Time, "Count": d.Count, "Usage": d.Usage} for d in i.DataSet]}
                  for i in resp.AigcUsageDataSet]))
"#;

fn sdk_query(upstream: &Upstream, query: &Value) -> Result<Value, String> {
    let endpoint = upstream.url.trim_start_matches("http://");
    let out = Command::new(venv_python())
        .args(["-c", CLIENT, endpoint, SECRET_ID, SECRET_KEY, &query.to_string()])
        .output()
        .expect("the test virtualenv's python runs: ./scripts/install-deps.sh");
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(serde_json::from_slice(&out.stdout).expect("the client prints JSON"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_client_reads_the_emulators_usage_data() {
    let clock = Arc::new(ManualClock::starting_now());
    let upstream = Upstream::start(clock.clone(), |e| e.accounts[0].concurrency = 3).await;
    let app = TestApp::spawn_with_clock(clock.clone(), |c| {
        use_upstream(c, &upstream);
        c.tencent.concurrency = 3;
    })
    .await;
    let kling = json!({"model_name": "Kling", "model_version": "2.1", "prompt": "p",
                       "output_config": {"duration": 5}});
    let hailuo = json!({"model_name": "Hailuo", "model_version": "02", "prompt": "p"});
    let (a, b, h) = (app.create(&kling).await, app.create(&kling).await, app.create(&hailuo).await);
    app.dispatch_until_idle().await;
    let (code, _) = app.cancel_as(&app.key, &b).await;
    assert_eq!(code, StatusCode::ACCEPTED, "cancelled after dispatch: it runs on");
    drive(&app, &upstream, 60).await;
    for id in [&a, &b, &h] {
        assert_eq!(app.status(id).await["status"], "COMPLETED");
    }

    // vidgate's ledger names the product each charge was priced as, and keeps the upstream's
    // usage figures on the settlement.
    let (_, ledger) = app.get_json("/admin/ledger").await;
    let rows: Vec<&Value> = ledger["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["request_id"] == a.as_str())
        .collect();
    let kinds: Vec<&str> = rows.iter().map(|r| r["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["hold", "settle"], "{ledger}");
    for r in &rows {
        assert_eq!(r["specification"], "Kling2.0&2.1std_720P", "{r}");
    }
    let job = upstream.emulator.jobs().into_iter().find(|j| j.session_id == a).unwrap();
    assert_eq!(rows[1]["usage"]["output_seconds"].as_f64(), job.output_seconds.map(|s| s as f64));

    // The upstream's day (UTC+8) of now.
    let day = (chrono::DateTime::from_timestamp_millis(clock.now_ms()).unwrap().naive_utc()
        + chrono::Duration::hours(8))
    .date();
    let query = json!({"StartTime": day.to_string(), "EndTime": day.to_string(),
                       "AigcType": "Video", "SubAppId": SUB_APP});
    let set = sdk_query(&upstream, &query).expect("the SDK's client reads the answer");
    let spec =
        |name: &str| set.as_array().unwrap().iter().find(|i| i["Specification"] == name).cloned();
    let time = format!("{day}T00:00:00+08:00");
    let kling_day = &spec("Kling2.0&2.1std_720P").expect("Kling 2.1 at 720P")["DataSet"][0];
    assert_eq!(kling_day["Time"], time.as_str());
    assert_eq!(kling_day["Count"], 2, "the cancelled request's job is billed too: {set}");
    let jobs = upstream.emulator.jobs();
    let seconds: i64 =
        jobs.iter().filter(|j| j.session_id != h).filter_map(|j| j.output_seconds).sum();
    assert_eq!(kling_day["Usage"], seconds, "{set}");
    let hailuo_day =
        &spec("Hailuo02&2.3_768P").expect("Hailuo 02 at its default 768P")["DataSet"][0];
    assert_eq!(hailuo_day["Count"], 1, "{set}");

    // Another day has none; a range gives one item per day; bad queries are the upstream's errors.
    let yesterday = day.pred_opt().unwrap();
    let range = json!({"StartTime": yesterday.to_string(), "EndTime": day.to_string(), "AigcType": "Video"});
    let set = sdk_query(&upstream, &range).unwrap();
    let days = &set.as_array().unwrap()[0]["DataSet"];
    assert_eq!(days.as_array().map(Vec::len), Some(2), "{set}");
    assert_eq!(days[0]["Count"], 0, "{set}");
    let backwards = json!({"StartTime": day.to_string(), "EndTime": yesterday.to_string()});
    let err = sdk_query(&upstream, &backwards).unwrap_err();
    assert!(err.contains("InvalidParameterValue"), "{err}");
}
