//! The media catalog: the files vidgate keeps for a request (object key, size, checksum, the
//! upstream URL it was copied from), until when, and which were deleted. The bytes live in the
//! media store (`vidgate-media`); a row is written only after its object is complete, so a
//! row always names a whole file, and a deleted row stays (the content route answers `410`).

use async_trait::async_trait;
use vidgate_domain::{KeyId, Millis, RequestId};

use crate::Result;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaObject {
    pub request_id: RequestId,
    /// The key that owns the request.
    pub key_id: KeyId,
    /// `video`, `cover`, `video-2`, … (`vidgate_domain::Variant`).
    pub variant: String,
    pub object_key: String,
    pub content_type: String,
    pub size: i64,
    /// Hex SHA-256 of the bytes.
    pub sha256: String,
    /// Where it was copied from (the upstream's URL); `None` for files vidgate made.
    pub source_url: Option<String>,
    pub stored_at: Millis,
    /// When the retention ends (`None`: kept).
    pub expires_at: Option<Millis>,
    pub deleted_at: Option<Millis>,
}

/// Bytes and files the catalog counts as stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MediaTotals {
    pub files: i64,
    pub bytes: i64,
}

#[async_trait]
pub trait MediaCatalog: Send + Sync {
    /// Records a stored file; a repeated copy (after a crash) replaces the row.
    async fn record_media(&self, object: MediaObject) -> Result<()>;

    /// A request's files, deleted ones included.
    async fn media_of(&self, request_id: RequestId) -> Result<Vec<MediaObject>>;

    /// Live files whose retention ended by `now`, soonest first.
    async fn expired_media(&self, now: Millis, limit: i64) -> Result<Vec<MediaObject>>;

    /// Marks one file deleted (once its object is gone); `false` if it was already.
    async fn mark_media_deleted(
        &self,
        request_id: RequestId,
        variant: &str,
        now: Millis,
    ) -> Result<bool>;

    /// What is stored now (for metrics).
    async fn media_totals(&self) -> Result<MediaTotals>;
}
