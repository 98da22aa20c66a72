//! `/admin/requests`: anyone's requests (a key's listing, one request's status with its
//! logs) and cancelling any request.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use utoipa::IntoParams;

use super::{audit, key_named};
use crate::auth::AdminKey;
use crate::base_url::BaseUrl;
use crate::extract::{QueryParams, parse_request_id};
use crate::handlers::cancel::CancelBody;
use crate::handlers::list::{ListParams, page};
use crate::handlers::status::status_of;
use crate::views::{ListBody, StatusBody};
use crate::{ApiError, AppState};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AdminListParams {
    /// The key's name.
    pub key: String,
    /// Only requests in this state.
    #[param(value_type = Option<crate::openapi::StatusFilter>)]
    pub status: Option<String>,
    /// Requests per page, 1–100; default 20.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page.
    #[param(pattern = "^[1-9][0-9]{0,17}$")]
    pub cursor: Option<String>,
}

#[utoipa::path(
    get, path = "/admin/requests", operation_id = "admin_list_requests", tag = "admin",
    params(AdminListParams),
    responses(
        (status = 200, description = "One page of the key's requests, newest first.", body = ListBody),
        crate::openapi::Unauthorized,
        crate::openapi::NotAdmin,
        (status = 404, description = "No active key has that name.", body = crate::openapi::ErrorBody),
        (status = 422, description = "A bad parameter, named.", body = crate::openapi::ValidationErrorBody),
    ),
    security(("bearer" = []), ("key" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    AdminKey(_admin): AdminKey,
    base: BaseUrl,
    QueryParams(p): QueryParams<AdminListParams>,
) -> Result<Json<ListBody>, ApiError> {
    let key = key_named(&state, &p.key).await?;
    let params = ListParams { status: p.status, limit: p.limit, cursor: p.cursor };
    page(&state, &key.id, None, &params, &base).await.map(Json)
}

#[utoipa::path(
    get, path = "/admin/requests/{request_id}", operation_id = "admin_get_request", tag = "admin",
    params(("request_id" = String, Path, description = "Any request's id.")),
    responses(
        (status = 200, description = "Its status, with its logs.", body = StatusBody),
        crate::openapi::Unauthorized,
        crate::openapi::NotAdmin,
        (status = 404, description = "No such request.", body = crate::openapi::ErrorBody),
    ),
    security(("bearer" = []), ("key" = []))
)]
pub async fn get(
    State(state): State<AppState>,
    AdminKey(_admin): AdminKey,
    base: BaseUrl,
    Path(id): Path<String>,
) -> Result<Json<StatusBody>, ApiError> {
    let id = parse_request_id(&id)?;
    let task = state.store.get_task_any(id).await?.ok_or_else(ApiError::request_not_found)?;
    status_of(&state, &task, &base, true).await.map(Json)
}

#[utoipa::path(
    put, path = "/admin/requests/{request_id}/cancel", operation_id = "admin_cancel_request", tag = "admin",
    params(("request_id" = String, Path, description = "Any request's id.")),
    responses(
        (status = 202, description = "Cancellation requested.", body = CancelBody),
        (status = 400, description = "The request had already completed.", body = CancelBody),
        crate::openapi::Unauthorized,
        crate::openapi::NotAdmin,
        (status = 404, description = "No such request.", body = CancelBody),
    ),
    security(("bearer" = []), ("key" = []))
)]
pub async fn cancel(
    State(state): State<AppState>,
    AdminKey(actor): AdminKey,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    let task = match raw.parse() {
        Ok(id) => state.store.get_task_any(id).await?,
        Err(_) => None,
    };
    let Some(task) = task else {
        return Ok(
            (StatusCode::NOT_FOUND, Json(CancelBody { status: "NOT_FOUND" })).into_response()
        );
    };
    let outcome = state.store.cancel_task(&task.key_id, task.id, state.clock.now_ms()).await?;
    let (code, status) = crate::handlers::cancel::answer(&outcome);
    if code == StatusCode::ACCEPTED {
        audit(
            &state,
            &actor,
            "request.cancel",
            &task.id.to_string(),
            Some(json!({"owner": task.key_id})),
        )
        .await?;
    }
    Ok((code, Json(CancelBody { status })).into_response())
}
