//! Webhook URLs on create (`?fal_webhook=` or the body's `webhook_url`), and the routes that
//! show a request's delivery attempts and send it again.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use vidgate_domain::{FieldError, Loc};

use crate::auth::ApiKey;
use crate::extract::parse_request_id;
use crate::time::rfc3339;
use crate::{ApiError, AppState};

const URL_MAX: usize = 2048;

fn check(
    state: &AppState,
    url: &str,
    loc: [&str; 2],
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    let at = || loc.iter().map(|s| Loc::from(*s)).collect::<Vec<_>>();
    if url.len() > URL_MAX {
        errors.push(FieldError::new(
            at(),
            "string_too_long",
            format!("the webhook URL may be at most {URL_MAX} characters"),
        ));
        return None;
    }
    match state.config.egress.check_url(url) {
        Ok(u) if u.host_str().is_some() => Some(url.to_owned()),
        Ok(_) => {
            errors.push(FieldError::new(at(), "url_parsing", "the webhook URL must name a host"));
            None
        }
        Err(e) => {
            errors.push(FieldError::new(
                at(),
                "url_parsing",
                format!("the webhook URL is not usable: {e}"),
            ));
            None
        }
    }
}

/// The webhook a create call names: the query's `fal_webhook`, else the body's `webhook_url`.
pub fn choose(
    state: &AppState,
    query: Option<&String>,
    body: Option<&Value>,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    let from_body = match body {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => check(state, s, ["body", "webhook_url"], errors),
        Some(_) => {
            errors.push(FieldError::new(
                vec![Loc::from("body"), Loc::from("webhook_url")],
                "string_type",
                "webhook_url must be a string",
            ));
            None
        }
    };
    let from_query = query
        .filter(|q| !q.is_empty())
        .and_then(|q| check(state, q, ["query", "fal_webhook"], errors));
    from_query.or(from_body)
}

/// One delivery attempt.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookAttempt {
    pub at: String,
    /// The receiver's HTTP status; null when it did not answer.
    pub status_code: Option<i64>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

/// A request's webhook delivery.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookDeliveries {
    /// The `webhook-id` header, the same on every attempt and redelivery.
    pub webhook_id: String,
    pub url: String,
    /// `pending`, `delivered` or `failed`.
    pub state: &'static str,
    pub next_attempt_at: Option<String>,
    pub delivered_at: Option<String>,
    pub attempts: Vec<WebhookAttempt>,
}

/// The webhook delivery of a request, with every attempt.
#[utoipa::path(
    get, path = "/tencent-vod/v1/aigc-video/requests/{request_id}/webhooks", tag = "webhooks",
    params(("request_id" = String, Path, description = "The request id.")),
    responses(
        (status = 200, description = "The delivery and its attempts.", body = WebhookDeliveries),
        crate::openapi::Unauthorized,
        (status = 404, description = "No such request for this key, or it has no webhook (or has not ended yet).", body = crate::openapi::ErrorBody),
        (status = 422, description = "Unknown query parameter.", body = crate::openapi::ValidationErrorBody),
        crate::openapi::RateLimited,
    ),
    security(("bearer" = []), ("key" = []))
)]
pub async fn list_deliveries(
    State(state): State<AppState>,
    ApiKey(key, _): ApiKey,
    Path(id): Path<String>,
) -> Result<Json<WebhookDeliveries>, ApiError> {
    let id = parse_request_id(&id)?;
    // A request its owner deleted (`DELETE /v1/videos/{id}`) has no deliveries to show.
    state.store.get_task(&key.id, id).await?.ok_or_else(ApiError::request_not_found)?;
    let Some((d, attempts)) = state.store.delivery_for(&key.id, id).await? else {
        return Err(ApiError::NotFound(
            "no webhook delivery for this request (none named, or it has not ended)".into(),
        ));
    };
    let pending = d.state == vidgate_store::DeliveryState::Pending;
    Ok(Json(WebhookDeliveries {
        webhook_id: d.id.to_string(),
        url: d.url,
        state: d.state.as_str(),
        next_attempt_at: pending.then(|| rfc3339(d.next_attempt_at)),
        delivered_at: d.delivered_at.map(rfc3339),
        attempts: attempts
            .into_iter()
            .map(|a| WebhookAttempt {
                at: rfc3339(a.at),
                status_code: a.status,
                error: a.error,
                duration_ms: a.duration_ms,
            })
            .collect(),
    }))
}

/// Send the request's webhook again (same `webhook-id`, a fresh round of retries).
#[utoipa::path(
    post, path = "/tencent-vod/v1/aigc-video/requests/{request_id}/webhooks/redeliver", tag = "webhooks",
    params(("request_id" = String, Path, description = "The request id.")),
    responses(
        (status = 202, description = "Queued for delivery.", body = Object),
        crate::openapi::Unauthorized,
        (status = 404, description = "No such request for this key, or it has no webhook (or has not ended yet).", body = crate::openapi::ErrorBody),
        (status = 422, description = "Unknown query parameter.", body = crate::openapi::ValidationErrorBody),
        crate::openapi::RateLimited,
    ),
    security(("bearer" = []), ("key" = []))
)]
pub async fn redeliver(
    State(state): State<AppState>,
    ApiKey(key, _): ApiKey,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_request_id(&id)?;
    // A request its owner deleted (`DELETE /v1/videos/{id}`) has no deliveries to show.
    state.store.get_task(&key.id, id).await?.ok_or_else(ApiError::request_not_found)?;
    if !state.store.redeliver(&key.id, id, state.clock.now_ms()).await? {
        return Err(ApiError::NotFound(
            "no webhook delivery for this request (none named, or it has not ended)".into(),
        ));
    }
    Ok((StatusCode::ACCEPTED, Json(serde_json::json!({"status": "REDELIVERY_QUEUED"})))
        .into_response())
}
