//! The emulator's HTTP face: `POST /` for every action (as the upstream has it), `/files/` for
//! rendered videos, `/__emulator/stats` for tests.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures::StreamExt;
use serde_json::{Value, json};
use tower_http::services::ServeDir;

use crate::Emulator;
use crate::actions;
use crate::auth::{ApiError, verify};
use crate::faults::CallFault;

pub fn router(emulator: Arc<Emulator>) -> Router {
    let router = Router::new().route("/", post(api)).route("/__emulator/stats", get(stats));
    let router = if emulator.config.file_rate > 0 {
        router.route("/files/{name}", get(throttled_file))
    } else {
        router.nest_service("/files", ServeDir::new(&emulator.config.media_dir))
    };
    router.with_state(emulator)
}

/// `/files/{name}` at `file_rate` bytes per second (64 KiB chunks).
async fn throttled_file(
    State(emulator): State<Arc<Emulator>>,
    axum::extract::Path(name): axum::extract::Path<String>,
) -> Response {
    if name.contains('/') || name.starts_with('.') {
        return StatusCode::NOT_FOUND.into_response();
    }
    let path = emulator.config.media_dir.join(&name);
    let Ok(file) = tokio::fs::File::open(&path).await else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let len = file.metadata().await.map(|m| m.len()).unwrap_or(0);
    emulator.count(|s| s.file_downloads_started += 1);
    const CHUNK: usize = 64 * 1024;
    let pause = std::time::Duration::from_secs_f64(CHUNK as f64 / emulator.config.file_rate as f64);
    let done = emulator.clone();
    let chunks = tokio_util::io::ReaderStream::with_capacity(file, CHUNK)
        .then(move |c| async move {
            tokio::time::sleep(pause).await;
            c
        })
        .chain(futures::stream::once(async move {
            // The last chunk went out: the download finished (not counted when the client
            // hung up midway, since the stream is dropped before it gets here).
            done.count(|s| s.file_downloads_finished += 1);
            Ok(Bytes::new())
        }));
    (
        [(header::CONTENT_TYPE, "video/mp4".to_owned()), (header::CONTENT_LENGTH, len.to_string())],
        Body::from_stream(chunks),
    )
        .into_response()
}

async fn stats(State(emulator): State<Arc<Emulator>>) -> axum::Json<crate::Stats> {
    axum::Json(emulator.stats())
}

fn envelope(fields: Value) -> Response {
    let mut r = fields;
    r["RequestId"] = json!(uuid::Uuid::new_v4().to_string());
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        json!({"Response": r}).to_string(),
    )
        .into_response()
}

fn error((code, message): ApiError) -> Response {
    envelope(json!({"Error": {"Code": code, "Message": message}}))
}

/// A response whose body fails mid-way: the client sees the connection die.
fn dropped() -> Response {
    let body = Body::from_stream(futures::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::other("connection dropped by the emulator"))
    }));
    Response::builder().status(StatusCode::OK).body(body).unwrap_or_default()
}

async fn api(State(emulator): State<Arc<Emulator>>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(action) = headers.get("x-tc-action").and_then(|v| v.to_str().ok()).map(str::to_owned)
    else {
        return error(("MissingParameter", "the X-TC-Action header is required".into()));
    };
    if headers.get("x-tc-version").and_then(|v| v.to_str().ok()) != Some("2018-07-17") {
        return error(("NoSuchVersion", "X-TC-Version must be 2018-07-17".into()));
    }
    let now = emulator.clock.now_ms();
    let account = match verify(
        &headers,
        &body,
        &emulator.config.accounts,
        now,
        emulator.config.max_skew.as_secs() as i64,
    ) {
        Ok(a) => a.clone(),
        Err(e) => {
            emulator.count(|s| s.auth_failures += 1);
            return error(e);
        }
    };
    let params: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return error(("InvalidParameter", format!("the request body is not JSON: {e}"))),
    };
    let fault = if action == "CreateAigcVideoTask" {
        emulator.dice.create_call()
    } else {
        emulator.dice.call()
    };
    if fault != CallFault::None {
        emulator.count(|s| s.faults_injected += 1);
    }
    match fault {
        CallFault::InternalError => {
            return error(("InternalError", "an internal error occurred (injected fault)".into()));
        }
        CallFault::RateLimited => {
            return error((
                "RequestLimitExceeded",
                "request rate too high (injected fault)".into(),
            ));
        }
        CallFault::Http5xx => {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::CONTENT_TYPE, "text/html")],
                "<html><body>503 Service Unavailable</body></html>",
            )
                .into_response();
        }
        CallFault::Slow => tokio::time::sleep(emulator.dice.slow_delay()).await,
        CallFault::Drop if action != "CreateAigcVideoTask" => return dropped(),
        _ => {}
    }
    let result = actions::run(&emulator, &action, &account, &params).await;
    if fault == CallFault::Drop {
        // The job (if any) was created; the caller never hears of it.
        return dropped();
    }
    match result {
        Ok(v) => envelope(v),
        Err(e) => error(e),
    }
}
