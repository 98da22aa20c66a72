//! The `result` column: a succeeded task's `StoredResult` as JSON. Rows written before results
//! were typed hold the body clients read instead (`video`, `videos[]` with `url` and
//! `cover_url`: vidgate's content route for its own files, else the upstream's URL, and
//! `expires_at` in RFC 3339); they are read through `legacy`, so an upgrade loses no answer.

use serde::Deserialize;
use serde_json::Value;
use vidgate_domain::pricing::Cost;
use vidgate_domain::{FileRef, OutputFile, StoredResult, Usage, Variant, parse_rfc3339};

pub(crate) fn encode(result: &StoredResult) -> String {
    // Plain data with string keys: serializing it cannot fail.
    serde_json::to_string(result).unwrap_or_default()
}

pub(crate) fn decode(text: &str) -> serde_json::Result<StoredResult> {
    let value: Value = serde_json::from_str(text)?;
    if value.get("files").is_some() {
        serde_json::from_value(value)
    } else {
        serde_json::from_value::<LegacyBody>(value).map(LegacyBody::typed)
    }
}

/// The result body as rows before typed results stored it.
#[derive(Deserialize)]
struct LegacyBody {
    #[serde(default)]
    videos: Vec<LegacyFile>,
    #[serde(default)]
    model_name: String,
    #[serde(default)]
    model_version: String,
    #[serde(default)]
    upstream_task_id: Option<String>,
    #[serde(default)]
    session_context: Option<String>,
    #[serde(default)]
    usage: Option<Usage>,
    #[serde(default)]
    cost: Option<Cost>,
}

#[derive(Deserialize)]
struct LegacyFile {
    url: String,
    #[serde(default)]
    content_type: String,
    #[serde(default)]
    file_name: String,
    #[serde(default)]
    file_size: Option<u64>,
    #[serde(default)]
    width: Option<u32>,
    #[serde(default)]
    height: Option<u32>,
    #[serde(default)]
    duration: Option<f64>,
    #[serde(default)]
    expires_at: Option<String>,
    #[serde(default)]
    file_id: Option<String>,
    #[serde(default)]
    cover_url: Option<String>,
    #[serde(default)]
    cover_file_id: Option<String>,
    #[serde(default)]
    source_url: Option<String>,
    #[serde(default)]
    sha256: Option<String>,
}

/// What those rows' own URLs started with: the content route as it was then.
const LEGACY_CONTENT_PREFIX: &str = "/tencent-vod/v1/aigc-video/requests/";

/// An own file's content path (`…/requests/<id>/content?variant=<v>`) names its variant;
/// anything else is a URL elsewhere.
fn legacy_ref(url: String) -> FileRef {
    let variant = url
        .strip_prefix(LEGACY_CONTENT_PREFIX)
        .and_then(|rest| rest.split_once("/content?variant="))
        .and_then(|(_, v)| v.parse::<Variant>().ok());
    match variant {
        Some(variant) => FileRef::Own { variant },
        None => FileRef::External { url },
    }
}

impl LegacyBody {
    fn typed(self) -> StoredResult {
        let files = self.videos.into_iter().map(LegacyFile::typed).collect();
        StoredResult {
            files,
            model_name: self.model_name,
            model_version: self.model_version,
            upstream_task_id: self.upstream_task_id,
            session_context: self.session_context,
            usage: self.usage,
            cost: self.cost,
        }
    }
}

impl LegacyFile {
    fn typed(self) -> OutputFile {
        OutputFile {
            file: legacy_ref(self.url),
            content_type: self.content_type,
            file_name: self.file_name,
            file_size: self.file_size,
            width: self.width,
            height: self.height,
            duration: self.duration,
            expires_at: self.expires_at.as_deref().and_then(parse_rfc3339),
            file_id: self.file_id,
            cover: self.cover_url.map(legacy_ref),
            cover_file_id: self.cover_file_id,
            source_url: self.source_url,
            sha256: self.sha256,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_result_written_before_typed_results_reads_as_the_same_files() {
        let id = "0193b9a0-0000-7000-8000-000000000001";
        let own = format!("/tencent-vod/v1/aigc-video/requests/{id}/content?variant=video");
        let legacy = json!({
            "video": {"url": own},
            "videos": [
                {"url": own, "content_type": "video/mp4", "file_name": "a.mp4", "file_size": 10,
                 "expires_at": "2026-12-01T00:00:00.000Z",
                 "cover_url": format!("/tencent-vod/v1/aigc-video/requests/{id}/content?variant=cover-2"),
                 "source_url": "https://cdn.example/a.mp4", "sha256": "ab"},
                {"url": "https://cdn.example/b.mp4", "content_type": "video/mp4", "file_name": "b.mp4"}
            ],
            "model_name": "Kling", "model_version": "2.1", "upstream_task_id": "up-1",
            "session_context": null, "usage": {"output_seconds": 5.0}, "cost": null
        });
        let r = decode(&legacy.to_string()).unwrap();
        assert_eq!(r.files.len(), 2);
        assert_eq!(r.files[0].file, FileRef::own(Variant::VIDEO));
        assert_eq!(r.files[0].cover, Some(FileRef::own(Variant::Cover(1))));
        assert_eq!(r.files[0].expires_at, parse_rfc3339("2026-12-01T00:00:00Z"));
        assert_eq!(r.files[0].source_url.as_deref(), Some("https://cdn.example/a.mp4"));
        assert_eq!(r.files[1].file, FileRef::external("https://cdn.example/b.mp4"));
        assert_eq!((r.model_name.as_str(), r.upstream_task_id.as_deref()), ("Kling", Some("up-1")));
        assert_eq!(r.usage.and_then(|u| u.output_seconds), Some(5.0));
        assert_eq!(decode("{}").unwrap().files, []);
        assert!(decode(r#"{"videos": [{"no_url": 1}]}"#).is_err(), "a corrupt row is an error");
    }

    #[test]
    fn a_typed_result_round_trips() {
        let mut file = OutputFile::new(FileRef::own(Variant::VIDEO), "video/mp4", "v.mp4");
        file.expires_at = Some(1_700_000_000_123);
        let mut r = StoredResult::of("Hailuo", "02", vec![file]);
        r.session_context = Some("ctx".into());
        assert_eq!(decode(&encode(&r)).unwrap(), r);
    }
}
