//! `GET /tencent-vod/v1/aigc-video/requests`: the caller's own requests, newest first.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use utoipa::IntoParams;
use vidgate_domain::PublicStatus;
use vidgate_store::ListQuery;

use super::status::{add_stream_url, status_of};
use crate::auth::ApiKey;
use crate::base_url::BaseUrl;
use crate::extract::QueryParams;
use crate::views::ListBody;
use crate::{ApiError, AppState};

const DEFAULT_LIMIT: i64 = 20;
const MAX_LIMIT: i64 = 100;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only requests in this state.
    #[param(value_type = Option<crate::openapi::StatusFilter>)]
    pub status: Option<String>,
    /// Requests per page, 1–100; default 20.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page (opaque: the id of its last request).
    #[param(
        pattern = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
    )]
    pub cursor: Option<String>,
}

/// A listing's `?limit=`: 1 to 100, 20 when absent (both APIs' listings).
pub(crate) fn page_size(raw: Option<&str>) -> Result<i64, ApiError> {
    let Some(raw) = raw else { return Ok(DEFAULT_LIMIT) };
    raw.parse::<i64>().ok().filter(|n| (1..=MAX_LIMIT).contains(n)).ok_or_else(|| {
        ApiError::invalid(
            &["query", "limit"],
            "int_parsing",
            format!("limit must be an integer from 1 to {MAX_LIMIT}"),
        )
    })
}

/// The position a `cursor` stands for: after the request it names, which must be one of the
/// caller's own (one its owner deleted since still counts, so paging goes on). The cursor says
/// nothing about other keys' requests (a row number would have counted them).
async fn cursor_seq(
    state: &AppState,
    key_id: &vidgate_domain::KeyId,
    cursor: &str,
) -> Result<i64, ApiError> {
    let bad = || {
        ApiError::invalid(
            &["query", "cursor"],
            "value_error",
            "cursor must be a next_cursor value from a previous page",
        )
    };
    let id = cursor.parse::<vidgate_domain::RequestId>().map_err(|_| bad())?;
    match state.store.get_task_any(id).await? {
        Some(t) if &t.key_id == key_id => Ok(t.seq),
        _ => Err(bad()),
    }
}

fn parse_params(p: &ListParams) -> Result<ListQuery, ApiError> {
    let states = match p.status.as_deref() {
        None => None,
        Some(s) => Some(
            PublicStatus::parse(s)
                .ok_or_else(|| {
                    ApiError::invalid(
                        &["query", "status"],
                        "enum",
                        "status must be IN_QUEUE, IN_PROGRESS or COMPLETED",
                    )
                })?
                .states()
                .to_vec(),
        ),
    };
    let limit = page_size(p.limit.as_deref())?;
    Ok(ListQuery { states, limit, ..Default::default() })
}

/// The caller's own requests, newest first, cursor-paged.
#[utoipa::path(
    get, path = "/tencent-vod/v1/aigc-video/requests", tag = "queue",
    params(ListParams),
    responses(
        (status = 200, description = "One page of requests.", body = ListBody),
        crate::openapi::Unauthorized,
        (status = 422, description = "Invalid status, limit or cursor.", body = crate::openapi::ValidationErrorBody),
        crate::openapi::RateLimited,
    ),
    security(("bearer" = []), ("key" = []))
)]
pub async fn list_requests(
    State(state): State<AppState>,
    ApiKey(key, key_hash): ApiKey,
    base: BaseUrl,
    QueryParams(params): QueryParams<ListParams>,
) -> Result<Json<ListBody>, ApiError> {
    page(&state, &key.id, Some(&key_hash), &params, &base).await.map(Json)
}

/// One page of `key_id`'s requests. With the key's hash, each carries its stream URL (an
/// admin reading another key's requests has no token to sign one with).
pub async fn page(
    state: &AppState,
    key_id: &vidgate_domain::KeyId,
    key_hash: Option<&str>,
    params: &ListParams,
    base: &BaseUrl,
) -> Result<ListBody, ApiError> {
    let mut query = parse_params(params)?;
    if let Some(cursor) = params.cursor.as_deref() {
        query.before_seq = Some(cursor_seq(state, key_id, cursor).await?);
    }
    let tasks = state.store.list_tasks(key_id, &query).await?;
    let next_cursor = (tasks.len() as i64 == query.limit)
        .then(|| tasks.last().map(|t| t.id.to_string()))
        .flatten();
    let mut requests = Vec::with_capacity(tasks.len());
    for t in &tasks {
        let mut body = status_of(state, t, base, false).await?;
        if let Some(hash) = key_hash {
            add_stream_url(state, &mut body, t, hash);
        }
        body.prompt = t.request.prompt().map(str::to_owned);
        requests.push(body);
    }
    Ok(ListBody { requests, next_cursor })
}
