//! `POST /tencent-vod/v1/aigc-video`: validate, commit, answer with the queue handle.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use vidgate_domain::models::Catalog;
use vidgate_domain::priority::rank;
use vidgate_domain::request::body_fingerprint;
use vidgate_domain::{Millis, QueuePriority, RequestId};
use vidgate_store::{
    DedupClaim, IdempotencyClaim, InsertOutcome, KeyRecord, LimitScope, NewTask, TaskRecord,
};

use super::create_input::{CreateInput, FalCreate};
use super::{fal_request_id, http_request_id};
use crate::auth::CreatorKey;
use crate::base_url::BaseUrl;
use crate::extract::{JsonBody, QueryParams};
use crate::views::{QueueHandle, queue_handle};
use crate::{ApiError, AppState};

const SESSION_TTL_MS: i64 = 3 * 24 * 3_600_000;
const IDEMPOTENCY_TTL_MS: i64 = 24 * 3_600_000;
const IDEMPOTENCY_KEY_MAX: usize = 255;
/// `Retry-After` when a queue limit refuses a create: the queue drains at the upstream's pace,
/// which vidgate cannot promise; a few seconds keeps clients from hammering.
const QUEUE_FULL_RETRY_SECS: u64 = 5;

fn lane(headers: &HeaderMap) -> Result<QueuePriority, ApiError> {
    let Some(v) = headers.get("x-fal-queue-priority") else { return Ok(QueuePriority::Normal) };
    v.to_str().ok().and_then(QueuePriority::parse).ok_or_else(|| {
        ApiError::invalid(
            &["header", "x-fal-queue-priority"],
            "enum",
            "X-Fal-Queue-Priority must be normal or low",
        )
    })
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(v) = headers.get("idempotency-key") else { return Ok(None) };
    match v.to_str() {
        Ok(k) if !k.trim().is_empty() && k.len() <= IDEMPOTENCY_KEY_MAX => {
            Ok(Some(k.trim().to_owned()))
        }
        _ => Err(ApiError::invalid(
            &["header", "idempotency-key"],
            "value_error",
            format!("Idempotency-Key must be 1 to {IDEMPOTENCY_KEY_MAX} visible ASCII characters"),
        )),
    }
}

/// Create a request: answers at once with the queue handle; the request is committed.
///
/// `model_name` may be a model alias (`kling-2.1`, `vidu-q2`, `veo-3.1`; `GET /v1/models`
/// lists them) with `model_version` left out, or the alias may come as `model`. With
/// `Prefer: wait` or `Prefer: wait=N` (N ≤ 60) the call is held until the request ends or N
/// seconds pass, and answers its status (200 when done, 202 otherwise) instead of the handle.
#[utoipa::path(
    post, path = "/tencent-vod/v1/aigc-video", tag = "queue",
    request_body(content = crate::openapi::CreateTaskBody, description = "The seed's create-task body (snake_case)."),
    params(
        ("fal_webhook" = Option<String>, Query, description = "fal's convention: an http(s) URL vidgate POSTs the result to when the request ends (Standard Webhooks signatures). The body's `webhook_url` does the same."),
        ("Idempotency-Key" = Option<String>, Header, description = "Same key and body within 24 h return the original request."),
        ("X-Fal-Queue-Priority" = Option<String>, Header, description = "`normal` (default) or `low`: low ranks below every tasks_priority."),
        ("X-Fal-Request-Timeout" = Option<u32>, Header, description = "fal's request timeout, in seconds (≥ 1): a request that has not ended by then fails with `error_type: timeout` (capped at the gateway's `queue.request_deadline`)."),
        ("Cancel-After" = Option<String>, Header, description = "Replicate's deadline, as seconds or a duration (`90s`, `5m`, `1h30m`); same effect as X-Fal-Request-Timeout. The sooner of the two applies."),
    ),
    responses(
        (status = 200, description = "Accepted and committed; the queue handle (with `Prefer: wait`: the status of the finished request).", body = QueueHandle,
            headers(("x-fal-request-id" = String, description = "The request id."))),
        (status = 202, description = "`Prefer: wait` only: the wait ended before the request did; its status.", body = crate::views::StatusBody),
        (status = 400, description = "Malformed JSON.", body = crate::openapi::ErrorBody),
        crate::openapi::Unauthorized,
        (status = 402, description = "The key's budget (prepaid balance, day or month limit) cannot cover the request's estimate (`error_type: budget_exceeded`); nothing is stored. Not worth retrying until the key is topped up or its period rolls over.", body = crate::openapi::ErrorBody),
        (status = 409, description = "session_id reused by this key within 3 days.", body = crate::openapi::ErrorBody),
        (status = 413, description = "Body larger than the configured limit.", body = crate::openapi::ErrorBody),
        (status = 422, description = "Invalid values: one entry per problem.", body = crate::openapi::ValidationErrorBody),
        (status = 429, description = "Rate limit or queue limit reached; see `Retry-After`.", body = crate::openapi::ErrorBody,
            headers(("retry-after" = u64, description = "Seconds to wait."))),
    ),
    security(("bearer" = []), ("key" = []))
)]
pub async fn create_request(
    State(state): State<AppState>,
    CreatorKey(key, key_hash): CreatorKey,
    base: BaseUrl,
    headers: HeaderMap,
    QueryParams(query): QueryParams<std::collections::HashMap<String, String>>,
    JsonBody(body, size): JsonBody,
) -> Result<Response, ApiError> {
    let wait = super::wait::prefer_wait(&headers)?;
    let query_hook = query.get("fal_webhook");
    let fingerprint = fingerprint(&body, &headers, query_hook)?;
    let models = state.models();
    let input = CreateInput::try_from(FalCreate {
        state: &state,
        models: &models,
        body: &body,
        query_hook,
    })?;
    let call = CreateCall { key: &key, base: &base, headers: &headers, input, size, fingerprint };
    let (task, position) = accept(&state, call).await?;
    if let Some(wait) = wait {
        let task = super::wait::until_done(&state, &key.id, task, wait).await;
        let mut body = super::status::status_of(&state, &task, &base, false).await?;
        super::status::add_stream_url(&state, &mut body, &task, &key_hash);
        let code = if task.state().is_terminal() { StatusCode::OK } else { StatusCode::ACCEPTED };
        let applied = super::wait::preference_applied(wait);
        return Ok((code, [fal_request_id(task.id), applied], Json(body)).into_response());
    }
    let handle = queue_handle(&task, &base, position, http_request_id(&headers));
    Ok(([fal_request_id(task.id)], Json(handle)).into_response())
}

/// What an `Idempotency-Key` replay must match: the body as the caller sent it (`body` may
/// stand in for something that varies between identical calls, such as a fresh upload's id),
/// the lane, and the webhook. `None` without an `Idempotency-Key`: nothing will compare it,
/// and hashing the body would be work for nothing.
pub(crate) fn fingerprint(
    body: &serde_json::Value,
    headers: &HeaderMap,
    query_hook: Option<&String>,
) -> Result<Option<String>, ApiError> {
    let lane = lane(headers)?;
    if !headers.contains_key("idempotency-key") {
        return Ok(None);
    }
    Ok(Some(body_fingerprint(
        &json!({"body": body, "lane": lane.fingerprint_name(), "hook": query_hook}),
    )))
}

/// One create as either API received it: the typed create both fronts build, and what came
/// with it.
pub(crate) struct CreateCall<'a> {
    pub key: &'a KeyRecord,
    pub base: &'a BaseUrl,
    pub headers: &'a HeaderMap,
    pub input: CreateInput,
    /// The body's size in bytes (for the key's own body limit).
    pub size: usize,
    /// What an `Idempotency-Key` replay must match (`fingerprint`).
    pub fingerprint: Option<String>,
}

/// Validates and commits a create (both APIs' creates go through here): the request as
/// stored, and its queue position when it could be read.
pub(crate) async fn accept(
    state: &AppState,
    call: CreateCall<'_>,
) -> Result<(TaskRecord, Option<i64>), ApiError> {
    let models = call.input.models.clone();
    let task = new_task(state, call)?;
    let outcome = state.store.insert_task(task).await?;
    let fresh = matches!(outcome, InsertOutcome::Inserted { .. });
    let (task, position) = admitted(state, outcome)?;
    // The request is committed: from here on nothing may answer an error, or a client that
    // retries without an Idempotency-Key would create it twice.
    if fresh {
        note_unlisted_version(state, &models.catalog, &task).await;
    }
    let position = match position {
        Some(p) => Some(p),
        None => match state.store.queue_position(&task).await {
            Ok(p) => Some(p),
            Err(e) => {
                tracing::warn!(error = %e, "queue position unreadable after the commit; answering without it");
                None
            }
        },
    };
    Ok((task, position))
}

/// A version the catalog does not list, passed under `rules.unknown_versions = "pass"`: the
/// request's log says it was checked against the family's limits only.
async fn note_unlisted_version(state: &AppState, catalog: &Catalog, task: &TaskRecord) {
    let (name, version) = (task.request.model_name(), task.request.model_version());
    let Some(table) = catalog.table(name) else { return };
    if !state.config.parse.strict_model_rules || table.version(version).is_some() {
        return;
    }
    let message = format!(
        "{name} version {version:?} is not in the model catalog (as of {}): checked against {name}'s family limits and passed to the upstream (rules.unknown_versions = \"pass\")",
        table.as_of
    );
    tracing::warn!(model = %name, version = %version, "a version the catalog does not list was passed");
    let entry = vidgate_store::LogEntry::warn(state.clock.now_ms(), message);
    if let Err(e) = state.store.append_log(task.id, entry).await {
        tracing::warn!(error = %e, "the unlisted-version note could not be logged");
    }
}

/// The task a valid create makes: its request, lane, deadline, dedup claims, quote, limits.
fn new_task(state: &AppState, call: CreateCall<'_>) -> Result<NewTask, ApiError> {
    let CreateCall { key, base, headers, input, size, fingerprint } = call;
    if let Some(limit) = key.limits.max_body_bytes.filter(|l| *l > 0)
        && size as i64 > limit
    {
        return Err(ApiError::PayloadTooLarge { limit: limit as usize });
    }
    let lane = lane(headers)?;
    let idempotency = idempotency_key(headers)?;
    let now = state.clock.now_ms();
    let deadline_at = deadline_at(headers, now, state.config.request_deadline)?;
    let CreateInput { request, webhook_url, models } = input;
    let quote = crate::pricing::quote(&models, &request, now)?;
    Ok(NewTask {
        id: RequestId::new(),
        key_id: key.id.clone(),
        pool: state.config.pool,
        rank: rank(lane, request.tasks_priority()),
        session: request
            .session_id()
            .map(str::to_owned)
            .map(|value| DedupClaim { value, expires_at: now + SESSION_TTL_MS }),
        idempotency: idempotency.zip(fingerprint).map(|(key, body_hash)| IdempotencyClaim {
            key,
            body_hash,
            expires_at: now + IDEMPOTENCY_TTL_MS,
        }),
        request,
        webhook_url,
        public_base: Some(base.0.clone()),
        limits: state.config.limits.queue(key),
        quote,
        created_at: now,
        deadline_at,
    })
}

/// What the insert's outcome answers: the request (new, or the original of a replay) and its
/// position if the insert read it, or why it was refused.
fn admitted(
    state: &AppState,
    outcome: InsertOutcome,
) -> Result<(TaskRecord, Option<i64>), ApiError> {
    match outcome {
        InsertOutcome::Inserted { task: t, position } => {
            tracing::Span::current().record("request_id", tracing::field::display(t.id));
            tracing::info!(pool = %t.pool, rank = t.rank, model = %t.request.model_name(), "accepted and queued");
            metrics::counter!("vidgate_requests_created_total", "pool" => t.pool.as_str())
                .increment(1);
            Ok((t, position))
        }
        InsertOutcome::Replayed(t) => {
            tracing::Span::current().record("request_id", tracing::field::display(t.id));
            tracing::info!("an Idempotency-Key replay: answered with the original request");
            Ok((t, None))
        }
        InsertOutcome::IdempotencyMismatch { task_id } => Err(ApiError::invalid(
            &["header", "idempotency-key"],
            "idempotency_mismatch",
            format!(
                "this Idempotency-Key was used within the last 24 h for request {task_id} with a different body"
            ),
        )),
        InsertOutcome::QueueFull { scope, limit } => {
            let (whose, code) = match scope {
                LimitScope::Key => ("this key has", crate::ErrorCode::KeyQueueFull),
                LimitScope::Total => ("the gateway has", crate::ErrorCode::QueueFull),
            };
            Err(ApiError::TooManyRequests {
                detail: format!(
                    "{whose} {limit} requests waiting in the queue, its limit; retry when some have been dispatched"
                ),
                code,
                retry_after: QUEUE_FULL_RETRY_SECS,
            })
        }
        InsertOutcome::BudgetExceeded(refusal) => Err(crate::pricing::refused(state, refusal)),
        InsertOutcome::SessionConflict { task_id } => Err(ApiError::Conflict {
            detail: format!(
                "session_id was already used by request {task_id} within the last 3 days"
            ),
            code: crate::ErrorCode::SessionConflict,
        }),
    }
}

/// When the request fails with `timeout` if it has not ended: the configured deadline, or
/// sooner when the caller asks with fal's `X-Fal-Request-Timeout` (seconds) or Replicate's
/// `Cancel-After` (`90s`, `5m`, `1h30m`, or bare seconds). A longer ask is capped at the
/// configured deadline.
fn deadline_at(headers: &HeaderMap, now: Millis, configured: Duration) -> Result<Millis, ApiError> {
    let mut deadline = configured;
    for (name, parse) in [
        ("x-fal-request-timeout", parse_seconds as fn(&str) -> Option<Duration>),
        ("cancel-after", parse_cancel_after),
    ] {
        let Some(raw) = headers.get(name) else { continue };
        let asked = raw.to_str().ok().and_then(|v| parse(v.trim())).filter(|d| *d >= MIN_DEADLINE);
        let asked = asked.ok_or_else(|| {
            ApiError::invalid(
                &["header", name],
                "value_error",
                format!(
                    "{name} must be a duration of at least 1 s (seconds, or with units: 90s, 5m, 1h30m)"
                ),
            )
        })?;
        deadline = deadline.min(asked);
    }
    Ok(now + i64::try_from(deadline.as_millis()).unwrap_or(i64::MAX / 2))
}

const MIN_DEADLINE: Duration = Duration::from_secs(1);

/// Seconds, whole or decimal (`30`, `2.5`).
fn parse_seconds(raw: &str) -> Option<Duration> {
    let secs: f64 = raw.parse().ok()?;
    (secs.is_finite() && secs > 0.0 && secs < 1e9).then(|| Duration::from_secs_f64(secs))
}

/// Replicate's `Cancel-After`: a Go-style duration, or bare seconds.
fn parse_cancel_after(raw: &str) -> Option<Duration> {
    parse_seconds(raw).or_else(|| humantime::parse_duration(raw).ok())
}
