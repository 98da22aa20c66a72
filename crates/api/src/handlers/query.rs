//! `GET /tencent-vod/v1/query/{task_id}`: the compatibility route existing gateways of this
//! endpoint offer, answering in the upstream's `DescribeTaskDetail` shape.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::http_request_id;
use crate::auth::ApiKey;
use crate::base_url::BaseUrl;
use crate::views::tencent_envelope;
use crate::{ApiError, AppState};

/// The request as a `DescribeTaskDetail` envelope (`TaskId` is the create answer's
/// `Response.TaskId`, i.e. the request id).
#[utoipa::path(
    get, path = "/tencent-vod/v1/query/{task_id}", tag = "tencent-compat",
    params(("task_id" = String, Path, description = "`Response.TaskId` from the create answer.")),
    responses(
        (status = 200, description = "`{\"Response\":{\"TaskType\":\"AigcVideoTask\",\"Status\",\"AigcVideoTask\":{…},\"RequestId\"}}`", body = Object),
        crate::openapi::Unauthorized,
        (status = 404, description = "`{\"Response\":{\"Error\":{\"Code\":\"ResourceNotFound\",\"Message\"},\"RequestId\"}}`", body = Object),
        (status = 422, description = "Unknown query parameter.", body = crate::openapi::ValidationErrorBody),
        crate::openapi::RateLimited,
    ),
    security(("bearer" = []), ("key" = []))
)]
pub async fn query_task(
    State(state): State<AppState>,
    ApiKey(key, key_hash): ApiKey,
    base: BaseUrl,
    headers: HeaderMap,
    Path(task_id): Path<String>,
) -> Result<Response, ApiError> {
    let request_id = http_request_id(&headers);
    let task = match task_id.parse() {
        Ok(id) => state.store.get_task(&key.id, id).await?,
        Err(_) => None,
    };
    Ok(match task {
        Some(t) => {
            let signing = state.media_signing(&key_hash);
            Json(tencent_envelope(&t, &base, &request_id, signing)).into_response()
        }
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"Response": {"Error": {"Code": "ResourceNotFound", "Message": format!("task {task_id} does not exist")}, "RequestId": request_id}})),
        )
            .into_response(),
    })
}
