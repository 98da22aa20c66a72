//! What a finished upstream job produced, in provider-neutral form. The workers turn it into
//! the result body clients read (`video`, `videos`, `usage`, …).

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputFile {
    /// Absolute for upstream files; a path under `/media/` for files vidgate stores itself
    /// (the API prefixes its public base URL).
    pub url: String,
    pub content_type: String,
    pub file_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<f64>,
    /// RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct UpstreamOutput {
    pub files: Vec<OutputFile>,
    pub usage: Option<Value>,
}
