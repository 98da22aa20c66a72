//! `GET /admin/reconcile`: vidgate's books for an upstream day (or range) against what the
//! upstream reported on its tasks and what its usage API says it billed (`crate::reconcile`).

use axum::Json;
use axum::extract::State;
use chrono::NaiveDate;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::AdminKey;
use crate::extract::QueryParams;
use crate::reconcile::{Report, reconcile, upstream_day};
use crate::{ApiError, AppState};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReconcileParams {
    /// One upstream day (UTC+8), `YYYY-MM-DD`; default: yesterday's.
    #[param(value_type = Option<String>, format = Date)]
    pub date: Option<String>,
    /// A range instead: first and last upstream day (at most 90 days).
    #[param(value_type = Option<String>, format = Date)]
    pub from: Option<String>,
    #[param(value_type = Option<String>, format = Date)]
    pub to: Option<String>,
    /// Seconds two sides may differ by and still agree (default 0).
    #[param(value_type = Option<f64>, minimum = 0)]
    pub tolerance: Option<String>,
}

fn day(field: &str, v: &str) -> Result<NaiveDate, ApiError> {
    NaiveDate::parse_from_str(v, "%Y-%m-%d").map_err(|_| {
        ApiError::invalid(
            &["query", field],
            "date_parsing",
            format!("{field} must be YYYY-MM-DD, got {v:?}"),
        )
    })
}

#[utoipa::path(
    get, path = "/admin/reconcile", operation_id = "admin_reconcile", tag = "admin",
    params(ReconcileParams),
    responses(
        (status = 200, description = "The reconciliation: a line per day, account and usage product, the findings behind any difference, and whether all agree.", body = Report),
        crate::openapi::Unauthorized,
        crate::openapi::NotAdmin,
        (status = 422, description = "A bad parameter, named.", body = crate::openapi::ValidationErrorBody),
        (status = 503, description = "The store or the upstream's usage API did not answer.", body = crate::openapi::ErrorBody),
    ),
    security(("bearer" = []), ("key" = []))
)]
pub async fn get(
    State(state): State<AppState>,
    _admin: AdminKey,
    QueryParams(p): QueryParams<ReconcileParams>,
) -> Result<Json<Report>, ApiError> {
    let yesterday = upstream_day(state.clock.now_ms()).pred_opt().unwrap_or_default();
    let (from, to) = match (&p.date, &p.from, &p.to) {
        (Some(d), None, None) => (day("date", d)?, day("date", d)?),
        (None, Some(f), Some(t)) => (day("from", f)?, day("to", t)?),
        (None, None, None) => (yesterday, yesterday),
        _ => {
            return Err(ApiError::invalid(
                &["query", "date"],
                "value_error",
                "give date, or from and to",
            ));
        }
    };
    let tolerance = match p.tolerance.as_deref().map(str::parse::<f64>) {
        None => 0.0,
        Some(Ok(t)) if t.is_finite() && t >= 0.0 => t,
        Some(_) => {
            return Err(ApiError::invalid(
                &["query", "tolerance"],
                "value_error",
                "tolerance must be seconds ≥ 0",
            ));
        }
    };
    match reconcile(state.store.as_ref(), Some(state.provider.as_ref()), from, to, tolerance).await
    {
        Ok(report) => Ok(Json(report)),
        Err(crate::reconcile::ReconcileError::Range(m)) => {
            Err(ApiError::invalid(&["query", "to"], "value_error", m))
        }
        Err(crate::reconcile::ReconcileError::Store(e)) => Err(e.into()),
        Err(e @ crate::reconcile::ReconcileError::Upstream(_)) => {
            Err(ApiError::Unavailable(e.to_string()))
        }
    }
}
