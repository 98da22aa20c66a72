//! `PUT …/requests/{id}/cancel`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use vidgate_store::CancelOutcome;

use crate::auth::ApiKey;
use crate::{ApiError, AppState};

/// fal's cancel answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct CancelBody {
    /// `CANCELLATION_REQUESTED`, `ALREADY_COMPLETED` or `NOT_FOUND`.
    #[schema(example = "CANCELLATION_REQUESTED")]
    pub status: &'static str,
}

/// Cancel a request. A queued request that never reached the upstream ends at once,
/// `COMPLETED` with `error_type: request_cancelled`, and costs nothing. The upstream has no
/// cancel call: once it has the request's job, the job runs to its end, and the request with
/// it: delivered and charged if the upstream finishes it, released if the upstream fails it.
/// (fal's protocol allows this: a cancel is best effort once a request is running.)
#[utoipa::path(
    put, path = "/tencent-vod/v1/aigc-video/requests/{request_id}/cancel", tag = "queue",
    params(("request_id" = String, Path, description = "The request id from the create answer.")),
    responses(
        (status = 202, description = "Cancellation requested.", body = CancelBody),
        (status = 400, description = "The request had already completed.", body = CancelBody),
        crate::openapi::Unauthorized,
        (status = 404, description = "No such request for this key.", body = CancelBody),
        (status = 422, description = "Unknown query parameter.", body = crate::openapi::ValidationErrorBody),
        crate::openapi::RateLimited,
    ),
    security(("bearer" = []), ("key" = []))
)]
pub async fn cancel_request(
    State(state): State<AppState>,
    ApiKey(key, _): ApiKey,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let outcome = match id.parse() {
        Ok(id) => {
            tracing::Span::current().record("request_id", tracing::field::display(id));
            let outcome = state.store.cancel_task(&key.id, id, state.clock.now_ms()).await?;
            tracing::info!(?outcome, "cancel requested by the caller");
            outcome
        }
        Err(_) => CancelOutcome::NotFound,
    };
    let (code, status) = answer(&outcome);
    Ok((code, Json(CancelBody { status })).into_response())
}

/// fal's answer to a cancel's outcome.
pub(crate) fn answer(outcome: &CancelOutcome) -> (StatusCode, &'static str) {
    match outcome {
        CancelOutcome::Cancelled | CancelOutcome::Requested => {
            (StatusCode::ACCEPTED, "CANCELLATION_REQUESTED")
        }
        CancelOutcome::AlreadyCompleted => (StatusCode::BAD_REQUEST, "ALREADY_COMPLETED"),
        CancelOutcome::NotFound => (StatusCode::NOT_FOUND, "NOT_FOUND"),
    }
}
