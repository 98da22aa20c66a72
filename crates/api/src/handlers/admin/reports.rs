//! `/admin/usage`, `/admin/ledger`, `/admin/audit`: reports over every key.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use vidgate_domain::pricing::day_of;
use vidgate_store::{AuditEntry, LedgerEntry};

use super::key_named;
use crate::auth::AdminKey;
use crate::extract::QueryParams;
use crate::handlers::usage::{UsageParams, parse_params, report};
use crate::{ApiError, AppState};

const MAX_PAGE: i64 = 1000;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AdminUsageParams {
    /// Only this key (its name); default: every key.
    pub key: Option<String>,
    /// First UTC day, `YYYY-MM-DD`; default: the first of the current month.
    #[param(value_type = Option<String>, format = Date)]
    pub from: Option<String>,
    /// Last UTC day (inclusive); default: today.
    #[param(value_type = Option<String>, format = Date)]
    pub to: Option<String>,
    /// `day` (default), `model`, `key`, or `day_model` (groups `YYYY-MM-DD/Model`).
    #[param(value_type = Option<String>, pattern = "^(day|model|key|day_model)$")]
    pub group_by: Option<String>,
}

#[utoipa::path(
    get, path = "/admin/usage", operation_id = "admin_usage", tag = "admin",
    params(AdminUsageParams),
    responses(
        (status = 200, description = "Usage of every key (or one); `Accept: text/csv` for CSV.",
            content((crate::handlers::usage::UsageBody = "application/json"), (String = "text/csv"))),
        crate::openapi::Unauthorized,
        crate::openapi::NotAdmin,
        (status = 404, description = "No active key has that name.", body = crate::openapi::ErrorBody),
        (status = 422, description = "A bad parameter, named.", body = crate::openapi::ValidationErrorBody),
    ),
    security(("bearer" = []), ("key" = []))
)]
pub async fn usage(
    State(state): State<AppState>,
    AdminKey(_admin): AdminKey,
    headers: HeaderMap,
    QueryParams(p): QueryParams<AdminUsageParams>,
) -> Result<Response, ApiError> {
    let now = state.clock.now_ms();
    let span = UsageParams { from: p.from, to: p.to, group_by: p.group_by };
    let (from, to, group_by) = parse_params(&span, day_of(now))?;
    let key_id = match &p.key {
        Some(name) => Some(key_named(&state, name).await?.id),
        None => None,
    };
    report(&state, key_id, from, to, group_by, &headers, now).await
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Only this key (its name); the audit log ignores it.
    pub key: Option<String>,
    /// Entries after this `seq` (the last one of the previous page).
    #[param(value_type = Option<i64>, minimum = 0)]
    pub after: Option<String>,
    /// Entries per page, 1–1000; default 100.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 1000)]
    pub limit: Option<String>,
}

fn page_of(p: &PageParams) -> Result<(i64, i64), ApiError> {
    let after = match p.after.as_deref() {
        None => 0,
        Some(a) => a.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
            ApiError::invalid(&["query", "after"], "int_parsing", "after must be a seq ≥ 0")
        })?,
    };
    let limit = match p.limit.as_deref() {
        None => 100,
        Some(l) => {
            l.parse::<i64>().ok().filter(|n| (1..=MAX_PAGE).contains(n)).ok_or_else(|| {
                ApiError::invalid(
                    &["query", "limit"],
                    "int_parsing",
                    format!("limit must be 1 to {MAX_PAGE}"),
                )
            })?
        }
    };
    Ok((after, limit))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LedgerPage {
    /// Oldest first: holds, settlements, releases, top-ups and adjustments (`amount` is the
    /// change to the key's balance, `spend` to what it spent; credits).
    #[schema(value_type = Vec<Object>)]
    pub entries: Vec<LedgerEntry>,
}

#[utoipa::path(
    get, path = "/admin/ledger", operation_id = "admin_ledger", tag = "admin",
    params(PageParams),
    responses(
        (status = 200, description = "A page of the append-only ledger.", body = LedgerPage),
        crate::openapi::Unauthorized,
        crate::openapi::NotAdmin,
        (status = 404, description = "No active key has that name.", body = crate::openapi::ErrorBody),
        (status = 422, description = "A bad parameter, named.", body = crate::openapi::ValidationErrorBody),
    ),
    security(("bearer" = []), ("key" = []))
)]
pub async fn ledger(
    State(state): State<AppState>,
    AdminKey(_admin): AdminKey,
    QueryParams(p): QueryParams<PageParams>,
) -> Result<Json<LedgerPage>, ApiError> {
    let (after, limit) = page_of(&p)?;
    let key_id = match &p.key {
        Some(name) => Some(key_named(&state, name).await?.id),
        None => None,
    };
    let entries = state.store.ledger(key_id.as_ref(), after, limit).await?;
    Ok(Json(LedgerPage { entries }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    /// Oldest first: `at`, `actor_key_id`, `actor_name`, `action`, `target`, `detail`.
    #[schema(value_type = Vec<Object>)]
    pub entries: Vec<AuditEntry>,
}

#[utoipa::path(
    get, path = "/admin/audit", operation_id = "admin_audit", tag = "admin",
    params(PageParams),
    responses(
        (status = 200, description = "A page of the audit log.", body = AuditPage),
        crate::openapi::Unauthorized,
        crate::openapi::NotAdmin,
        (status = 422, description = "A bad parameter, named.", body = crate::openapi::ValidationErrorBody),
    ),
    security(("bearer" = []), ("key" = []))
)]
pub async fn audit_log(
    State(state): State<AppState>,
    AdminKey(_admin): AdminKey,
    QueryParams(p): QueryParams<PageParams>,
) -> Result<Json<AuditPage>, ApiError> {
    let (after, limit) = page_of(&p)?;
    Ok(Json(AuditPage { entries: state.store.audit_log(after, limit).await? }))
}
