//! What a finished upstream job produced, in provider-neutral form, and the result body
//! clients read (`ResultBody`: `video`, `videos`, `usage`, …). These types are the one source
//! of that wire shape: the workers store it, the API serves and documents it.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use vidgate_domain::Usage;
use vidgate_domain::pricing::Cost;

/// One output file (`video` and the `videos` entries of a result).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = MediaFile)]
pub struct OutputFile {
    /// Absolute for upstream files; a path under `/media/` for files vidgate stores itself
    /// (the API prefixes its public base URL).
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
}

/// Makes the media URLs of a stored result body absolute (`url` and `cover_url` of `video`
/// and of every `videos` entry): vidgate stores its own files' URLs as `/media/...` paths
/// because the public base URL is only known per request (or per webhook).
pub fn absolutize_media_urls(result: &mut Value, absolute: &dyn Fn(&str) -> String) {
    let fix = |file: &mut Value| {
        for key in ["url", "cover_url"] {
            if let Some(Value::String(url)) = file.get_mut(key) {
                *url = absolute(url);
            }
        }
    };
    if let Some(video) = result.get_mut("video") {
        fix(video);
    }
    if let Some(Value::Array(videos)) = result.get_mut("videos") {
        videos.iter_mut().for_each(fix);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn own_media_paths_become_absolute_and_upstream_urls_stay() {
        let mut r = json!({
            "video": {"url": "/media/a/video.mp4", "cover_url": "/media/a/cover.jpg"},
            "videos": [{"url": "https://cdn.example/v.mp4", "cover_url": null}],
        });
        absolutize_media_urls(&mut r, &|u: &str| {
            if u.starts_with('/') { format!("https://gw.example{u}") } else { u.to_owned() }
        });
        assert_eq!(r["video"]["url"], "https://gw.example/media/a/video.mp4");
        assert_eq!(r["video"]["cover_url"], "https://gw.example/media/a/cover.jpg");
        assert_eq!(r["videos"][0]["url"], "https://cdn.example/v.mp4");
        assert_eq!(r["videos"][0]["cover_url"], Value::Null);
    }
}
