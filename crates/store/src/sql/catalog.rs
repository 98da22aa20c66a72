//! `CatalogStore` over the SQL seam: one upsert, one delete, one read, each announcing the
//! change to every replica.

use async_trait::async_trait;

use super::SqlStore;
use crate::Result;
use crate::StoreEvent;
use crate::catalog::{CatalogEntry, CatalogStore};
use crate::db::sql;

#[derive(sqlx::FromRow)]
struct EntryRow {
    path: String,
    body: String,
    updated_at: i64,
}

#[async_trait]
impl CatalogStore for SqlStore {
    async fn put_catalog_entry(&self, e: &CatalogEntry) -> Result<()> {
        let stmt = sql("INSERT INTO catalog_entries (path, body, updated_at) VALUES ($1, $2, $3)
                        ON CONFLICT (path) DO UPDATE SET body = excluded.body,
                                                         updated_at = excluded.updated_at")
        .bind(&e.path)
        .bind(&e.body)
        .bind(e.updated_at);
        self.db.execute(stmt).await?;
        self.db.announce(&[StoreEvent::Catalog]).await
    }

    async fn delete_catalog_entry(&self, path: &str) -> Result<bool> {
        let stmt = sql("DELETE FROM catalog_entries WHERE path = $1").bind(path);
        let gone = self.db.execute(stmt).await? > 0;
        if gone {
            self.db.announce(&[StoreEvent::Catalog]).await?;
        }
        Ok(gone)
    }

    async fn catalog_entries(&self) -> Result<Vec<CatalogEntry>> {
        let stmt = sql("SELECT path, body, updated_at FROM catalog_entries ORDER BY path");
        let mut out = Vec::new();
        for row in self.db.read(stmt).await? {
            let r: EntryRow = row.decode()?;
            out.push(CatalogEntry { path: r.path, body: r.body, updated_at: r.updated_at });
        }
        Ok(out)
    }
}
