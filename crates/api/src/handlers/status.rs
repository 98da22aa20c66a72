//! `GET …/requests/{id}/status` and `GET …/requests/{id}` (the result).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use vidgate_domain::{ErrorType, Millis, RequestId, TaskState};
use vidgate_store::TaskRecord;

use super::fal_request_id;
use crate::auth::ApiKey;
use crate::base_url::BaseUrl;
use crate::extract::{WantLogs, parse_request_id};
use crate::status_cache::{Hit, Poll};
use crate::stream_tokens::expiry_for;
use crate::views::{StatusBody, result_body, status_body};
use crate::{ApiError, AppState};

async fn load(
    state: &AppState,
    key_id: &vidgate_domain::KeyId,
    raw_id: &str,
) -> Result<TaskRecord, ApiError> {
    let id = parse_request_id(raw_id)?;
    tracing::Span::current().record("request_id", tracing::field::display(id));
    state.store.get_task(key_id, id).await?.ok_or_else(ApiError::request_not_found)
}

pub(crate) async fn status_of(
    state: &AppState,
    task: &TaskRecord,
    base: &BaseUrl,
    logs: bool,
) -> Result<StatusBody, ApiError> {
    let position = if task.state() == TaskState::Queued {
        Some(state.store.queue_position(task).await?)
    } else {
        None
    };
    with_logs(state, task, base, position, logs).await
}

async fn with_logs(
    state: &AppState,
    task: &TaskRecord,
    base: &BaseUrl,
    position: Option<i64>,
    logs: bool,
) -> Result<StatusBody, ApiError> {
    let logs = if logs { Some(state.store.task_logs(task.id).await?) } else { None };
    Ok(status_body(task, base, position, logs.as_deref()))
}

/// While a request can still change, its status carries a tokened `stream_url` a browser's
/// `EventSource` can open without headers.
pub(crate) fn add_stream_url(
    state: &AppState,
    body: &mut StatusBody,
    task: &TaskRecord,
    key_hash: &str,
) {
    add_stream_url_at(state, body, task, key_hash, state.clock.now_ms());
}

fn add_stream_url_at(
    state: &AppState,
    body: &mut StatusBody,
    task: &TaskRecord,
    key_hash: &str,
    now: Millis,
) {
    if !task.state().is_terminal() {
        let token = state.stream_tokens.token(task.id, key_hash, now);
        body.stream_url = Some(format!("{}/stream?token={token}", body.status_url));
    }
}

fn http_status(task: &TaskRecord) -> StatusCode {
    if task.state().is_terminal() { StatusCode::OK } else { StatusCode::ACCEPTED }
}

/// The status of a request: 202 while in queue or in progress, 200 once completed.
#[utoipa::path(
    get, path = "/tencent-vod/v1/aigc-video/requests/{request_id}/status", tag = "queue",
    params(
        ("request_id" = String, Path, description = "The request id from the create answer."),
        ("logs" = Option<crate::openapi::LogsParam>, Query, description = "`1`/`true` to include log entries."),
    ),
    responses(
        (status = 200, description = "COMPLETED (check `error`/`error_type` for failures).", body = StatusBody),
        (status = 202, description = "IN_QUEUE or IN_PROGRESS.", body = StatusBody),
        crate::openapi::Unauthorized,
        (status = 404, description = "No such request for this key.", body = crate::openapi::ErrorBody),
        (status = 422, description = "Invalid `logs` value.", body = crate::openapi::ValidationErrorBody),
        crate::openapi::RateLimited,
    ),
    security(("bearer" = []), ("key" = []))
)]
pub async fn get_status(
    State(state): State<AppState>,
    ApiKey(key, key_hash): ApiKey,
    base: BaseUrl,
    WantLogs(logs): WantLogs,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_request_id(&id)?;
    tracing::Span::current().record("request_id", tracing::field::display(id));
    let store = &*state.store;
    if logs {
        let hit = state.statuses.task(store, &key.id, id).await?;
        let Hit { task, position, .. } = hit.ok_or_else(ApiError::request_not_found)?;
        let logs = store.task_logs(task.id).await?;
        let mut body = status_body(&task, &base, position, Some(&logs));
        add_stream_url(&state, &mut body, &task, &key_hash);
        return Ok((http_status(&task), [fal_request_id(task.id)], Json(body)).into_response());
    }
    let now = state.clock.now_ms();
    let poll =
        Poll { key_id: &key.id, key_hash: &key_hash, base: &base.0, token_expiry: expiry_for(now) };
    let build = |task: &TaskRecord, position| {
        let mut body = status_body(task, &base, position, None);
        add_stream_url_at(&state, &mut body, task, &key_hash, now);
        let bytes = serde_json::to_vec(&body).map_err(|e| ApiError::Internal(e.to_string()))?;
        Ok::<_, ApiError>((http_status(task), Bytes::from(bytes)))
    };
    let answer = state.statuses.answer(store, id, poll, build).await?;
    let (status, body) = answer.ok_or_else(ApiError::request_not_found)?;
    Ok(json_answer(status, id, body))
}

/// A JSON answer already serialized, with the headers `Json` would give it.
fn json_answer(status: StatusCode, id: RequestId, body: Bytes) -> Response {
    let json = HeaderValue::from_static("application/json");
    (status, [(header::CONTENT_TYPE, json)], [fal_request_id(id)], body).into_response()
}

/// The result: 200 with the output when it succeeded; 202 with the status and `Retry-After`
/// while it is not done; the failure's status with `{detail, error_type}` when it failed or
/// was cancelled.
#[utoipa::path(
    get, path = "/tencent-vod/v1/aigc-video/requests/{request_id}", tag = "queue",
    params(("request_id" = String, Path, description = "The request id from the create answer.")),
    responses(
        (status = 200, description = "Succeeded: the output.", body = crate::views::ResultBody),
        (status = 202, description = "Not done yet; poll again after `Retry-After` seconds.", body = StatusBody,
            headers(("Retry-After" = u32, description = "Seconds to wait."))),
        (status = 400, description = "Cancelled (`error_type: request_cancelled`).", body = crate::openapi::ErrorBody),
        crate::openapi::Unauthorized,
        (status = 404, description = "No such request for this key.", body = crate::openapi::ErrorBody),
        (status = 422, description = "The upstream refused the input (invalid parameter, content policy); or an unknown query parameter (then the body is a validation error list).", body = crate::openapi::ErrorBody),
        (status = 502, description = "The upstream failed.", body = crate::openapi::ErrorBody),
        (status = 503, description = "The upstream stayed unavailable past the retry limit.", body = crate::openapi::ErrorBody),
        (status = 504, description = "The request did not finish before its deadline.", body = crate::openapi::ErrorBody),
        crate::openapi::RateLimited,
    ),
    security(("bearer" = []), ("key" = []))
)]
pub async fn get_result(
    State(state): State<AppState>,
    ApiKey(key, key_hash): ApiKey,
    base: BaseUrl,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let task = load(&state, &key.id, &id).await?;
    let request_header = fal_request_id(task.id);
    match (task.state(), &task.result()) {
        (TaskState::Succeeded, Some(result)) => {
            let body = result_body(&task, result, &base, state.media_signing(&key_hash));
            Ok(([request_header], Json(body)).into_response())
        }
        (s, _) if s.is_terminal() => {
            let error_type = task.error_type().cloned().unwrap_or(ErrorType::UpstreamError);
            let status =
                StatusCode::from_u16(error_type.http_status()).unwrap_or(StatusCode::BAD_GATEWAY);
            let mut response = (
                status,
                [request_header],
                Json(json!({"detail": task.error(), "error_type": error_type})),
            )
                .into_response();
            if let Ok(v) = HeaderValue::from_str(error_type.as_str()) {
                response.headers_mut().insert("x-fal-error-type", v);
            }
            Ok(response)
        }
        _ => {
            let body = status_of(&state, &task, &base, false).await?;
            let retry_after = if task.state() == TaskState::Queued { "2" } else { "1" };
            Ok((
                StatusCode::ACCEPTED,
                [
                    request_header,
                    (header::RETRY_AFTER.as_str(), HeaderValue::from_static(retry_after)),
                ],
                Json(body),
            )
                .into_response())
        }
    }
}
