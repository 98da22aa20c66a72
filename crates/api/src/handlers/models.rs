//! `GET /tencent-vod/v1/models`: the model rule tables vidgate checks requests against, so a
//! client (the dashboard's form among them) can offer only what will be accepted.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use vidgate_domain::models::{Durations, LastFrame, MODELS, Values, VersionRules, specification};

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
    pub name: &'static str,
    /// When the table was last checked against the upstream's documentation.
    pub as_of: &'static str,
    /// The documentation it was checked against.
    pub source: &'static str,
    /// Where the table comes from: `built_in` (shipped with this build).
    pub origin: &'static str,
    /// The `scene_type` values the model takes (empty: none).
    pub scene_types: Vec<&'static str>,
    /// The limits an unlisted version is checked against under `unknown_versions = pass`.
    pub family: VersionInfo,
    pub versions: Vec<VersionInfo>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VersionInfo {
    /// The `model_version` to send.
    pub version: &'static str,
    pub durations: DurationRule,
    /// Seconds, when the upstream documents a default.
    pub default_duration: Option<f64>,
    /// Allowed `output_config.resolution` values; null: any (undocumented); empty: the model
    /// takes none.
    pub resolutions: Option<Vec<&'static str>>,
    pub default_resolution: Option<&'static str>,
    /// Allowed `output_config.aspect_ratio` values, as `resolutions`.
    pub aspect_ratios: Option<Vec<&'static str>>,
    pub default_aspect_ratio: Option<&'static str>,
    /// Whether `last_frame_url` is allowed: `supported`, `not_supported`, or the one
    /// resolution it needs (`1080P`).
    pub last_frame: String,
    /// Most entries `file_infos` may carry.
    pub max_images: usize,
    /// Whether the model makes audio; null: undocumented.
    pub audio: Option<bool>,
    /// The upstream's usage products (`Specification`) a request of this version can be
    /// billed under; empty: the SDK names none (`unknown`).
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

fn values(v: Values) -> Option<Vec<&'static str>> {
    match v {
        Values::OneOf(set) => Some(set.to_vec()),
        Values::NotSupported => Some(Vec::new()),
        Values::Undocumented => None,
    }
}

/// What the catalog says of a model and version it lists: its rules, usage products, prices
/// and the table's `as_of`, `source` and origin; `None` for one it does not list.
pub(crate) fn listed_version(
    state: &AppState,
    model: &str,
    version: &str,
) -> Option<(VersionInfo, &'static vidgate_domain::models::ModelTable)> {
    let table = vidgate_domain::models::table(model)?;
    let (name, rules) = table.versions.iter().find(|(v, _)| *v == version)?;
    Some((version_info(state, Listed { model: table.name, version: name, rules }), table))
}

/// What the catalog says of one version (`version` `*`: the family limits).
struct Listed<'a> {
    model: &'static str,
    version: &'static str,
    rules: &'a VersionRules,
}

fn version_info(state: &AppState, listed: Listed<'_>) -> VersionInfo {
    let Listed { model, version, rules: r } = listed;
    let prices = state.config.pricing.table.rules_for(model, version);
    VersionInfo {
        specifications: specification::products(model, version),
        prices: prices.into_iter().cloned().collect(),
        version,
        durations: match r.durations {
            Durations::OneOf(set) => DurationRule::OneOf { values: set.to_vec() },
            Durations::Whole { min, max } => DurationRule::Whole { min, max },
            Durations::Undocumented => DurationRule::Any,
        },
        default_duration: r.default_duration,
        resolutions: values(r.resolutions),
        default_resolution: r.default_resolution,
        aspect_ratios: values(r.aspect_ratios),
        default_aspect_ratio: r.default_aspect_ratio,
        last_frame: match r.last_frame {
            LastFrame::Supported => "supported".into(),
            LastFrame::NotSupported => "not_supported".into(),
            LastFrame::OnlyAtResolution(res) => res.into(),
        },
        max_images: r.max_images,
        audio: r.audio,
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
    let models = MODELS
        .iter()
        .map(|t| ModelInfo {
            name: t.name,
            as_of: t.as_of,
            source: t.source,
            origin: "built_in",
            scene_types: t.scene_types.to_vec(),
            family: version_info(&state, Listed { model: t.name, version: "*", rules: &t.family }),
            versions: t
                .versions
                .iter()
                .map(|(v, r)| version_info(&state, Listed { model: t.name, version: v, rules: r }))
                .collect(),
        })
        .collect();
    let parse = state.config.parse;
    Ok(Json(ModelsBody {
        strict_model_rules: parse.strict_model_rules,
        unknown_versions: parse.unknown_versions,
        models,
    }))
}
