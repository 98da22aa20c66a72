//! The create-task request after it passed the boundary. A `VideoRequest` can only be built
//! by `parse_create_request`, so holding one means every field is well-formed and, with
//! strict model rules on, allowed for its model.

mod draft;
mod fields;
mod parse;
pub mod upstream;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

pub use draft::{FirstFrame, RequestDraft};
pub use fields::{
    NEWER_FILE_INFO_FIELDS, NEWER_OUTPUT_FIELDS, NEWER_TOP_FIELDS, SEED_FILE_INFO_FIELDS,
    SEED_OUTPUT_FIELDS, SEED_TOP_FIELDS,
};
pub use parse::{ParseOptions, UnknownVersions, parse_create_request};

/// `Enabled` / `Disabled`, spelled exactly as the seed and the upstream spell them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Switch {
    Enabled,
    Disabled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StorageMode {
    Permanent,
    Temporary,
}

impl StorageMode {
    /// The name Tencent and the seed's contract use (`StorageMode`).
    pub fn as_str(self) -> &'static str {
        match self {
            StorageMode::Permanent => "Permanent",
            StorageMode::Temporary => "Temporary",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PersonGeneration {
    AllowAdult,
    Disallowed,
}

/// Where an input image comes from: a VOD media id (`File`) or a URL (`Url`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FileKind {
    File,
    Url,
    /// The file itself, base64 in the entry's `base64` (SDK 3.1.194's `Type: Base64`).
    Base64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileInfo {
    #[serde(rename = "type")]
    pub kind: FileKind,
    /// Set exactly when `kind` is `File`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_id: Option<String>,
    /// Set exactly when `kind` is `Url`; always an absolute http(s) URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Newer upstream fields (`usage`, `category`, …), passed through.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OutputConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_mode: Option<StorageMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_name: Option<String>,
    /// Seconds. The seed sends strings or numbers; it is always a number once parsed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aspect_ratio: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio_generation: Option<Switch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person_generation: Option<PersonGeneration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_compliance_check: Option<Switch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_compliance_check: Option<Switch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enhance_switch: Option<Switch>,
    /// Newer upstream fields (`frame_interpolate`, `enable_bgm`, …), passed through.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A create request that passed validation. It comes out of [`parse_create_request`] (which
/// checks every field and the per-model rules) or, for a request already accepted, out of
/// [`VideoRequest::from_stored`]; nothing else can build one, and its fields are read-only.
///
/// [`parse_create_request`]: crate::parse_create_request
// `remote = "Self"` makes serde generate inherent functions instead of the trait impls, so
// `serde_json::from_*::<VideoRequest>` does not compile and generic code cannot build one by
// accident; the store reads rows back through `from_stored`. `Serialize` is implemented below.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub struct VideoRequest {
    pub(crate) model_name: String,
    pub(crate) model_version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) prompt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) negative_prompt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) enhance_prompt: Option<Switch>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) file_infos: Vec<FileInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) last_frame_url: Option<String>,
    #[serde(default)]
    pub(crate) output_config: OutputConfig,
    /// The caller's dedup key (≤ 50 chars); vidgate enforces it per API key for 3 days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) session_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) session_context: Option<String>,
    /// −10..10, higher first.
    #[serde(default)]
    pub(crate) tasks_priority: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) ext_info: Option<String>,
    /// Newer upstream fields (`seed`, `scene_type`, …) in snake_case, passed through.
    #[serde(flatten)]
    pub(crate) extra: Map<String, Value>,
}

impl Serialize for VideoRequest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        VideoRequest::serialize(self, s)
    }
}

impl VideoRequest {
    /// Reads back a request the store persisted after [`crate::parse_create_request`]
    /// accepted it. It does not validate again, on purpose: rules may tighten after a request
    /// was accepted, and an accepted request must stay runnable.
    pub fn from_stored(json: &str) -> Result<VideoRequest, serde_json::Error> {
        VideoRequest::deserialize(&mut serde_json::Deserializer::from_str(json))
    }

    pub fn model_name(&self) -> &str {
        &self.model_name
    }
    pub fn model_version(&self) -> &str {
        &self.model_version
    }
    pub fn prompt(&self) -> Option<&str> {
        self.prompt.as_deref()
    }
    pub fn negative_prompt(&self) -> Option<&str> {
        self.negative_prompt.as_deref()
    }
    pub fn enhance_prompt(&self) -> Option<Switch> {
        self.enhance_prompt
    }
    pub fn file_infos(&self) -> &[FileInfo] {
        &self.file_infos
    }
    pub fn last_frame_url(&self) -> Option<&str> {
        self.last_frame_url.as_deref()
    }
    pub fn output_config(&self) -> &OutputConfig {
        &self.output_config
    }
    /// The caller's dedup key (≤ 50 chars); vidgate enforces it per API key for 3 days.
    pub fn session_id(&self) -> Option<&str> {
        self.session_id.as_deref()
    }
    pub fn session_context(&self) -> Option<&str> {
        self.session_context.as_deref()
    }
    /// −10..10, higher first.
    pub fn tasks_priority(&self) -> i64 {
        self.tasks_priority
    }
    pub fn ext_info(&self) -> Option<&str> {
        self.ext_info.as_deref()
    }
    /// Newer upstream fields (`seed`, `scene_type`, …) in snake_case, passed through.
    pub fn extra(&self) -> &Map<String, Value> {
        &self.extra
    }
}

/// A stable digest of a JSON body, independent of key order and whitespace, used to tell
/// "the same request again" from "a different request with the same Idempotency-Key".
pub fn body_fingerprint(body: &Value) -> String {
    // serde_json's Map is a BTreeMap here (no `preserve_order`), so serialising sorts keys.
    let canonical = serde_json::to_vec(body).unwrap_or_default();
    hex::encode(Sha256::digest(&canonical))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fingerprints_ignore_key_order_but_not_values() {
        let a: Value = serde_json::from_str(r#"{"a":1,"b":{"c":2,"d":3}}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{ "b": {"d":3, "c":2}, "a": 1 }"#).unwrap();
        assert_eq!(body_fingerprint(&a), body_fingerprint(&b));
        assert_ne!(body_fingerprint(&a), body_fingerprint(&json!({"a":1,"b":{"c":2,"d":4}})));
    }
}
