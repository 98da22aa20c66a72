//! From JSON to `VideoRequest`, collecting every problem instead of stopping at the first, so
//! a 422 lists them all with their locations. Lenient where the seed is inconsistent
//! (`duration` and `tasks_priority` as strings or numbers), strict everywhere else.

use serde_json::{Map, Value};

use super::draft::{Read, RequestDraft};
use super::fields::{NEWER_OUTPUT_FIELDS, NEWER_TOP_FIELDS, SEED_OUTPUT_FIELDS, SEED_TOP_FIELDS};
use super::{OutputConfig, PersonGeneration, StorageMode, Switch, VideoRequest};
use std::sync::Arc;

use crate::field_error::{FieldError, Loc};
use crate::models::Catalog;

/// Settings that change how strictly a request is read.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseOptions {
    /// Check the per-model tables and refuse unknown fields. Off: unknown models, values and
    /// fields pass through to the upstream, which decides.
    pub strict_model_rules: bool,
    /// What a version of a known model that the catalog does not list gets.
    pub unknown_versions: UnknownVersions,
    /// The catalog in force; `None`: the built-in one.
    pub catalog: Option<Arc<Catalog>>,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions {
            strict_model_rules: true,
            unknown_versions: UnknownVersions::Refuse,
            catalog: None,
        }
    }
}

impl ParseOptions {
    /// Nothing checked against the catalog (`strict_model_rules = false`).
    pub const LAX: ParseOptions = ParseOptions {
        strict_model_rules: false,
        unknown_versions: UnknownVersions::Pass,
        catalog: None,
    };

    /// The catalog requests are checked against.
    pub fn catalog(&self) -> &Catalog {
        self.catalog.as_deref().unwrap_or(Catalog::built_in())
    }

    /// These options checking against `catalog`.
    pub fn with_catalog(&self, catalog: Arc<Catalog>) -> ParseOptions {
        ParseOptions { catalog: Some(catalog), ..self.clone() }
    }
}

/// `rules.unknown_versions`: a version of a known model that the catalog does not list is
/// refused (422 naming the known versions), or passed to the upstream checked against the
/// model's family limits (`ModelTable::family`), so a version can be sold the hour the
/// upstream ships it; its request's log says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UnknownVersions {
    #[default]
    Refuse,
    Pass,
}

const PROMPT_MAX: usize = 2000;
const NEGATIVE_PROMPT_MAX: usize = 1000;
const SESSION_ID_MAX: usize = 50;
const SESSION_CONTEXT_MAX: usize = 1000;
const MEDIA_NAME_MAX: usize = 64;
const URL_MAX: usize = 4096;
const PRIORITY_MIN: i64 = -10;
const PRIORITY_MAX: i64 = 10;
/// The most the `type: Base64` files of one request may hold in all (SDK 3.1.194: 7 MB, so
/// the upstream's 10 MB request limit holds once they are base64).
const BASE64_MAX_BYTES: usize = 7 * 1024 * 1024;
/// No model makes anything near this long; a bigger value is a unit mix-up (ms?).
const DURATION_MAX: f64 = 3600.0;

const SWITCH: &[(&str, Switch)] = &[("Enabled", Switch::Enabled), ("Disabled", Switch::Disabled)];

/// Parses a create-task body. `Err` holds one entry per problem found.
pub fn parse_create_request(
    body: &Value,
    opts: &ParseOptions,
) -> Result<VideoRequest, Vec<FieldError>> {
    read(body, opts, &[]).finish()
}

/// Reads a body's fields into a draft, each checked where it stands; `taken` are top-level
/// fields the caller reads itself (neither read here, nor refused as unknown, nor passed
/// through). Taking `model_name` means the caller names the model (`RequestDraft::name_model`).
pub(super) fn read(body: &Value, opts: &ParseOptions, taken: &[&str]) -> RequestDraft {
    let mut p =
        Parser { errors: Vec::new(), strict: opts.strict_model_rules, taken, base64_bytes: 0 };
    let Some(obj) = body.as_object() else {
        let not_an_object =
            FieldError::new(vec![Loc::from("body")], "dict_type", "the body must be a JSON object");
        return RequestDraft::refused(not_an_object, opts.clone());
    };
    let base = [Loc::from("body")];
    p.forbid_nul(body, &mut base.to_vec());
    p.unknown_fields(obj, &base, SEED_TOP_FIELDS, NEWER_TOP_FIELDS);

    let model_pending = taken.contains(&"model_name");
    let (model_name, model_version) = if model_pending {
        (None, None)
    } else {
        (
            p.required_string(obj, &base, "model_name"),
            p.required_string(obj, &base, "model_version"),
        )
    };
    let prompt = p.string(obj, &base, "prompt", Some(PROMPT_MAX));
    let negative_prompt = p.string(obj, &base, "negative_prompt", Some(NEGATIVE_PROMPT_MAX));
    let enhance_prompt = p.choice(obj, &base, "enhance_prompt", SWITCH);
    let file_infos = p.file_infos(obj, &base);
    let last_frame_url = p.http_url(obj, &base, "last_frame_url");
    let output_config = p.output_config(obj, &base);
    let session_id =
        p.string(obj, &base, "session_id", Some(SESSION_ID_MAX)).filter(|s| !s.is_empty());
    let session_context = p.string(obj, &base, "session_context", Some(SESSION_CONTEXT_MAX));
    let tasks_priority = p.priority(obj, &base);
    let ext_info = p.string(obj, &base, "ext_info", None);
    let extra = p.top_level_extras(obj, &base);
    let read = Read {
        prompt_given: present(obj, "prompt").is_some(),
        last_frame_fields: ["last_frame_url", "last_frame_file_id"]
            .into_iter()
            .filter(|f| present(obj, f).is_some())
            .collect(),
        model_pending,
    };
    let request = VideoRequest {
        model_name: model_name.unwrap_or_default(),
        model_version: model_version.unwrap_or_default(),
        prompt,
        negative_prompt,
        enhance_prompt,
        file_infos,
        last_frame_url,
        output_config,
        session_id,
        session_context,
        tasks_priority: tasks_priority.unwrap_or(0),
        ext_info,
        extra,
    };
    RequestDraft::new(request, p.errors, opts.clone(), read)
}

struct Parser<'t> {
    errors: Vec<FieldError>,
    strict: bool,
    /// Top-level fields the caller reads itself.
    taken: &'t [&'t str],
    /// Decoded bytes of the `type: Base64` files read so far.
    base64_bytes: usize,
}

fn loc(base: &[Loc], key: impl Into<Loc>) -> Vec<Loc> {
    let mut l = base.to_vec();
    l.push(key.into());
    l
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The field's value, treating JSON `null` as absent (clients send both for "not set").
fn present<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).filter(|v| !v.is_null())
}

impl Parser<'_> {
    fn push(&mut self, base: &[Loc], key: impl Into<Loc>, kind: &str, msg: impl Into<String>) {
        self.errors.push(FieldError::new(loc(base, key), kind, msg));
    }

    /// NUL characters are legal JSON but poison C strings, logs and PostgreSQL text.
    fn forbid_nul(&mut self, v: &Value, at: &mut Vec<Loc>) {
        match v {
            Value::String(s) if s.contains('\0') => self.errors.push(FieldError::new(
                at.clone(),
                "value_error",
                "text must not contain NUL characters",
            )),
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    at.push(Loc::Index(i));
                    self.forbid_nul(item, at);
                    at.pop();
                }
            }
            Value::Object(map) => {
                for (k, item) in map {
                    if k.contains('\0') {
                        self.errors.push(FieldError::new(
                            at.clone(),
                            "value_error",
                            "field names must not contain NUL characters",
                        ));
                    }
                    at.push(Loc::Key(k.clone()));
                    self.forbid_nul(item, at);
                    at.pop();
                }
            }
            _ => {}
        }
    }

    fn unknown_fields(
        &mut self,
        obj: &Map<String, Value>,
        base: &[Loc],
        seed: &[&str],
        newer: &[&str],
    ) {
        if !self.strict {
            return;
        }
        let known = |k: &str| seed.contains(&k) || newer.contains(&k) || self.taken.contains(&k);
        for key in obj.keys().filter(|k| !known(k)) {
            self.push(
                base,
                key.as_str(),
                "extra_forbidden",
                format!(
                    "unknown field {key:?}; set strict_model_rules = false to pass fields vidgate does not know through to the upstream"
                ),
            );
        }
    }

    fn required_string(
        &mut self,
        obj: &Map<String, Value>,
        base: &[Loc],
        key: &str,
    ) -> Option<String> {
        if present(obj, key).is_none() {
            self.push(base, key, "missing", format!("{key} is required"));
            return None;
        }
        let s = self.string(obj, base, key, Some(200))?;
        if s.trim().is_empty() {
            self.push(base, key, "string_too_short", format!("{key} must not be empty"));
            return None;
        }
        Some(s)
    }

    fn string(
        &mut self,
        obj: &Map<String, Value>,
        base: &[Loc],
        key: &str,
        max_chars: Option<usize>,
    ) -> Option<String> {
        match present(obj, key)? {
            Value::String(s) => {
                if let Some(max) = max_chars {
                    let n = s.chars().count();
                    if n > max {
                        self.push(
                            base,
                            key,
                            "string_too_long",
                            format!("{key} may be at most {max} characters, got {n}"),
                        );
                        return None;
                    }
                }
                Some(s.clone())
            }
            other => {
                self.push(
                    base,
                    key,
                    "string_type",
                    format!("{key} must be a string, got {}", type_name(other)),
                );
                None
            }
        }
    }

    fn choice<T: Copy>(
        &mut self,
        obj: &Map<String, Value>,
        base: &[Loc],
        key: &str,
        options: &[(&str, T)],
    ) -> Option<T> {
        let s = self.string(obj, base, key, None)?;
        match options.iter().find(|(name, _)| *name == s) {
            Some((_, v)) => Some(*v),
            None => {
                let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
                self.push(
                    base,
                    key,
                    "enum",
                    format!(
                        "{key} must be one of {} (exact spelling), got {s:?}",
                        names.join(", ")
                    ),
                );
                None
            }
        }
    }

    fn http_url(&mut self, obj: &Map<String, Value>, base: &[Loc], key: &str) -> Option<String> {
        let s = self.string(obj, base, key, Some(URL_MAX))?;
        match check_http_url(&s, key) {
            Ok(()) => Some(s),
            Err(e) => {
                self.errors.push(FieldError::new(loc(base, key), e.0, e.1));
                None
            }
        }
    }

    fn integer(
        &mut self,
        obj: &Map<String, Value>,
        base: &[Loc],
        key: &str,
        strings_ok: bool,
    ) -> Option<i64> {
        let v = present(obj, key)?;
        let parsed = match v {
            Value::Number(n) => n.as_i64(),
            Value::String(s) if strings_ok => s.trim().parse::<i64>().ok(),
            _ => None,
        };
        if parsed.is_none() {
            let accepted = if strings_ok { "an integer (number or string)" } else { "an integer" };
            self.push(base, key, "int_parsing", format!("{key} must be {accepted}, got {v}"));
        }
        parsed
    }

    fn priority(&mut self, obj: &Map<String, Value>, base: &[Loc]) -> Option<i64> {
        let p = self.integer(obj, base, "tasks_priority", true)?;
        if p < PRIORITY_MIN {
            self.push(
                base,
                "tasks_priority",
                "greater_than_equal",
                format!("tasks_priority must be at least {PRIORITY_MIN}, got {p}"),
            );
            return None;
        }
        if p > PRIORITY_MAX {
            self.push(
                base,
                "tasks_priority",
                "less_than_equal",
                format!("tasks_priority must be at most {PRIORITY_MAX}, got {p}"),
            );
            return None;
        }
        Some(p)
    }

    fn duration(&mut self, obj: &Map<String, Value>, base: &[Loc]) -> Option<f64> {
        let v = present(obj, "duration")?;
        let parsed = match v {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        };
        match parsed {
            Some(d) if d.is_finite() && d > 0.0 && d <= DURATION_MAX => Some(d),
            Some(d) if d.is_finite() => {
                self.push(
                    base,
                    "duration",
                    "value_error",
                    format!(
                        "duration must be more than 0 and at most {DURATION_MAX} seconds, got {d}"
                    ),
                );
                None
            }
            _ => {
                self.push(
                    base,
                    "duration",
                    "float_parsing",
                    format!("duration must be a number of seconds (number or string), got {v}"),
                );
                None
            }
        }
    }

    fn object<'a>(
        &mut self,
        obj: &'a Map<String, Value>,
        base: &[Loc],
        key: &str,
    ) -> Option<&'a Map<String, Value>> {
        match present(obj, key)? {
            Value::Object(m) => Some(m),
            other => {
                self.push(
                    base,
                    key,
                    "dict_type",
                    format!("{key} must be an object, got {}", type_name(other)),
                );
                None
            }
        }
    }

    fn output_config(&mut self, obj: &Map<String, Value>, base: &[Loc]) -> OutputConfig {
        let Some(oc) = self.object(obj, base, "output_config") else {
            return OutputConfig::default();
        };
        let base = loc(base, "output_config");
        self.unknown_fields(oc, &base, SEED_OUTPUT_FIELDS, NEWER_OUTPUT_FIELDS);
        let config = OutputConfig {
            storage_mode: self.choice(
                oc,
                &base,
                "storage_mode",
                &[("Permanent", StorageMode::Permanent), ("Temporary", StorageMode::Temporary)],
            ),
            media_name: self.string(oc, &base, "media_name", Some(MEDIA_NAME_MAX)),
            duration: self.duration(oc, &base),
            resolution: self.string(oc, &base, "resolution", Some(32)),
            aspect_ratio: self.string(oc, &base, "aspect_ratio", Some(32)),
            audio_generation: self.choice(oc, &base, "audio_generation", SWITCH),
            person_generation: self.choice(
                oc,
                &base,
                "person_generation",
                &[
                    ("AllowAdult", PersonGeneration::AllowAdult),
                    ("Disallowed", PersonGeneration::Disallowed),
                ],
            ),
            input_compliance_check: self.choice(oc, &base, "input_compliance_check", SWITCH),
            output_compliance_check: self.choice(oc, &base, "output_compliance_check", SWITCH),
            enhance_switch: self.choice(oc, &base, "enhance_switch", SWITCH),
            extra: Map::new(),
        };
        for key in ["frame_interpolate", "logo_add", "off_peak", "enable_bgm"] {
            self.choice(oc, &base, key, SWITCH);
        }
        self.integer(oc, &base, "class_id", false);
        self.string(oc, &base, "expire_time", Some(64));
        let extra = extras(oc, SEED_OUTPUT_FIELDS);
        OutputConfig { extra, ..config }
    }

    fn top_level_extras(&mut self, obj: &Map<String, Value>, base: &[Loc]) -> Map<String, Value> {
        self.integer(obj, base, "seed", false);
        // SDK 3.1.194: Mainland (the default), Oversea, OverseaUSWest.
        let regions = [("Mainland", ()), ("Oversea", ()), ("OverseaUSWest", ())];
        self.choice(obj, base, "input_region", &regions);
        self.string(obj, base, "scene_type", Some(64));
        self.string(obj, base, "procedure", Some(256));
        self.string(obj, base, "last_frame_file_id", Some(128));
        if let Some(v) = present(obj, "subject_infos") {
            match v {
                Value::Array(items) => {
                    for (i, s) in items.iter().enumerate() {
                        if !s.is_object() {
                            self.errors.push(FieldError::new(
                                loc(&loc(base, "subject_infos"), i),
                                "dict_type",
                                "each subject_infos entry must be an object",
                            ));
                        }
                    }
                }
                other => self.push(
                    base,
                    "subject_infos",
                    "list_type",
                    format!("subject_infos must be an array, got {}", type_name(other)),
                ),
            }
        }
        let mut extra = extras(obj, SEED_TOP_FIELDS);
        extra.retain(|k, _| !self.taken.contains(&k.as_str()));
        extra
    }
}

/// Why `s` (the value of `key`) is not an absolute http(s) URL of at most `URL_MAX`
/// characters: the error's kind and message.
pub(super) fn check_http_url(s: &str, key: &str) -> Result<(), (&'static str, String)> {
    let n = s.chars().count();
    if n > URL_MAX {
        let msg = format!("{key} may be at most {URL_MAX} characters, got {n}");
        return Err(("string_too_long", msg));
    }
    match url::Url::parse(s) {
        Ok(u) if !matches!(u.scheme(), "http" | "https") => Err((
            "url_scheme",
            format!("{key} must be an http or https URL, got scheme {:?}", u.scheme()),
        )),
        Ok(u) if u.host_str().is_none_or(str::is_empty) => {
            Err(("url_parsing", format!("{key} must name a host")))
        }
        Ok(_) => Ok(()),
        Err(e) => Err(("url_parsing", format!("{key} is not a valid URL: {e}"))),
    }
}

/// Everything but the typed fields, kept for pass-through (nulls dropped).
fn extras(obj: &Map<String, Value>, typed: &[&str]) -> Map<String, Value> {
    obj.iter()
        .filter(|(k, v)| !typed.contains(&k.as_str()) && !v.is_null())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

mod files;
#[cfg(test)]
mod tests;
