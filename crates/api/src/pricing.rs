//! Prices at the HTTP edge: quoting a request at create and estimate, and saying why a
//! budget refused one. The arithmetic is `vidgate_domain::pricing`'s; the table is the live
//! models' (configured rows over the catalog's default prices).

use vidgate_domain::models::live::Models;
use vidgate_domain::pricing::{PricingError, Quote, estimate};
use vidgate_domain::{Millis, VideoRequest};
use vidgate_store::BudgetRefusal;

use crate::{ApiError, AppState};

/// How requests are priced.
#[derive(Debug, Clone)]
pub struct PricingConfig {
    /// The name amounts are shown in (`credits` unless configured).
    pub currency: String,
}

/// The request's quote; `None` when no price row matches (it runs unpriced, unless its key
/// has a budget). A per-second price with no duration to multiply is the caller's to fix.
pub fn quote(
    models: &Models,
    request: &VideoRequest,
    now: Millis,
) -> Result<Option<Quote>, ApiError> {
    match estimate(&models.catalog, request, &models.prices, now) {
        Ok(q) => Ok(Some(q)),
        Err(e @ PricingError::NoDuration { .. }) => {
            Err(ApiError::Validation(e.field_error().into_iter().collect()))
        }
        Err(PricingError::NoPrice { .. }) => Ok(None),
    }
}

/// The 402 a budget refusal answers with: which rule, and the figures.
pub fn refused(state: &AppState, refusal: BudgetRefusal) -> ApiError {
    let unit = &state.config.pricing.currency;
    ApiError::PaymentRequired(match refusal {
        BudgetRefusal::Balance { balance, needed } => format!(
            "this key's balance is {balance} {unit} and the request's estimate is {needed} {unit}; top the key up"
        ),
        BudgetRefusal::DayLimit { limit, spent, needed } => format!(
            "this key has spent {spent} of its {limit} {unit} limit for today (UTC) and the request's estimate is {needed} {unit}"
        ),
        BudgetRefusal::MonthLimit { limit, spent, needed } => format!(
            "this key has spent {spent} of its {limit} {unit} limit for this month (UTC) and the request's estimate is {needed} {unit}"
        ),
        BudgetRefusal::Unpriced => {
            "no price is configured for this model, and a key with a budget can only run priced requests".into()
        }
    })
}
