//! Per-model rule tables: which versions, durations, resolutions, aspect ratios, last-frame
//! modes and image counts each upstream model accepts. The tables are data (one file per
//! model, each dated with the upstream documentation it was checked against); `check` is the
//! one pure function that applies them. The upstream changes weekly, so strict checking can
//! be turned off (`strict_model_rules = false`) to let unknown models and values through.

//! Per-model rules: which versions, durations, resolutions, aspect ratios, last-frame modes
//! and image counts each upstream model accepts. The rules are data: the catalog
//! (`builtin/*.toml`, laid over by the operator's file and stored entries; see `catalog`);
//! `check` is the one pure function that applies them. The upstream changes weekly, so a
//! version the catalog does not list can be passed on (`rules.unknown_versions = "pass"`)
//! and strict checking turned off altogether (`strict_model_rules = false`).

pub mod aliases;
pub mod catalog;
pub mod format;
pub mod live;
pub mod sdk;
pub mod specification;

pub use catalog::{Catalog, CatalogError, ModelTable, Origin, VersionEntry};

use crate::field_error::{FieldError, Loc};
use crate::request::{Switch, UnknownVersions, VideoRequest};

/// Allowed durations in seconds.
#[derive(Debug, Clone, PartialEq)]
pub enum Durations {
    /// Exactly one of these values.
    OneOf(Vec<f64>),
    /// Any whole number of seconds in this inclusive range.
    Whole { min: u32, max: u32 },
    /// The upstream documents nothing: any positive value passes.
    Undocumented,
}

/// Allowed values of a string setting (resolution, aspect ratio).
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    OneOf(Vec<String>),
    /// The model does not take this setting at all.
    NotSupported,
    /// The upstream documents nothing: any value passes.
    Undocumented,
}

/// Whether `last_frame_url` (first-and-last-frame mode) is allowed.
#[derive(Debug, Clone, PartialEq)]
pub enum LastFrame {
    Supported,
    /// Only with a single input image (GV).
    WithOneImage,
    /// Only when the output resolution is this one (Kling 2.1: 1080P).
    OnlyAtResolution(String),
    NotSupported,
}

/// The rules for one model version.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionRules {
    pub durations: Durations,
    pub default_duration: Option<f64>,
    pub resolutions: Values,
    pub default_resolution: Option<String>,
    pub aspect_ratios: Values,
    pub default_aspect_ratio: Option<String>,
    pub last_frame: LastFrame,
    /// Most images (`category` Image or left out) `file_infos` may carry; videos and audio
    /// references do not count (the SDK gives them no number).
    pub max_images: usize,
    /// `Some(false)`: the model makes no audio, so `audio_generation: Enabled` is refused.
    /// `None`: undocumented, passed through.
    pub audio: Option<bool>,
}

impl VersionRules {
    /// A version whose documentation names only the version: durations, resolutions and
    /// aspect ratios pass through unchecked; one image, no last frame.
    pub const UNDOCUMENTED: VersionRules = VersionRules {
        durations: Durations::Undocumented,
        default_duration: None,
        resolutions: Values::Undocumented,
        default_resolution: None,
        aspect_ratios: Values::Undocumented,
        default_aspect_ratio: None,
        last_frame: LastFrame::NotSupported,
        max_images: 1,
        audio: None,
    };
}

/// The most `file_infos` entries any request may carry: vidgate's own bound, so one request's
/// input fetches stay few (the SDK gives no number since reference mode; the models it
/// documents take up to 7 images).
pub const MAX_FILE_INFOS: usize = 16;

/// Whether a `file_infos` entry is an image (`category` Image, or none given).
pub fn is_image(f: &crate::request::FileInfo) -> bool {
    f.extra.get("category").and_then(|c| c.as_str()).is_none_or(|c| c.eq_ignore_ascii_case("image"))
}

fn at(path: &[&str]) -> Vec<Loc> {
    std::iter::once("body").chain(path.iter().copied()).map(Loc::from).collect()
}

fn list(values: &[&str]) -> String {
    values.join(", ")
}

/// Applies the model's table to a request whose fields are already well-formed.
/// Returns one error per rule broken.
pub fn check(
    catalog: &Catalog,
    req: &VideoRequest,
    unknown_versions: UnknownVersions,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let Some(table) = catalog.table(&req.model_name) else {
        let names: Vec<&str> = catalog.models.iter().map(|t| t.name.as_str()).collect();
        errors.push(FieldError::new(
            at(&["model_name"]),
            "enum",
            format!(
                "unknown model {:?}; known models: {} (set strict_model_rules = false to pass other models through)",
                req.model_name,
                list(&names)
            ),
        ));
        return errors;
    };
    let rules = match (table.version(&req.model_version), unknown_versions) {
        (Some(rules), _) => Some(rules),
        (None, UnknownVersions::Pass) => Some(&table.family),
        (None, UnknownVersions::Refuse) => None,
    };
    let Some(rules) = rules else {
        errors.push(FieldError::new(
            at(&["model_version"]),
            "enum",
            format!(
                "{} has no version {:?}; known versions (as of {}): {} (rules.unknown_versions = \"pass\" sends unknown versions on with the model's family limits)",
                table.name,
                req.model_version,
                table.as_of,
                list(&table.version_names())
            ),
        ));
        return errors;
    };
    let who = format!("{} {}", table.name, req.model_version);
    let out = &req.output_config;

    if let Some(d) = out.duration {
        check_duration(&mut errors, &who, d, &rules.durations);
    }

    check_value(&mut errors, &who, "resolution", out.resolution.as_deref(), &rules.resolutions);
    check_value(
        &mut errors,
        &who,
        "aspect_ratio",
        out.aspect_ratio.as_deref(),
        &rules.aspect_ratios,
    );

    let images = req.file_infos.iter().filter(|f| is_image(f)).count();
    if images > rules.max_images {
        errors.push(FieldError::new(
            at(&["file_infos"]),
            "model_rule",
            format!("{who} takes at most {} input image(s), got {images}", rules.max_images),
        ));
    }

    if req.last_frame_url.is_some() {
        check_last_frame(&mut errors, &who, req, rules);
    }

    let scene = req.extra.get("scene_type").and_then(|v| v.as_str());
    if let Some(scene) = scene.filter(|s| !table.scene_types.iter().any(|t| t == s)) {
        errors.push(scene_refused(&who, scene, table));
    }

    if out.audio_generation == Some(Switch::Enabled) && rules.audio == Some(false) {
        errors.push(FieldError::new(
            at(&["output_config", "audio_generation"]),
            "model_rule",
            format!("{who} does not generate audio; set audio_generation to Disabled or omit it"),
        ));
    }
    errors
}

/// A duration the model's rules do not allow.
fn check_duration(errors: &mut Vec<FieldError>, who: &str, d: f64, durations: &Durations) {
    let ok = match durations {
        Durations::OneOf(set) => set.iter().any(|v| (v - d).abs() < 1e-9),
        Durations::Whole { min, max } => {
            d.fract() == 0.0 && d >= f64::from(*min) && d <= f64::from(*max)
        }
        Durations::Undocumented => true,
    };
    if !ok {
        let allowed = match durations {
            Durations::OneOf(set) => {
                set.iter().map(|v| format!("{v}")).collect::<Vec<_>>().join(", ")
            }
            Durations::Whole { min, max } => format!("whole seconds from {min} to {max}"),
            Durations::Undocumented => String::new(),
        };
        errors.push(FieldError::new(
            at(&["output_config", "duration"]),
            "model_rule",
            format!("{who} cannot make a {d} s video; allowed: {allowed}"),
        ));
    }
}

/// A last frame the model (or its resolution, or its image count) does not allow.
fn check_last_frame(
    errors: &mut Vec<FieldError>,
    who: &str,
    req: &VideoRequest,
    rules: &VersionRules,
) {
    let out = &req.output_config;
    let resolution = out.resolution.as_deref().or(rules.default_resolution.as_deref());
    let problem = match &rules.last_frame {
        LastFrame::Supported => None,
        LastFrame::NotSupported => Some(format!("{who} does not support a last frame")),
        LastFrame::OnlyAtResolution(r) if resolution != Some(r.as_str()) => Some(format!(
            "{who} supports a last frame only with resolution {r} (got {})",
            resolution.unwrap_or("the default")
        )),
        LastFrame::OnlyAtResolution(_) => None,
        LastFrame::WithOneImage if req.file_infos.len() > 1 => {
            Some(format!("{who} cannot combine a last frame with several input images"))
        }
        LastFrame::WithOneImage => None,
    };
    if let Some(msg) = problem {
        errors.push(FieldError::new(at(&["last_frame_url"]), "model_rule", msg));
    }
}

/// A `scene_type` the model does not take.
fn scene_refused(who: &str, scene: &str, table: &ModelTable) -> FieldError {
    let allowed = match table.scene_types.as_slice() {
        [] => format!("{} takes no scene type; omit it", table.name),
        set => format!("allowed: {}", set.join(", ")),
    };
    FieldError::new(
        at(&["scene_type"]),
        "model_rule",
        format!("{who} does not take scene_type {scene:?}; {allowed}"),
    )
}

fn check_value(
    errors: &mut Vec<FieldError>,
    who: &str,
    field: &str,
    value: Option<&str>,
    allowed: &Values,
) {
    let Some(v) = value else { return };
    match allowed {
        Values::OneOf(set) if !set.iter().any(|s| s == v) => errors.push(FieldError::new(
            at(&["output_config", field]),
            "model_rule",
            format!("{who} does not accept {field} {v:?}; allowed: {}", set.join(", ")),
        )),
        Values::NotSupported => errors.push(FieldError::new(
            at(&["output_config", field]),
            "model_rule",
            format!("{who} does not take {field}; omit it"),
        )),
        _ => {}
    }
}

#[cfg(test)]
mod tests;
