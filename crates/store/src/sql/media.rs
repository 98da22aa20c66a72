//! `MediaCatalog` over the SQL seam.

use async_trait::async_trait;
use vidgate_domain::{Millis, RequestId};

use super::SqlStore;
use crate::db::{Row, sql};
use crate::media::{MediaCatalog, MediaObject, MediaTotals};
use crate::{Result, StoreError};

/// A `media_objects` row as stored, decoded by column name.
#[derive(sqlx::FromRow)]
struct MediaRow {
    request_id: String,
    key_id: String,
    variant: String,
    object_key: String,
    content_type: String,
    size: i64,
    sha256: String,
    source_url: Option<String>,
    stored_at: i64,
    expires_at: Option<i64>,
    deleted_at: Option<i64>,
}

fn object(row: &Row) -> Result<MediaObject> {
    let r: MediaRow = row.decode()?;
    Ok(MediaObject {
        request_id: r.request_id.parse().map_err(StoreError::corrupt)?,
        key_id: r.key_id.into(),
        variant: r.variant,
        object_key: r.object_key,
        content_type: r.content_type,
        size: r.size,
        sha256: r.sha256,
        source_url: r.source_url,
        stored_at: r.stored_at,
        expires_at: r.expires_at,
        deleted_at: r.deleted_at,
    })
}

#[async_trait]
impl MediaCatalog for SqlStore {
    async fn record_media(&self, o: MediaObject) -> Result<()> {
        let stmt = sql("INSERT INTO media_objects (request_id, key_id, variant, object_key,
                            content_type, size, sha256, source_url, stored_at, expires_at)
                        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                        ON CONFLICT (request_id, variant) DO UPDATE SET
                            object_key = excluded.object_key, content_type = excluded.content_type,
                            size = excluded.size, sha256 = excluded.sha256,
                            source_url = excluded.source_url, stored_at = excluded.stored_at,
                            expires_at = excluded.expires_at, deleted_at = NULL")
        .bind(o.request_id.to_string())
        .bind(o.key_id)
        .bind(o.variant)
        .bind(o.object_key)
        .bind(o.content_type)
        .bind(o.size)
        .bind(o.sha256)
        .bind(o.source_url)
        .bind(o.stored_at)
        .bind(o.expires_at);
        self.db.execute(stmt).await.map(|_| ())
    }

    async fn media_of(&self, request_id: RequestId) -> Result<Vec<MediaObject>> {
        let stmt =
            sql("SELECT request_id, key_id, variant, object_key, content_type, size, sha256,
                               source_url, stored_at, expires_at, deleted_at
                        FROM media_objects WHERE request_id = $1 ORDER BY variant")
            .bind(request_id.to_string());
        self.db.read(stmt).await?.iter().map(object).collect()
    }

    async fn expired_media(&self, now: Millis, limit: i64) -> Result<Vec<MediaObject>> {
        let stmt =
            sql("SELECT request_id, key_id, variant, object_key, content_type, size, sha256,
                               source_url, stored_at, expires_at, deleted_at
                        FROM media_objects WHERE deleted_at IS NULL AND expires_at <= $1
                        ORDER BY expires_at LIMIT $2")
            .bind(now)
            .bind(limit);
        self.db.read(stmt).await?.iter().map(object).collect()
    }

    async fn mark_media_deleted(
        &self,
        request_id: RequestId,
        variant: &str,
        now: Millis,
    ) -> Result<bool> {
        let stmt = sql("UPDATE media_objects SET deleted_at = $3
                        WHERE request_id = $1 AND variant = $2 AND deleted_at IS NULL")
        .bind(request_id.to_string())
        .bind(variant.to_owned())
        .bind(now);
        Ok(self.db.execute(stmt).await? > 0)
    }

    async fn media_totals(&self) -> Result<MediaTotals> {
        let stmt = sql("SELECT COUNT(*) AS files, CAST(COALESCE(SUM(size), 0) AS BIGINT) AS bytes
                        FROM media_objects WHERE deleted_at IS NULL");
        let rows = self.db.read(stmt).await?;
        let row = rows.first().ok_or_else(|| StoreError::corrupt("no totals row"))?;
        Ok(MediaTotals { files: row.int("files")?, bytes: row.int("bytes")? })
    }
}
