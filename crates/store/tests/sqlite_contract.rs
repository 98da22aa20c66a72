//! The store contract on the embedded SQLite backend, a fresh database file per test.

#![allow(clippy::unwrap_used)] // a test: a panic is how it reports failure

use std::sync::Arc;

use vidgate_store::sqlite::Durability;
use vidgate_store::{SqlStore, Store, store_contract_tests};

async fn fresh_sqlite() -> Option<Arc<dyn Store>> {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("vidgate.db");
    // The directory must outlive the store; leak it for the test's lifetime.
    std::mem::forget(dir);
    Some(Arc::new(SqlStore::open_sqlite(&path, Durability::Normal).await.expect("open sqlite")))
}

store_contract_tests!(fresh_sqlite());
