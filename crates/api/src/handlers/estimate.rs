//! `POST /tencent-vod/v1/aigc-video/estimate`: what a create with this body would cost and
//! whether the key's budget would take it. Same body and same validation as create; nothing
//! is stored and no create token is spent.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use vidgate_store::KeyBudget;

use super::create_input::{CreateInput, FalCreate};
use crate::auth::ApiKey;
use crate::extract::{JsonBody, QueryParams};
use crate::views::QuoteView;
use crate::{ApiError, AppState};

/// The quote and the key's standing.
#[derive(Debug, Serialize, ToSchema)]
pub struct EstimateBody {
    /// `null` when no price row matches the model (it would run unpriced).
    pub estimate: Option<QuoteView>,
    pub currency: String,
    /// Whether the key's budget would accept it now (a concurrent create may still take the
    /// last credit first).
    pub allowed: bool,
    /// Why not, when `allowed` is false.
    pub reason: Option<String>,
    pub budget: BudgetView,
}

/// A key's money as of now (credits).
#[derive(Debug, Serialize, ToSchema)]
pub struct BudgetView {
    /// Top-ups minus spend (held quotes count as spent until settled).
    pub balance: f64,
    /// Whether the balance is enforced.
    pub prepaid: bool,
    pub spent_today: f64,
    pub spent_this_month: f64,
    pub day_limit: Option<f64>,
    pub month_limit: Option<f64>,
}

impl BudgetView {
    pub fn of(b: &vidgate_store::Balance) -> BudgetView {
        let KeyBudget { prepaid, day_limit, month_limit } = b.budget;
        BudgetView {
            balance: b.balance.as_credits(),
            prepaid,
            spent_today: b.spent_today.as_credits(),
            spent_this_month: b.spent_this_month.as_credits(),
            day_limit: day_limit.map(|c| c.as_credits()),
            month_limit: month_limit.map(|c| c.as_credits()),
        }
    }
}

#[utoipa::path(
    post,
    path = "/tencent-vod/v1/aigc-video/estimate",
    tag = "accounting",
    request_body(content = crate::openapi::CreateTaskBody, description = "The same body as create."),
    responses(
        (status = 200, description = "The quote; nothing stored.", body = EstimateBody),
        (status = 400, description = "Malformed JSON.", body = crate::openapi::ErrorBody),
        crate::openapi::Unauthorized,
        (status = 413, description = "Body larger than the configured limit.", body = crate::openapi::ErrorBody),
        (status = 422, description = "Invalid values, as create answers them.", body = crate::openapi::ValidationErrorBody),
        (status = 429, description = "Rate limit reached; see `Retry-After`.", body = crate::openapi::ErrorBody),
    ),
    security(("bearer" = []), ("key" = []))
)]
pub async fn estimate(
    State(state): State<AppState>,
    ApiKey(key, _): ApiKey,
    QueryParams(query): QueryParams<std::collections::HashMap<String, String>>,
    JsonBody(body, _): JsonBody,
) -> Result<Json<EstimateBody>, ApiError> {
    let query_hook = query.get("fal_webhook");
    let models = state.models();
    let input = CreateInput::try_from(FalCreate {
        state: &state,
        models: &models,
        body: &body,
        query_hook,
    })?;
    let request = input.request;
    let now = state.clock.now_ms();
    let quote = crate::pricing::quote(&models, &request, now)?;
    let balance = state
        .store
        .balance(&key.id, now)
        .await?
        .ok_or(ApiError::Unauthorized("this API key no longer exists"))?;
    let refusal = balance.refusal(quote.as_ref().map(|q| q.amount));
    Ok(Json(EstimateBody {
        estimate: quote.as_ref().map(QuoteView::of),
        currency: state.config.pricing.currency.clone(),
        allowed: refusal.is_none(),
        reason: refusal.map(|r| crate::pricing::refused(&state, r).to_string()),
        budget: BudgetView::of(&balance),
    }))
}
