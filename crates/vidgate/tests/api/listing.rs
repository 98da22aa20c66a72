//! Listing one's own requests, the Tencent-shaped query route, and key isolation.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{TestApp, small_request};

#[tokio::test]
async fn a_key_lists_only_its_own_requests_newest_first_in_pages() {
    let app = TestApp::spawn().await;
    let other = app.new_key("other").await;
    let mut mine = Vec::new();
    for i in 0..5 {
        mine.push(app.create(&small_request(&format!("mine {i}"))).await);
    }
    app.post_create_as(&other, &small_request("theirs")).await;
    let (code, page) = app.get_json("/tencent-vod/v1/aigc-video/requests?limit=2").await;
    assert_eq!(code, StatusCode::OK);
    let ids = |p: &Value| {
        p["requests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["request_id"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&page), vec![mine[4].clone(), mine[3].clone()]);
    let cursor = page["next_cursor"].as_str().unwrap();
    let (_, page2) =
        app.get_json(&format!("/tencent-vod/v1/aigc-video/requests?limit=2&cursor={cursor}")).await;
    assert_eq!(ids(&page2), vec![mine[2].clone(), mine[1].clone()]);
    let (_, page3) = app
        .get_json(&format!(
            "/tencent-vod/v1/aigc-video/requests?limit=2&cursor={}",
            page2["next_cursor"].as_str().unwrap()
        ))
        .await;
    assert_eq!(ids(&page3), vec![mine[0].clone()]);
    assert_eq!(page3["next_cursor"], Value::Null);
    // The cursor is the last request's id: it tells nothing of other keys' requests (a row
    // number counted every key's), and another key's id is no cursor for this one.
    assert_eq!(cursor, mine[3], "opaque: the id of the page's last request");
    let theirs = app.post_create_as(&other, &small_request("theirs, too")).await.2;
    let theirs = theirs["request_id"].as_str().unwrap();
    let (code, body) =
        app.get_json(&format!("/tencent-vod/v1/aigc-video/requests?limit=2&cursor={theirs}")).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["detail"][0]["loc"], serde_json::json!(["query", "cursor"]));

    app.cancel_as(&app.key, &mine[0]).await;
    let (_, done) = app.get_json("/tencent-vod/v1/aigc-video/requests?status=COMPLETED").await;
    assert_eq!(ids(&done), vec![mine[0].clone()]);
    let (_, queued) = app.get_json("/tencent-vod/v1/aigc-video/requests?status=IN_QUEUE").await;
    assert_eq!(queued["requests"].as_array().unwrap().len(), 4);
    assert_eq!(queued["requests"][3]["queue_position"], 0);

    for bad in ["status=FAILED", "limit=0", "limit=1000", "limit=x", "cursor=abc", "cursor=7"] {
        let (code, body) =
            app.get_json(&format!("/tencent-vod/v1/aigc-video/requests?{bad}")).await;
        assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
    }
}

#[tokio::test]
async fn another_keys_request_is_not_found_for_every_route() {
    let app = TestApp::spawn().await;
    let id = app.create(&small_request("private")).await;
    let other = app.new_key("nosy").await;
    let (code, _) = app.status_as(&other, &id, false).await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    let r = app
        .http
        .get(app.queue_url(&format!("/requests/{id}")))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let (code, body) = app.cancel_as(&other, &id).await;
    assert_eq!((code, body["status"].as_str()), (StatusCode::NOT_FOUND, Some("NOT_FOUND")));
    let r = app
        .http
        .get(app.url(&format!("/tencent-vod/v1/query/{id}")))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = app.http.get(app.queue_url("/requests")).bearer_auth(&other).send().await.unwrap();
    assert!(r.json::<Value>().await.unwrap()["requests"].as_array().unwrap().is_empty());
    // The owner's request is untouched.
    assert_eq!(app.status(&id).await["status"], "IN_QUEUE");
}

#[tokio::test]
async fn the_query_route_answers_in_the_describe_task_detail_shape() {
    let app = TestApp::spawn().await;
    let mut body = small_request("tencent shaped");
    body["session_context"] = serde_json::json!("ctx-1");
    let id = app.create(&body).await;
    let (code, env) = app.get_json(&format!("/tencent-vod/v1/query/{id}")).await;
    assert_eq!(code, StatusCode::OK);
    let r = &env["Response"];
    assert_eq!(r["TaskType"], "AigcVideoTask");
    assert_eq!(r["Status"], "WAITING");
    assert!(r["RequestId"].as_str().is_some());
    assert_eq!(r["AigcVideoTask"]["TaskId"], id.as_str());
    assert_eq!(r["AigcVideoTask"]["Input"]["ModelName"], "Vidu");
    assert_eq!(r["AigcVideoTask"]["Input"]["OutputConfig"]["Duration"], 1.0);
    assert_eq!(r["AigcVideoTask"]["SessionContext"], "ctx-1");
    app.drive_to_completion().await;
    let (_, env) = app.get_json(&format!("/tencent-vod/v1/query/{id}")).await;
    let r = &env["Response"];
    assert_eq!(r["Status"], "FINISH");
    assert_eq!(r["AigcVideoTask"]["ErrCode"], 0);
    assert_eq!(r["AigcVideoTask"]["Progress"], 100);
    let file = &r["AigcVideoTask"]["Output"]["FileInfos"][0];
    assert!(
        file["FileUrl"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}/tencent-vod/v1/aigc-video/requests/", app.base))
    );
    assert_eq!(file["MetaData"]["Width"], 720);
    let (code, env) =
        app.get_json(&format!("/tencent-vod/v1/query/{}", uuid::Uuid::now_v7())).await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    assert_eq!(env["Response"]["Error"]["Code"], "ResourceNotFound");
}
