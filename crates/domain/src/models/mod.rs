//! Per-model rule tables: which versions, durations, resolutions, aspect ratios, last-frame
//! modes and image counts each upstream model accepts. The tables are data (one file per
//! model, each dated with the upstream documentation it was checked against); `check` is the
//! one pure function that applies them. The upstream changes weekly, so strict checking can
//! be turned off (`strict_model_rules = false`) to let unknown models and values through.

pub mod aliases;
mod gv;
mod hailuo;
mod hunyuan;
mod kling;
mod mingmou;
mod os;
mod pixverse;
pub mod sdk;
pub mod specification;
mod vidu;

use crate::field_error::{FieldError, Loc};
use crate::request::{Switch, UnknownVersions, VideoRequest};

/// Allowed durations in seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Durations {
    /// Exactly one of these values.
    OneOf(&'static [f64]),
    /// Any whole number of seconds in this inclusive range.
    Whole { min: u32, max: u32 },
    /// The upstream documents nothing: any positive value passes.
    Undocumented,
}

/// Allowed values of a string setting (resolution, aspect ratio).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Values {
    OneOf(&'static [&'static str]),
    /// The model does not take this setting at all.
    NotSupported,
    /// The upstream documents nothing: any value passes.
    Undocumented,
}

/// Whether `last_frame_url` (first-and-last-frame mode) is allowed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LastFrame {
    Supported,
    /// Only when the output resolution is this one (Kling 2.1: 1080P).
    OnlyAtResolution(&'static str),
    NotSupported,
}

/// The rules for one model version.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VersionRules {
    pub durations: Durations,
    pub default_duration: Option<f64>,
    pub resolutions: Values,
    pub default_resolution: Option<&'static str>,
    pub aspect_ratios: Values,
    pub default_aspect_ratio: Option<&'static str>,
    pub last_frame: LastFrame,
    /// Most images `file_infos` may carry (never more than the seed's 3).
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

/// One model's table.
#[derive(Debug)]
pub struct ModelTable {
    pub name: &'static str,
    /// The date the table was last checked against the upstream's documentation.
    pub as_of: &'static str,
    pub source: &'static str,
    /// The upstream's `SceneType` values this model takes (none: the field is refused).
    pub scene_types: &'static [&'static str],
    /// The limits the documentation gives the model as a whole: what a version the table
    /// does not list is checked against when `rules.unknown_versions = "pass"`.
    pub family: VersionRules,
    pub versions: &'static [(&'static str, VersionRules)],
}

impl ModelTable {
    pub fn version(&self, v: &str) -> Option<&'static VersionRules> {
        self.versions.iter().find(|(name, _)| *name == v).map(|(_, r)| r)
    }

    pub fn version_names(&self) -> Vec<&'static str> {
        self.versions.iter().map(|(n, _)| *n).collect()
    }
}

/// Every model vidgate has a table for.
pub static MODELS: &[&ModelTable] = &[
    &kling::TABLE,
    &hailuo::TABLE,
    &vidu::TABLE,
    &gv::TABLE,
    &os::TABLE,
    &pixverse::TABLE,
    &hunyuan::TABLE,
    &mingmou::TABLE,
];

/// The most images any request may carry (the seed's limit).
pub const MAX_IMAGES: usize = 3;

pub fn table(model_name: &str) -> Option<&'static ModelTable> {
    MODELS.iter().copied().find(|t| t.name == model_name)
}

/// The rules for a model and version, if vidgate knows them.
pub fn rules(model_name: &str, model_version: &str) -> Option<&'static VersionRules> {
    table(model_name).and_then(|t| t.version(model_version))
}

/// The version's rules, or its model's family limits for a version the table does not list
/// (what a passed unknown version is checked, quoted and shaped by).
pub fn rules_or_family(model_name: &str, model_version: &str) -> Option<&'static VersionRules> {
    table(model_name).map(|t| t.version(model_version).unwrap_or(&t.family))
}

fn at(path: &[&str]) -> Vec<Loc> {
    std::iter::once("body").chain(path.iter().copied()).map(Loc::from).collect()
}

fn list(values: &[&str]) -> String {
    values.join(", ")
}

/// Applies the model's table to a request whose fields are already well-formed.
/// Returns one error per rule broken.
pub fn check(req: &VideoRequest, unknown_versions: UnknownVersions) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let Some(table) = table(&req.model_name) else {
        let names: Vec<&str> = MODELS.iter().map(|t| t.name).collect();
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
        check_duration(&mut errors, &who, d, rules.durations);
    }

    check_value(&mut errors, &who, "resolution", out.resolution.as_deref(), rules.resolutions);
    check_value(
        &mut errors,
        &who,
        "aspect_ratio",
        out.aspect_ratio.as_deref(),
        rules.aspect_ratios,
    );

    if req.file_infos.len() > rules.max_images {
        errors.push(FieldError::new(
            at(&["file_infos"]),
            "model_rule",
            format!(
                "{who} takes at most {} input image(s), got {}",
                rules.max_images,
                req.file_infos.len()
            ),
        ));
    }

    if req.last_frame_url.is_some() {
        check_last_frame(&mut errors, &who, req, table, rules);
    }

    let scene = req.extra.get("scene_type").and_then(|v| v.as_str());
    if let Some(scene) = scene.filter(|s| !table.scene_types.contains(s)) {
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
fn check_duration(errors: &mut Vec<FieldError>, who: &str, d: f64, durations: Durations) {
    let ok = match durations {
        Durations::OneOf(set) => set.iter().any(|v| (v - d).abs() < 1e-9),
        Durations::Whole { min, max } => {
            d.fract() == 0.0 && d >= f64::from(min) && d <= f64::from(max)
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
    table: &ModelTable,
    rules: &VersionRules,
) {
    let out = &req.output_config;
    let resolution = out.resolution.as_deref().or(rules.default_resolution);
    let problem = match rules.last_frame {
        LastFrame::Supported => None,
        LastFrame::NotSupported => Some(format!("{who} does not support a last frame")),
        LastFrame::OnlyAtResolution(r) if resolution != Some(r) => Some(format!(
            "{who} supports a last frame only with resolution {r} (got {})",
            resolution.unwrap_or("the default")
        )),
        LastFrame::OnlyAtResolution(_) => None,
    };
    if let Some(msg) = problem {
        errors.push(FieldError::new(at(&["last_frame_url"]), "model_rule", msg));
    } else if req.file_infos.len() > 1 && table.name == "GV" {
        errors.push(FieldError::new(
            at(&["last_frame_url"]),
            "model_rule",
            format!("{who} cannot combine a last frame with several input images"),
        ));
    }
}

/// A `scene_type` the model does not take.
fn scene_refused(who: &str, scene: &str, table: &ModelTable) -> FieldError {
    let allowed = match table.scene_types {
        [] => format!("{} takes no scene type; omit it", table.name),
        set => format!("allowed: {}", list(set)),
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
    allowed: Values,
) {
    let Some(v) = value else { return };
    match allowed {
        Values::OneOf(set) if !set.contains(&v) => errors.push(FieldError::new(
            at(&["output_config", field]),
            "model_rule",
            format!("{who} does not accept {field} {v:?}; allowed: {}", list(set)),
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
