//! The result body a client reads once a request succeeded (fal's video-model shape:
//! `video.url` first, so generic fal clients find the file without knowing vidgate), made
//! from the stored result with every file turned into a URL.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use vidgate_domain::pricing::Cost;
use vidgate_domain::{OutputFile, RequestId, StoredResult, Usage, rfc3339};

use crate::ContentUrls;

/// One output file (`video` and the `videos` entries of a result).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MediaFile {
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

impl MediaFile {
    fn present(request: RequestId, f: &OutputFile, urls: ContentUrls<'_>) -> MediaFile {
        MediaFile {
            url: urls.of(request, &f.file),
            content_type: f.content_type.clone(),
            file_name: f.file_name.clone(),
            file_size: f.file_size,
            width: f.width,
            height: f.height,
            duration: f.duration,
            expires_at: f.expires_at.map(rfc3339),
            file_id: f.file_id.clone(),
            cover_url: f.cover.as_ref().map(|c| urls.of(request, c)),
            cover_file_id: f.cover_file_id.clone(),
            source_url: f.source_url.clone(),
            sha256: f.sha256.clone(),
        }
    }
}

/// A finished request's output (fal's video-model shape: `video.url` first, so generic fal
/// clients find the file without knowing vidgate).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ResultBody {
    /// The first output file.
    pub video: Option<MediaFile>,
    /// Every output file.
    pub videos: Vec<MediaFile>,
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

impl ResultBody {
    /// The answer for request `request`'s stored result, its files as URLs by `urls`.
    pub fn present(request: RequestId, r: &StoredResult, urls: ContentUrls<'_>) -> ResultBody {
        let videos: Vec<MediaFile> =
            r.files.iter().map(|f| MediaFile::present(request, f, urls)).collect();
        ResultBody {
            video: videos.first().cloned(),
            videos,
            model_name: r.model_name.clone(),
            model_version: r.model_version.clone(),
            upstream_task_id: r.upstream_task_id.clone(),
            session_context: r.session_context.clone(),
            usage: r.usage.clone(),
            cost: r.cost.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use vidgate_domain::{FileRef, Variant};

    use super::*;
    use crate::{Signing, content_path};

    #[test]
    fn a_stored_result_is_presented_with_urls_for_its_files() {
        let id = RequestId::new();
        let mut own = OutputFile::new(FileRef::own(Variant::VIDEO), "video/mp4", "a.mp4");
        own.cover = Some(FileRef::own(Variant::COVER));
        own.expires_at = Some(0);
        let upstream =
            OutputFile::new(FileRef::external("https://cdn.example/b"), "video/mp4", "b");
        let mut stored = StoredResult::of("Kling", "2.1", vec![own, upstream]);
        stored.upstream_task_id = Some("up-1".into());
        let signing = Signing { key_hash: None, now: 0, ttl_secs: 60 };
        let body = ResultBody::present(id, &stored, ContentUrls { base: "http://h/", signing });
        let own_url = format!("http://h{}", content_path(id, Variant::VIDEO));
        assert_eq!(body.video.as_ref().map(|v| v.url.as_str()), Some(own_url.as_str()));
        assert_eq!(body.videos[0].expires_at.as_deref(), Some("1970-01-01T00:00:00.000Z"));
        assert!(body.videos[0].cover_url.as_deref().is_some_and(|u| u.ends_with("variant=cover")));
        assert_eq!(body.videos[1].url, "https://cdn.example/b");
        assert_eq!(body.videos[1].cover_url, None);
        assert_eq!(body.model_name, "Kling");
        assert_eq!(body.upstream_task_id.as_deref(), Some("up-1"));
    }
}
