//! The catalog's file format (TOML or JSON, one shape): models, their family limits and
//! versions, usage specifications, default prices and aliases, each dated with `as_of` and
//! `source`. The built-in catalog (`builtin/*.toml`) and an operator's file are read into this,
//! and so is the body of `PUT /admin/models/...`. A field left out of a model or version
//! inherits: a version from its model's family limits, an override from what it overrides.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::pricing::Credits;

/// A whole catalog file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogFile {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<ModelSpec>,
    /// Usage products the upstream lists that no video request is billed under (image
    /// generation, other AI products): known names, so the drift check and the
    /// reconciliation do not take them for missing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other_products: Vec<String>,
    /// Names clients may send for a model and version besides the derived ones
    /// (`<family>-<version>`), e.g. OpenAI's `sora-2`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<super::aliases::Alias>,
}

/// One model: its family limits (what its versions start from, and what an unlisted version
/// is checked against under `rules.unknown_versions = "pass"`) and its versions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// The upstream's `ModelName`.
    pub name: String,
    /// The day the entry was checked against its source (`YYYY-MM-DD`); required for a new
    /// model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_of: Option<String>,
    /// What the entry was checked against; required for a new model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The upstream's `SceneType` values the model takes (left out: inherited, else none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scene_types: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "RulesSpec::is_empty")]
    pub family: RulesSpec,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<VersionSpec>,
    /// Usage products a request of this model is billed under.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub specifications: Vec<SpecificationSpec>,
    /// Default prices of the model's requests (configured `[[accounting.prices]]` rows win).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prices: Vec<PriceSpec>,
}

/// One version of a model.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersionSpec {
    /// The upstream's `ModelVersion`.
    pub name: String,
    /// Left out: the model's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_of: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Where the version differs from its model's family limits.
    #[serde(default, skip_serializing_if = "RulesSpec::is_empty")]
    pub rules: RulesSpec,
    /// Usage products of this version (`versions` is implied).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub specifications: Vec<SpecificationSpec>,
    /// Default prices of this version (`version` is implied).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prices: Vec<PriceSpec>,
    /// More names clients may send for this version.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
}

/// Limits; every field left out inherits.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesSpec {
    /// `[6, 10]` (exactly these seconds), `{ min = 3, max = 15 }` (whole seconds), or
    /// `"undocumented"` (any positive value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub durations: Option<DurationsSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_duration: Option<f64>,
    /// `["720P", "1080P"]`, `"not_supported"` or `"undocumented"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolutions: Option<ValuesSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_resolution: Option<String>,
    /// As `resolutions`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aspect_ratios: Option<ValuesSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_aspect_ratio: Option<String>,
    /// `"supported"`, `"not_supported"`, `"with_one_image"` or `{ only_at_resolution = "1080P" }`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_frame: Option<LastFrameSpec>,
    /// Most entries `file_infos` may carry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_images: Option<usize>,
    /// `true`, `false` (audio_generation Enabled is refused) or `"undocumented"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio: Option<AudioSpec>,
}

impl RulesSpec {
    pub fn is_empty(&self) -> bool {
        *self == RulesSpec::default()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged, expecting = "a list of seconds, { min, max }, or \"undocumented\"")]
pub enum DurationsSpec {
    OneOf(Vec<f64>),
    Whole { min: u32, max: u32 },
    Word(Undocumented),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged, expecting = "a list of values, \"not_supported\" or \"undocumented\"")]
pub enum ValuesSpec {
    OneOf(Vec<String>),
    Word(ValuesWord),
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Undocumented {
    Undocumented,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValuesWord {
    NotSupported,
    Undocumented,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    untagged,
    expecting = "\"supported\", \"not_supported\", \"with_one_image\" or { only_at_resolution = \"…\" }"
)]
pub enum LastFrameSpec {
    Word(LastFrameWord),
    At { only_at_resolution: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LastFrameWord {
    Supported,
    NotSupported,
    WithOneImage,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged, expecting = "true, false or \"undocumented\"")]
pub enum AudioSpec {
    Known(bool),
    Word(Undocumented),
}

/// One usage product: the versions (left out: all the model's), resolution (left out: any)
/// and mode that pick it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecificationSpec {
    /// The upstream's name (`AigcUsageDataItem.Specification`).
    pub product: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub versions: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<String>,
    /// `any` (default), `silent`/`sound` (audio_generation), `plain`/`reference` (an image
    /// of usage Reference), `no_video`/`with_video` (a Video file), or `scene:<scene_type>`.
    #[serde(default = "any_mode", skip_serializing_if = "is_any_mode")]
    pub mode: String,
    /// Whether the product has an `_OffPeak` twin (`output_config.off_peak: Enabled`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub off_peak: bool,
}

fn any_mode() -> String {
    "any".to_owned()
}

fn is_any_mode(m: &str) -> bool {
    m == "any"
}

/// One default price row of a model (or, inside a version, of that version).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio: Option<bool>,
    #[serde(default)]
    pub per_second: Credits,
    #[serde(default)]
    pub per_request: Credits,
    pub from: NaiveDate,
}

impl CatalogFile {
    /// Reads the file at `path`: JSON when it is named `*.json`, else TOML.
    pub fn read(path: &std::path::Path) -> Result<CatalogFile, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let json = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"));
        CatalogFile::parse(&text, json).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Reads TOML (`.toml`, or anything that is not JSON) or JSON (`.json`, or text starting
    /// with `{`).
    pub fn parse(text: &str, json: bool) -> Result<CatalogFile, String> {
        if json || text.trim_start().starts_with('{') {
            serde_json::from_str(text).map_err(|e| e.to_string())
        } else {
            toml::from_str(text).map_err(|e| e.to_string())
        }
    }
}
