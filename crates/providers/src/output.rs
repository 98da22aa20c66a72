//! What a finished upstream job produced, in provider-neutral form, and the result body
//! clients read (`ResultBody`: `video`, `videos`, `usage`, …). These types are the one source
//! of that wire shape: the workers store it, the API serves and documents it.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use vidgate_domain::Usage;
use vidgate_domain::pricing::Cost;

/// One output file (`video` and the `videos` entries of a result).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = MediaFile)]
pub struct OutputFile {
    /// Where to download it: vidgate's content route (a signed URL, valid for `media.url_ttl`)
    /// for files vidgate keeps, else the upstream's own URL.
    pub url: String,
    pub content_type: String,
    pub file_name: String,
    #[serde(default)]
    pub file_size: Option<u64>,
    #[serde(default)]
    pub width: Option<u32>,
    #[serde(default)]
    pub height: Option<u32>,
    /// Seconds.
    #[serde(default)]
    pub duration: Option<f64>,
    /// RFC 3339: when the file is deleted (null: kept).
    #[serde(default)]
    pub expires_at: Option<String>,
    /// An id a later request can name (`file_infos[].file_id`) where the provider has one.
    #[serde(default)]
    pub file_id: Option<String>,
    /// A still of the video (JPEG), where the provider makes one (the sandbox does).
    #[serde(default)]
    pub cover_url: Option<String>,
    /// The cover as a File id a later request can name as its first frame.
    #[serde(default)]
    pub cover_file_id: Option<String>,
    /// The upstream's URL of a file vidgate copied into its media store (it expires upstream).
    #[serde(default)]
    pub source_url: Option<String>,
    /// Hex SHA-256 of a file vidgate keeps (also the content route's `ETag`).
    #[serde(default)]
    pub sha256: Option<String>,
}

/// A file the provider already wrote into the media store (the sandbox's renders): the keep
/// step records it instead of copying it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredFile {
    /// `video`, `cover`, … (`vidgate_media::Variant`).
    pub variant: String,
    pub key: String,
    pub size: u64,
    pub sha256: String,
    pub content_type: String,
}

/// A finished request's output (fal's video-model shape: `video.url` first, so generic fal
/// clients find the file without knowing vidgate).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ResultBody {
    /// The first output file.
    pub video: Option<OutputFile>,
    /// Every output file.
    pub videos: Vec<OutputFile>,
    pub model_name: String,
    pub model_version: String,
    pub upstream_task_id: Option<String>,
    pub session_context: Option<String>,
    /// What it used: `output_seconds`, `input_seconds`, `total_seconds`, `input_tokens`,
    /// `thought_tokens`, `input_image_count` (from the upstream's `Usage`; measured by the
    /// sandbox), `resolution`, `audio`.
    #[schema(value_type = Option<Object>)]
    pub usage: Option<Usage>,
    /// What it was charged: `amount` (credits), `seconds`, `basis` (`usage` or `estimate`
    /// when no usage was reported). Absent for an unpriced request.
    #[schema(value_type = Option<Object>)]
    pub cost: Option<Cost>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct UpstreamOutput {
    pub files: Vec<OutputFile>,
    pub usage: Option<Usage>,
    /// Files among `files` the provider stored itself.
    pub stored: Vec<StoredFile>,
}
