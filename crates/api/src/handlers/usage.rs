//! `GET /tencent-vod/v1/usage`: what the caller's key spent, per day, model or key, over a
//! span of UTC days; JSON, or CSV with `Accept: text/csv`. Read from the ledger, so it counts
//! requests whose tasks were since deleted.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use vidgate_domain::pricing::{Credits, day_of};
use vidgate_store::{GroupBy, UsageQuery, UsageRow};

use super::estimate::BudgetView;
use crate::auth::ApiKey;
use crate::extract::QueryParams;
use crate::{ApiError, AppState};

/// The longest span one report covers.
const MAX_DAYS: i64 = 366;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UsageParams {
    /// First UTC day, `YYYY-MM-DD`; default: the first of the current month.
    #[param(value_type = Option<String>, format = Date)]
    pub from: Option<String>,
    /// Last UTC day (inclusive), `YYYY-MM-DD`; default: today.
    #[param(value_type = Option<String>, format = Date)]
    pub to: Option<String>,
    /// `day` (default), `model`, `key`, or `day_model` (groups `YYYY-MM-DD/Model`).
    #[param(value_type = Option<String>, pattern = "^(day|model|key|day_model)$")]
    pub group_by: Option<String>,
}

/// One group's figures (amounts in credits).
#[derive(Debug, Serialize, ToSchema)]
pub struct UsageLine {
    /// The day, model name or key id.
    pub group: String,
    /// Priced requests created.
    pub requests: i64,
    pub succeeded: i64,
    /// Ended without a charge (failed, cancelled, timed out).
    pub released: i64,
    /// Still running: their quotes are held and count in `spent`.
    pub pending: i64,
    /// Seconds of video charged.
    pub seconds: f64,
    pub spent: f64,
}

impl From<&UsageRow> for UsageLine {
    fn from(r: &UsageRow) -> Self {
        UsageLine {
            group: r.group.clone(),
            requests: r.requests,
            succeeded: r.succeeded,
            released: r.released,
            pending: r.pending,
            seconds: r.seconds,
            spent: r.spent.as_credits(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UsageBody {
    pub from: String,
    pub to: String,
    /// `day`, `model` or `key`.
    pub group_by: String,
    pub currency: String,
    pub rows: Vec<UsageLine>,
    /// The rows summed (`group` is `total`).
    pub total: UsageLine,
    /// The key's balance and budget now (absent in an admin's report over every key).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget: Option<BudgetView>,
}

fn day(param: &str, raw: &str) -> Result<NaiveDate, ApiError> {
    NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_err(|_| {
        ApiError::invalid(
            &["query", param],
            "date_from_datetime_parsing",
            format!("{param} must be a day as YYYY-MM-DD, got {raw:?}"),
        )
    })
}

/// The report's span and grouping, checked.
pub fn parse_params(
    p: &UsageParams,
    today: NaiveDate,
) -> Result<(NaiveDate, NaiveDate, GroupBy), ApiError> {
    let from = match &p.from {
        Some(f) => day("from", f)?,
        None => today.with_day(1).unwrap_or(today),
    };
    let to = match &p.to {
        Some(t) => day("to", t)?,
        None => today,
    };
    if to < from {
        return Err(ApiError::invalid(&["query", "to"], "value_error", "to is before from"));
    }
    if (to - from).num_days() >= MAX_DAYS {
        return Err(ApiError::invalid(
            &["query", "to"],
            "value_error",
            format!("a report covers at most {MAX_DAYS} days"),
        ));
    }
    let group_by = match p.group_by.as_deref() {
        None | Some("day") => GroupBy::Day,
        Some("model") => GroupBy::Model,
        Some("key") => GroupBy::Key,
        Some("day_model") => GroupBy::DayModel,
        Some(_) => {
            return Err(ApiError::invalid(
                &["query", "group_by"],
                "enum",
                "group_by must be day, model, key or day_model",
            ));
        }
    };
    Ok((from, to, group_by))
}

/// The rows summed.
fn total(rows: &[UsageRow]) -> UsageLine {
    UsageLine::from(&UsageRow {
        group: "total".into(),
        requests: rows.iter().map(|r| r.requests).sum(),
        succeeded: rows.iter().map(|r| r.succeeded).sum(),
        released: rows.iter().map(|r| r.released).sum(),
        pending: rows.iter().map(|r| r.pending).sum(),
        seconds: rows.iter().map(|r| r.seconds).sum(),
        spent: rows.iter().map(|r| r.spent).sum::<Credits>(),
    })
}

fn wants_csv(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.split(',').any(|t| t.trim().starts_with("text/csv")))
}

/// The report as CSV: a header line, one line per group, amounts as exact decimals.
pub fn csv_of(rows: &[UsageRow]) -> Result<String, ApiError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let internal = |e: csv::Error| ApiError::Internal(e.to_string());
    w.write_record(["group", "requests", "succeeded", "released", "pending", "seconds", "spent"])
        .map_err(internal)?;
    for r in rows {
        w.write_record([
            r.group.clone(),
            r.requests.to_string(),
            r.succeeded.to_string(),
            r.released.to_string(),
            r.pending.to_string(),
            r.seconds.to_string(),
            r.spent.to_string(),
        ])
        .map_err(internal)?;
    }
    let bytes = w.into_inner().map_err(|e| ApiError::Internal(e.to_string()))?;
    String::from_utf8(bytes).map_err(|e| ApiError::Internal(e.to_string()))
}

#[utoipa::path(
    get,
    path = "/tencent-vod/v1/usage",
    tag = "accounting",
    params(UsageParams),
    responses(
        (status = 200, description = "The caller's own usage; with `Accept: text/csv`, CSV (columns group, requests, succeeded, released, pending, seconds, spent).",
            content(
                (UsageBody = "application/json"),
                (String = "text/csv"),
            )),
        crate::openapi::Unauthorized,
        (status = 422, description = "A bad day, span or grouping.", body = crate::openapi::ValidationErrorBody),
        (status = 429, description = "Rate limit reached; see `Retry-After`.", body = crate::openapi::ErrorBody),
    ),
    security(("bearer" = []), ("key" = []))
)]
pub async fn usage(
    State(state): State<AppState>,
    ApiKey(key, _): ApiKey,
    headers: HeaderMap,
    QueryParams(params): QueryParams<UsageParams>,
) -> Result<Response, ApiError> {
    let now = state.clock.now_ms();
    let (from, to, group_by) = parse_params(&params, day_of(now))?;
    report(&state, Some(key.id), from, to, group_by, &headers, now).await
}

/// A usage report for one key (`None`: every key, for admins), as JSON or CSV.
pub async fn report(
    state: &AppState,
    key_id: Option<vidgate_domain::KeyId>,
    from: NaiveDate,
    to: NaiveDate,
    group_by: GroupBy,
    headers: &HeaderMap,
    now: vidgate_domain::Millis,
) -> Result<Response, ApiError> {
    let query =
        UsageQuery { key_id: key_id.clone(), from: from.to_string(), to: to.to_string(), group_by };
    let rows = state.store.usage(&query).await?;
    if wants_csv(headers) {
        let mut response = csv_of(&rows)?.into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
        return Ok(response);
    }
    let budget = match &key_id {
        Some(id) => state.store.balance(id, now).await?.map(|b| BudgetView::of(&b)),
        None => None,
    };
    let body = UsageBody {
        from: from.to_string(),
        to: to.to_string(),
        group_by: group_by.as_str().into(),
        currency: state.config.pricing.currency.clone(),
        rows: rows.iter().map(UsageLine::from).collect(),
        total: total(&rows),
        budget,
    };
    Ok(Json(body).into_response())
}
