//! `GET /tencent-vod/v1/models`: the model rule tables vidgate checks requests against, so a
//! client (the dashboard's form among them) can offer only what will be accepted.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use vidgate_domain::models::live::Models;
use vidgate_domain::models::{Durations, LastFrame, ModelTable, Values, VersionEntry};

use crate::auth::ApiKey;
use crate::{ApiError, AppState};

/// Every model vidgate knows, and whether it refuses others.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelsBody {
    /// `true`: requests must name a model and version listed here and keep to its rules.
    /// `false`: anything passes through to the upstream unchecked.
    pub strict_model_rules: bool,
    /// A version of a listed model that is not listed: `refuse`, or `pass` (checked against
    /// the model's `family` limits).
    #[schema(value_type = String)]
    pub unknown_versions: vidgate_domain::request::UnknownVersions,
    pub models: Vec<ModelInfo>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ModelInfo {
    /// The `model_name` to send.
    pub name: String,
    /// When the model's entry was last checked against the upstream's documentation.
    pub as_of: String,
    /// The documentation it was checked against.
    pub source: String,
    /// Where the model's entry comes from: `built_in` (shipped with this build) or
    /// `operator` (the operator's catalog file or `PUT /admin/models/...`).
    pub origin: String,
    /// The `scene_type` values the model takes (empty: none).
    pub scene_types: Vec<String>,
    /// The limits an unlisted version is checked against under `unknown_versions = pass`.
    pub family: VersionInfo,
    pub versions: Vec<VersionInfo>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VersionInfo {
    /// The `model_version` to send (`*` for a model's family limits).
    pub version: String,
    /// When this version's entry was checked, against what, and where it comes from
    /// (`built_in` or `operator`).
    pub as_of: String,
    pub source: String,
    pub origin: String,
    pub durations: DurationRule,
    /// Seconds, when the upstream documents a default.
    pub default_duration: Option<f64>,
    /// Allowed `output_config.resolution` values; null: any (undocumented); empty: the model
    /// takes none.
    pub resolutions: Option<Vec<String>>,
    pub default_resolution: Option<String>,
    /// Allowed `output_config.aspect_ratio` values, as `resolutions`.
    pub aspect_ratios: Option<Vec<String>>,
    pub default_aspect_ratio: Option<String>,
    /// Whether `last_frame_url` is allowed: `supported`, `not_supported`, `with_one_image`,
    /// or the one resolution it needs (`1080P`).
    pub last_frame: String,
    /// Most entries `file_infos` may carry.
    pub max_images: usize,
    /// Whether the model makes audio; null: undocumented.
    pub audio: Option<bool>,
    /// The upstream's usage products (`Specification`) a request of this version can be
    /// billed under; empty: the catalog names none (`unknown`).
    pub specifications: Vec<String>,
    /// The price rows that can price this version, most specific first (`model`, `version`,
    /// `resolution`, `audio`, `per_second`, `per_request`, `from`).
    #[schema(value_type = Vec<Object>)]
    pub prices: Vec<vidgate_domain::pricing::PriceRule>,
}

/// Allowed `output_config.duration` values.
#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DurationRule {
    /// Exactly one of these values (seconds).
    OneOf { values: Vec<f64> },
    /// Any whole number of seconds in this inclusive range.
    Whole { min: u32, max: u32 },
    /// Undocumented upstream: any positive value passes.
    Any,
}

fn values(v: &Values) -> Option<Vec<String>> {
    match v {
        Values::OneOf(set) => Some(set.clone()),
        Values::NotSupported => Some(Vec::new()),
        Values::Undocumented => None,
    }
}

/// What the catalog says of a model and version it lists: its rules, usage products, prices
/// and its entry's `as_of`, `source` and origin; `None` for one it does not list.
pub(crate) fn listed_version(models: &Models, model: &str, version: &str) -> Option<VersionInfo> {
    let table = models.catalog.table(model)?;
    table.entry(version).map(|e| version_info(models, table, e))
}

fn version_info(models: &Models, table: &ModelTable, e: &VersionEntry) -> VersionInfo {
    let (model, version, r) = (table.name.as_str(), e.name.as_str(), &e.rules);
    let prices = models.prices.rules_for(model, version);
    VersionInfo {
        specifications: models.catalog.products(model, version),
        prices: prices.into_iter().cloned().collect(),
        version: version.to_owned(),
        as_of: e.as_of.clone(),
        source: e.source.clone(),
        origin: e.origin.as_str().to_owned(),
        durations: match &r.durations {
            Durations::OneOf(set) => DurationRule::OneOf { values: set.clone() },
            Durations::Whole { min, max } => DurationRule::Whole { min: *min, max: *max },
            Durations::Undocumented => DurationRule::Any,
        },
        default_duration: r.default_duration,
        resolutions: values(&r.resolutions),
        default_resolution: r.default_resolution.clone(),
        aspect_ratios: values(&r.aspect_ratios),
        default_aspect_ratio: r.default_aspect_ratio.clone(),
        last_frame: match &r.last_frame {
            LastFrame::Supported => "supported".into(),
            LastFrame::NotSupported => "not_supported".into(),
            LastFrame::WithOneImage => "with_one_image".into(),
            LastFrame::OnlyAtResolution(res) => res.clone(),
        },
        max_images: r.max_images,
        audio: r.audio,
    }
}

/// A model's listing entry.
pub(crate) fn model_info(models: &Models, t: &ModelTable) -> ModelInfo {
    let family = VersionEntry {
        name: "*".into(),
        rules: t.family.clone(),
        as_of: t.as_of.clone(),
        source: t.source.clone(),
        origin: t.origin,
    };
    ModelInfo {
        name: t.name.clone(),
        as_of: t.as_of.clone(),
        source: t.source.clone(),
        origin: t.origin.as_str().to_owned(),
        scene_types: t.scene_types.clone(),
        family: version_info(models, t, &family),
        versions: t.versions.iter().map(|e| version_info(models, t, e)).collect(),
    }
}

/// The models, versions and per-version rules requests are checked against.
#[utoipa::path(
    get, path = "/tencent-vod/v1/models", tag = "queue",
    responses(
        (status = 200, description = "Every known model and its rules.", body = ModelsBody),
        crate::openapi::Unauthorized,
        (status = 422, description = "Unknown query parameter.", body = crate::openapi::ValidationErrorBody),
        crate::openapi::RateLimited,
    ),
    security(("bearer" = []), ("key" = []))
)]
pub async fn list_models(
    State(state): State<AppState>,
    _caller: ApiKey,
) -> Result<Json<ModelsBody>, ApiError> {
    let models = state.models();
    let list = models.catalog.models.iter().map(|t| model_info(&models, t)).collect();
    let parse = &state.config.parse;
    Ok(Json(ModelsBody {
        strict_model_rules: parse.strict_model_rules,
        unknown_versions: parse.unknown_versions,
        models: list,
    }))
}
