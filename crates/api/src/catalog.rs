//! Keeping the live model catalog in step with the operator's stored entries: read them,
//! lay them over the base (built-in + the operator's file) and swap the snapshot in, at start,
//! after an admin change here, and when the change feed says another replica changed one.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use vidgate_domain::models::format::CatalogFile;
use vidgate_domain::models::live::{LiveModels, Skipped};
use vidgate_store::{Changes, Store};

/// How often a replica re-reads the entries even without a change event (a missed event, a
/// store with no feed).
pub const REFRESH_EVERY: Duration = Duration::from_secs(30);

/// Why the catalog could not be reloaded (the one in force stays).
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("the stored entries cannot be read: {0}")]
    Store(#[from] vidgate_store::StoreError),
    #[error("the base catalog does not build: {0}")]
    Catalog(#[from] vidgate_domain::models::CatalogError),
}

/// Re-reads the stored entries and puts the catalog they make in force; an entry that no
/// longer parses or applies is skipped, logged and returned.
pub async fn reload(store: &dyn Store, live: &LiveModels) -> Result<Vec<Skipped>, ReloadError> {
    let entries = store.catalog_entries().await?;
    let mut skipped = Vec::new();
    let mut stored = Vec::with_capacity(entries.len());
    for e in entries {
        match serde_json::from_str::<CatalogFile>(&e.body) {
            Ok(file) => stored.push((e.path, file)),
            Err(err) => skipped.push(Skipped { path: e.path, problem: err.to_string() }),
        }
    }
    skipped.extend(live.apply(&stored)?);
    for s in &skipped {
        tracing::warn!(path = %s.path, problem = %s.problem, "a stored model-catalog entry does not apply; skipped");
    }
    Ok(skipped)
}

/// Reloads whenever the change feed says the catalog changed (on any replica), and every
/// `REFRESH_EVERY` in any case, until `stop`.
pub async fn follow(
    store: Arc<dyn Store>,
    live: Arc<LiveModels>,
    changes: Arc<Changes>,
    stop: CancellationToken,
) {
    loop {
        let changed = changes.catalog.notified();
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = changed => {}
            _ = tokio::time::sleep(REFRESH_EVERY) => {}
        }
        if let Err(e) = reload(store.as_ref(), &live).await {
            tracing::warn!(error = %e, "cannot reload the model catalog; the one in force stays");
        }
    }
}
