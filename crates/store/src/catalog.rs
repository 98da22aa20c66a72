//! The operator's model-catalog entries (`PUT /admin/models/...`): kept in the database so
//! every replica lays the same entries over its built-in catalog, and announced on the change
//! feed (`StoreEvent::Catalog`) so each reloads without a restart.

use async_trait::async_trait;
use vidgate_domain::Millis;

use crate::Result;

/// One stored entry: `path` is `Model` (a model entry) or `Model/version`; `body` is its
/// catalog-file fragment as JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogEntry {
    pub path: String,
    pub body: String,
    pub updated_at: Millis,
}

#[async_trait]
pub trait CatalogStore: Send + Sync {
    /// Adds or replaces the entry at `entry.path`.
    async fn put_catalog_entry(&self, entry: &CatalogEntry) -> Result<()>;

    /// Removes the entry at `path`; `false`: there was none.
    async fn delete_catalog_entry(&self, path: &str) -> Result<bool>;

    /// Every entry, by path (a model's entry before its versions').
    async fn catalog_entries(&self) -> Result<Vec<CatalogEntry>>;
}
