//! What a finished request produced, as vidgate keeps it: its files, each one either vidgate
//! keeps itself (`Own`, named by its variant) or the upstream serves (`External`, its URL),
//! and what the success used and cost. The provider reports the files, the mirror step turns
//! upstream files into own ones, the store keeps the whole as the request's result; only the
//! API (and the webhook sender, on its behalf) turns a file into a URL a client can open.

use serde::{Deserialize, Serialize};

use crate::pricing::Cost;
use crate::{Millis, Usage, Variant};

/// Where one file is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileRef {
    /// In vidgate's media store, as this variant of the request's outputs.
    Own { variant: Variant },
    /// At the upstream (or wherever the provider says), by this URL.
    External { url: String },
}

impl FileRef {
    pub fn own(variant: Variant) -> FileRef {
        FileRef::Own { variant }
    }

    pub fn external(url: impl Into<String>) -> FileRef {
        FileRef::External { url: url.into() }
    }

    pub fn is_own(&self) -> bool {
        matches!(self, FileRef::Own { .. })
    }

    /// The URL of a file vidgate does not keep.
    pub fn external_url(&self) -> Option<&str> {
        match self {
            FileRef::External { url } => Some(url),
            FileRef::Own { .. } => None,
        }
    }
}

/// One output video and what is known about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputFile {
    pub file: FileRef,
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
    /// When vidgate deletes its copy (`None`: kept until deleted).
    #[serde(default)]
    pub expires_at: Option<Millis>,
    /// An id a later request can name (`file_infos[].file_id`) where the provider has one.
    #[serde(default)]
    pub file_id: Option<String>,
    /// A still of the video, where the provider makes one (the sandbox does).
    #[serde(default)]
    pub cover: Option<FileRef>,
    /// The cover as a File id a later request can name as its first frame.
    #[serde(default)]
    pub cover_file_id: Option<String>,
    /// The upstream's URL of a file vidgate copied into its media store.
    #[serde(default)]
    pub source_url: Option<String>,
    /// Hex SHA-256 of a file vidgate keeps.
    #[serde(default)]
    pub sha256: Option<String>,
}

impl OutputFile {
    /// A file at `file` with nothing else known about it yet.
    pub fn new(
        file: FileRef,
        content_type: impl Into<String>,
        file_name: impl Into<String>,
    ) -> Self {
        OutputFile {
            file,
            content_type: content_type.into(),
            file_name: file_name.into(),
            file_size: None,
            width: None,
            height: None,
            duration: None,
            expires_at: None,
            file_id: None,
            cover: None,
            cover_file_id: None,
            source_url: None,
            sha256: None,
        }
    }
}

/// A succeeded request's result as stored: its files, the model that made them, and the
/// charge it settled (what it used, what it cost).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredResult {
    pub files: Vec<OutputFile>,
    pub model_name: String,
    pub model_version: String,
    #[serde(default)]
    pub upstream_task_id: Option<String>,
    #[serde(default)]
    pub session_context: Option<String>,
    #[serde(default)]
    pub usage: Option<Usage>,
    #[serde(default)]
    pub cost: Option<Cost>,
}

impl StoredResult {
    /// The files a model and version made, with nothing else known yet (no upstream job,
    /// context, usage or cost).
    pub fn of(model_name: &str, model_version: &str, files: Vec<OutputFile>) -> StoredResult {
        StoredResult {
            files,
            model_name: model_name.to_owned(),
            model_version: model_version.to_owned(),
            upstream_task_id: None,
            session_context: None,
            usage: None,
            cost: None,
        }
    }

    /// The file of `variant` (a video or the cover of one).
    pub fn file(&self, variant: Variant) -> Option<&FileRef> {
        match variant {
            Variant::Video(n) => self.files.get(usize::from(n)).map(|f| &f.file),
            Variant::Cover(n) => self.files.get(usize::from(n))?.cover.as_ref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_found_by_variant_and_stored_in_a_tagged_shape() {
        let mut first = OutputFile::new(FileRef::own(Variant::VIDEO), "video/mp4", "a.mp4");
        first.cover = Some(FileRef::own(Variant::COVER));
        let second =
            OutputFile::new(FileRef::external("https://cdn.example/b.mp4"), "video/mp4", "b");
        let r = StoredResult {
            files: vec![first, second],
            model_name: "Kling".into(),
            model_version: "2.1".into(),
            upstream_task_id: None,
            session_context: None,
            usage: None,
            cost: None,
        };
        assert_eq!(r.file(Variant::COVER), Some(&FileRef::own(Variant::COVER)));
        assert_eq!(
            r.file(Variant::Video(1)).and_then(FileRef::external_url),
            Some("https://cdn.example/b.mp4")
        );
        assert_eq!(r.file(Variant::Cover(1)), None);
        assert_eq!(r.file(Variant::Video(2)), None);
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["files"][0]["file"], serde_json::json!({"own": {"variant": "video"}}));
        assert_eq!(
            json["files"][1]["file"],
            serde_json::json!({"external": {"url": "https://cdn.example/b.mp4"}})
        );
        assert_eq!(serde_json::from_value::<StoredResult>(json).unwrap(), r);
    }
}
