//! Operational routes: liveness, readiness, the OpenAPI document, JSON 404/405s.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::{ApiError, AppState};

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "ops", responses((status = 200, description = "Alive.", body = Object)))]
pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// Readiness: the store answers and its schema is current.
#[utoipa::path(get, path = "/readyz", tag = "ops", responses(
    (status = 200, description = "Ready.", body = Object),
    (status = 503, description = "The store is unreachable or not migrated.", body = crate::openapi::ErrorBody),
))]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    match state.store.schema_current().await {
        Ok(true) => Ok(Json(json!({"status": "ready", "store": state.store.backend().as_str()}))),
        Ok(false) => Err(ApiError::Unavailable(
            "the database schema is not the one this binary expects (run `vidgate migrate`, or upgrade this replica)".into(),
        )),
        Err(e) => {
            // The cause (which may name hosts, users, paths) goes to the log only.
            tracing::warn!(error = %e, "readiness: the store does not answer");
            Err(ApiError::Unavailable("the store does not answer".into()))
        }
    }
}

/// The OpenAPI document of every route.
#[utoipa::path(get, path = "/openapi.json", tag = "ops", responses((status = 200, description = "OpenAPI 3.1 document.", body = Object)))]
pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(crate::openapi::document())
}

pub async fn not_found() -> Response {
    ApiError::NotFound("no such route".into()).into_response()
}

pub async fn method_not_allowed() -> Response {
    (StatusCode::METHOD_NOT_ALLOWED, Json(json!({"detail": "method not allowed on this route", "error_type": crate::ErrorCode::MethodNotAllowed}))).into_response()
}

/// A handler panicked: a bug, never the caller's fault. Logged; the answer says nothing more.
pub fn panic_response() -> Response {
    tracing::error!("a request handler panicked");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Json(
            json!({"detail": "internal error; see the server log", "error_type": crate::ErrorCode::InternalError}),
        ),
    )
        .into_response()
}
