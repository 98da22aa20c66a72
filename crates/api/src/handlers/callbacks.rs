//! `POST /callbacks/tencent-vod`: the upstream's push-mode completion callbacks. No API key
//! (the upstream calls it): the callback must carry `Sign = md5(key + T)` with `T` (the
//! signature's expiry) at most 15 minutes ahead, as the `Sign`/`T` query parameters or headers.
//! The route answers 404 unless the upstream is in push mode. An accepted event only makes the
//! task it names due for a poll (never sooner than the poll interval after the last one, so
//! replays cost nothing more); the poll asks the upstream how the task ended.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use vidgate_providers::{PushAuth, PushError};

use crate::extract::QueryParams;
use crate::{ApiError, AppState};

/// An upstream event is a few kilobytes; nothing larger is read.
pub const CALLBACK_MAX_BYTES: usize = 64 * 1024;

fn pick(
    query: &std::collections::HashMap<String, String>,
    headers: &HeaderMap,
    names: &[&str],
) -> Option<String> {
    names.iter().find_map(|n| {
        query
            .get(*n)
            .cloned()
            .or_else(|| headers.get(*n).and_then(|v| v.to_str().ok()).map(str::to_owned))
    })
}

/// Receive an upstream completion event (push mode).
#[utoipa::path(
    post, path = "/callbacks/tencent-vod", tag = "upstream",
    request_body(content = Object, description = "The upstream's `EventContent` (`AigcVideoTaskComplete`)."),
    responses(
        (status = 200, description = "Recorded; the task is polled at once.", body = Object),
        (status = 400, description = "The body is not an event.", body = crate::openapi::ErrorBody),
        (status = 401, description = "Missing, wrong or expired `Sign`/`T`.", body = crate::openapi::ErrorBody),
        (status = 404, description = "The configured upstream takes no callbacks.", body = crate::openapi::ErrorBody),
        (status = 413, description = "Body larger than the configured limit.", body = crate::openapi::ErrorBody),
    )
)]
pub async fn tencent_vod(
    State(state): State<AppState>,
    QueryParams(query): QueryParams<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, ApiError> {
    // The route's own body limit (`CALLBACK_MAX_BYTES`) stops the read past it.
    let body = body.map_err(|_| ApiError::PayloadTooLarge { limit: CALLBACK_MAX_BYTES })?;
    let auth = PushAuth {
        sign: pick(&query, &headers, &["Sign", "sign"]),
        t: pick(&query, &headers, &["T", "t"]),
    };
    let events = match state.provider.receive_push(&body, &auth) {
        Ok(events) => events,
        Err(PushError::NotSupported) => {
            return Err(ApiError::NotFound("this gateway's upstream takes no callbacks".into()));
        }
        Err(PushError::BadSignature) => {
            return Err(ApiError::Unauthorized(
                "the callback's Sign/T are missing, wrong or expired",
            ));
        }
        Err(PushError::BadBody(m)) => {
            return Err(ApiError::BadRequest {
                detail: format!("not an upstream event: {m}"),
                code: crate::ErrorCode::BadEvent,
            });
        }
    };
    let now = state.clock.now_ms();
    // However many callbacks arrive (a replayed `Sign`/`T` is valid for 15 minutes, and two
    // genuine ones may share a `T`), a task is asked about at most once per poll interval.
    let gap = i64::try_from(state.provider.poll_delay(std::time::Duration::ZERO).as_millis())
        .unwrap_or(i64::MAX);
    let mut recorded = 0;
    for e in &events {
        if state.store.make_due(e.request_id, &e.upstream_task_id, now, gap).await? {
            recorded += 1;
        }
    }
    Ok((StatusCode::OK, Json(json!({"code": 0, "recorded": recorded}))).into_response())
}
