//! Prices and costs. The price table is data (dated rows in configuration, over defaults
//! derived from the model rule tables); `estimate` quotes a request before it runs and `cost`
//! prices it after, from its recorded usage. Both are pure functions.

mod credits;

pub use credits::{Credits, MICROS_PER_CREDIT};

use chrono::{DateTime, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::field_error::{FieldError, Loc};
use crate::models::Catalog;
use crate::request::Switch;
use crate::usage::Usage;
use crate::{Millis, VideoRequest};

/// One row of the price table. A field left out matches any value; among the rows that match
/// a request, the most specific wins, then the latest `from`, then the earlier row (rows from
/// configuration come before the defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceRule {
    /// `model_name` (`Kling`), compared without regard to case.
    pub model: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// `1080P`, compared without regard to case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<String>,
    /// Sound on (`true`) or off (`false`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio: Option<bool>,
    /// Credits per second of video made.
    #[serde(default)]
    pub per_second: Credits,
    /// Credits per request, whatever its length.
    #[serde(default)]
    pub per_request: Credits,
    /// The first day (UTC) this price applies to requests created on it.
    pub from: NaiveDate,
}

impl PriceRule {
    fn matches(&self, k: &PriceKey<'_>) -> bool {
        self.model.eq_ignore_ascii_case(k.model)
            && self.version.as_deref().is_none_or(|v| v == k.version)
            && self
                .resolution
                .as_deref()
                .is_none_or(|r| k.resolution.is_some_and(|kr| r.eq_ignore_ascii_case(kr)))
            && self.audio.is_none_or(|a| a == k.audio)
            && self.from <= k.day
    }

    fn specificity(&self) -> u8 {
        u8::from(self.version.is_some())
            + u8::from(self.resolution.is_some())
            + u8::from(self.audio.is_some())
    }
}

/// What a price depends on.
struct PriceKey<'a> {
    model: &'a str,
    version: &'a str,
    resolution: Option<&'a str>,
    audio: bool,
    day: NaiveDate,
}

/// The price table: rows from configuration, then (unless turned off) the catalog's default
/// prices (the operator's before the built-in ones).
#[derive(Debug, Clone, PartialEq)]
pub struct PriceTable {
    rules: Vec<PriceRule>,
}

impl PriceTable {
    pub fn new(catalog: &Catalog, configured: Vec<PriceRule>, with_defaults: bool) -> PriceTable {
        let mut rules = configured;
        if with_defaults {
            rules.extend(catalog.prices.iter().cloned());
        }
        PriceTable { rules }
    }

    pub fn rules(&self) -> &[PriceRule] {
        &self.rules
    }

    /// The rows that can price `model` `version` (its own and its model's), most specific
    /// first: what a catalog listing shows as the version's price.
    pub fn rules_for(&self, model: &str, version: &str) -> Vec<&PriceRule> {
        let mut rows: Vec<&PriceRule> = self
            .rules
            .iter()
            .filter(|r| {
                r.model.eq_ignore_ascii_case(model)
                    && r.version.as_deref().is_none_or(|v| v == version)
            })
            .collect();
        rows.sort_by_key(|r| std::cmp::Reverse((r.specificity(), r.from)));
        rows
    }

    fn find(&self, k: &PriceKey<'_>) -> Option<&PriceRule> {
        let mut best: Option<&PriceRule> = None;
        for r in self.rules.iter().filter(|r| r.matches(k)) {
            let better = match best {
                None => true,
                Some(b) => (r.specificity(), r.from) > (b.specificity(), b.from),
            };
            if better {
                best = Some(r);
            }
        }
        best
    }
}

/// A request's price before it runs: what is held against the key's budget at create.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quote {
    pub model_name: String,
    pub model_version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<String>,
    pub audio: bool,
    /// The seconds priced: the request's `output_config.duration`, else the model's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds: Option<f64>,
    pub per_second: Credits,
    pub per_request: Credits,
    /// The day the applied price row starts.
    pub price_from: NaiveDate,
    /// `per_request + per_second × seconds`.
    pub amount: Credits,
    /// The upstream's usage product (`Specification`) the request is billed under, by the
    /// catalog in force when it was priced (`unknown` where the catalog names none); kept
    /// with its ledger rows, so reconciling never re-derives it from a changed catalog.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub specification: Option<String>,
}

/// Why a request has no quote.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PricingError {
    /// No row of the table matches: the request runs unpriced (a key with a budget cannot
    /// run it).
    #[error("no price is configured for {model} {version}")]
    NoPrice { model: String, version: String },
    /// The price is per second, the request gives no duration and the model documents no
    /// default one: vidgate will not guess a length to charge.
    #[error(
        "{model} {version} is priced per second and documents no default duration; give output_config.duration"
    )]
    NoDuration { model: String, version: String },
}

impl PricingError {
    /// The field error a create answers with, when the caller can fix it.
    pub fn field_error(&self) -> Option<FieldError> {
        match self {
            PricingError::NoDuration { .. } => Some(FieldError::new(
                ["body", "output_config", "duration"].into_iter().map(Loc::from).collect(),
                "missing",
                self.to_string(),
            )),
            PricingError::NoPrice { .. } => None,
        }
    }
}

/// The UTC day of a timestamp.
pub fn day_of(at: Millis) -> NaiveDate {
    DateTime::from_timestamp_millis(at).unwrap_or_default().date_naive()
}

/// Quotes `request` as created at `at`.
pub fn estimate(
    catalog: &Catalog,
    request: &VideoRequest,
    table: &PriceTable,
    at: Millis,
) -> Result<Quote, PricingError> {
    let (model, version) = (request.model_name(), request.model_version());
    let rules = catalog.rules_or_family(model, version);
    let out = request.output_config();
    let resolution =
        out.resolution.clone().or_else(|| rules.and_then(|r| r.default_resolution.clone()));
    let audio = out.audio_generation == Some(Switch::Enabled);
    let key =
        PriceKey { model, version, resolution: resolution.as_deref(), audio, day: day_of(at) };
    let Some(rule) = table.find(&key) else {
        return Err(PricingError::NoPrice { model: model.into(), version: version.into() });
    };
    let seconds = out.duration.or_else(|| rules.and_then(|r| r.default_duration));
    if rule.per_second != Credits::ZERO && seconds.is_none() {
        return Err(PricingError::NoDuration { model: model.into(), version: version.into() });
    }
    let amount = rule.per_request + rule.per_second.times(seconds.unwrap_or(0.0));
    Ok(Quote {
        model_name: model.into(),
        model_version: version.into(),
        resolution,
        audio,
        seconds,
        per_second: rule.per_second,
        per_request: rule.per_request,
        price_from: rule.from,
        amount,
        specification: Some(catalog.specification(request).to_string()),
    })
}

/// A finished request's cost and what it was computed from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cost {
    /// What is charged: the price of what the upstream reports, never more than the quote
    /// (the hold, the most the request could cost by its parameters).
    pub amount: Credits,
    /// The seconds priced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds: Option<f64>,
    /// `usage` (the recorded output seconds) or `estimate` (no usage reported: the quote's).
    pub basis: CostBasis,
    /// What the usage would cost beyond the quote, which is not charged (the ledger records
    /// it as an overage the operator sees).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uncharged: Option<Credits>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CostBasis {
    Usage,
    Estimate,
}

/// The cost of a request that succeeded, at the price it was quoted (the price of its create
/// day), for the output seconds its usage records, and never more than the quote: a request
/// is charged what the upstream reports up to what was held for it.
pub fn cost(quote: &Quote, usage: Option<&Usage>) -> Cost {
    let (seconds, basis) = match usage.and_then(|u| u.output_seconds) {
        Some(s) if s.is_finite() && s >= 0.0 => (Some(s), CostBasis::Usage),
        _ => (quote.seconds, CostBasis::Estimate),
    };
    let full = quote.per_request + quote.per_second.times(seconds.unwrap_or(0.0));
    let amount = full.min(quote.amount);
    let uncharged = (full > amount).then(|| full - amount);
    Cost { amount, seconds, basis, uncharged }
}

#[cfg(test)]
mod tests;
