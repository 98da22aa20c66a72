//! `POST /tencent-vod/v1/aigc-video`: validate, commit, answer with the queue handle.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use vidgate_domain::priority::rank;
use vidgate_domain::request::body_fingerprint;
use vidgate_domain::{QueuePriority, RequestId, parse_create_request};
use vidgate_store::{DedupClaim, IdempotencyClaim, InsertOutcome, LimitScope, NewTask};

use super::{fal_request_id, http_request_id, webhook};
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
#[utoipa::path(
    post, path = "/tencent-vod/v1/aigc-video", tag = "queue",
    request_body(content = crate::openapi::CreateTaskBody, description = "The seed's create-task body (snake_case)."),
    params(
        ("fal_webhook" = Option<String>, Query, description = "fal's convention: an http(s) URL vidgate POSTs the result to when the request ends (Standard Webhooks signatures). The body's `webhook_url` does the same."),
        ("Idempotency-Key" = Option<String>, Header, description = "Same key and body within 24 h return the original request."),
        ("X-Fal-Queue-Priority" = Option<String>, Header, description = "`normal` (default) or `low`: low ranks below every tasks_priority."),
    ),
    responses(
        (status = 200, description = "Accepted and committed; the queue handle.", body = QueueHandle,
            headers(("x-fal-request-id" = String, description = "The request id."))),
        (status = 400, description = "Malformed JSON.", body = crate::openapi::ErrorBody),
        (status = 401, description = "Missing, unknown or revoked API key.", body = crate::openapi::ErrorBody),
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
    CreatorKey(key): CreatorKey,
    base: BaseUrl,
    headers: HeaderMap,
    QueryParams(query): QueryParams<std::collections::HashMap<String, String>>,
    JsonBody(body, size): JsonBody,
) -> Result<Response, ApiError> {
    if let Some(limit) = key.limits.max_body_bytes.filter(|l| *l > 0)
        && size as i64 > limit
    {
        return Err(ApiError::PayloadTooLarge { limit: limit as usize });
    }
    let lane = lane(&headers)?;
    let idempotency = idempotency_key(&headers)?;
    let fingerprint = body_fingerprint(
        &json!({"body": body, "lane": lane.fingerprint_name(), "hook": query.get("fal_webhook")}),
    );
    let (request, webhook_url) = validated(&state, body, query.get("fal_webhook"))?;
    let now = state.clock.now_ms();
    let quote = crate::pricing::quote(&state, &request, now)?;
    let task = NewTask {
        id: RequestId::new(),
        key_id: key.id.clone(),
        pool: state.config.pool.clone(),
        rank: rank(lane, request.tasks_priority()),
        session: request
            .session_id()
            .map(str::to_owned)
            .map(|value| DedupClaim { value, expires_at: now + SESSION_TTL_MS }),
        idempotency: idempotency.map(|key| IdempotencyClaim {
            key,
            body_hash: fingerprint,
            expires_at: now + IDEMPOTENCY_TTL_MS,
        }),
        request,
        webhook_url,
        public_base: Some(base.0.clone()),
        limits: state.config.limits.queue(&key),
        quote,
        created_at: now,
        deadline_at: now
            + i64::try_from(state.config.request_deadline.as_millis()).unwrap_or(i64::MAX / 2),
    };
    let task = match state.store.insert_task(task).await? {
        InsertOutcome::Inserted(t) => {
            tracing::Span::current().record("request_id", tracing::field::display(t.id));
            tracing::info!(pool = %t.pool, rank = t.rank, model = %t.request.model_name(), "accepted and queued");
            metrics::counter!("vidgate_requests_created_total", "pool" => t.pool.clone())
                .increment(1);
            t
        }
        InsertOutcome::Replayed(t) => {
            tracing::Span::current().record("request_id", tracing::field::display(t.id));
            tracing::info!("an Idempotency-Key replay: answered with the original request");
            t
        }
        InsertOutcome::IdempotencyMismatch { task_id } => {
            return Err(ApiError::invalid(
                &["header", "idempotency-key"],
                "idempotency_mismatch",
                format!(
                    "this Idempotency-Key was used within the last 24 h for request {task_id} with a different body"
                ),
            ));
        }
        InsertOutcome::QueueFull { scope, limit } => {
            let (whose, error_type) = match scope {
                LimitScope::Key => ("this key has", "key_queue_full"),
                LimitScope::Total => ("the gateway has", "queue_full"),
            };
            return Err(ApiError::TooManyRequests {
                detail: format!(
                    "{whose} {limit} requests waiting in the queue, its limit; retry when some have been dispatched"
                ),
                error_type,
                retry_after: QUEUE_FULL_RETRY_SECS,
            });
        }
        InsertOutcome::BudgetExceeded(refusal) => {
            return Err(crate::pricing::refused(&state, refusal));
        }
        InsertOutcome::SessionConflict { task_id } => {
            return Err(ApiError::Conflict {
                detail: format!(
                    "session_id was already used by request {task_id} within the last 3 days"
                ),
                error_type: "session_conflict",
            });
        }
    };
    // The request is committed: from here on nothing may answer an error, or a client that
    // retries without an Idempotency-Key would create it twice.
    let position = match state.store.queue_position(&task).await {
        Ok(p) => Some(p),
        Err(e) => {
            tracing::warn!(error = %e, "queue position unreadable after the commit; answering without it");
            None
        }
    };
    let handle = queue_handle(&task, &base, position, http_request_id(&headers));
    Ok(([fal_request_id(task.id)], Json(handle)).into_response())
}

/// The create body checked as a create checks it (the estimate route too): the request, and
/// the webhook taken out of it (it is vidgate's, not the upstream's).
pub(crate) fn validated(
    state: &AppState,
    mut body: serde_json::Value,
    query_hook: Option<&String>,
) -> Result<(vidgate_domain::VideoRequest, Option<String>), ApiError> {
    let body_hook = body.as_object_mut().and_then(|o| o.remove("webhook_url"));
    let mut errors = Vec::new();
    let webhook_url = webhook::choose(state, query_hook, body_hook.as_ref(), &mut errors);
    match parse_create_request(&body, &state.config.parse) {
        Ok(r) if errors.is_empty() => {
            if let Some(limits) = state.config.output_limits {
                within_limits(&r, limits)?;
            }
            Ok((r, webhook_url))
        }
        Ok(_) => Err(ApiError::Validation(errors)),
        Err(mut more) => {
            more.append(&mut errors);
            Err(ApiError::Validation(more))
        }
    }
}

/// The provider's own bounds on a clip (the sandbox renders locally, in memory).
fn within_limits(
    request: &vidgate_domain::VideoRequest,
    limits: crate::state::OutputLimits,
) -> Result<(), ApiError> {
    let shape = vidgate_domain::dimensions::output_shape(request);
    let mut problems = Vec::new();
    if shape.duration_secs > limits.max_duration_secs {
        problems.push(vidgate_domain::FieldError::new(
            vec!["body".into(), "output_config".into(), "duration".into()],
            "provider_limit",
            format!(
                "this gateway's provider makes clips of at most {} s, got {} s",
                limits.max_duration_secs, shape.duration_secs
            ),
        ));
    }
    if shape.width.min(shape.height) > limits.max_short_side {
        problems.push(vidgate_domain::FieldError::new(
            vec!["body".into(), "output_config".into(), "resolution".into()],
            "provider_limit",
            format!(
                "this gateway's provider makes clips of at most {}P, got {}x{}",
                limits.max_short_side, shape.width, shape.height
            ),
        ));
    }
    if problems.is_empty() { Ok(()) } else { Err(ApiError::Validation(problems)) }
}
