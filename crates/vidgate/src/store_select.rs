//! Picks the store backend from the configuration: the SQLite file under the data directory
//! by default, or the backend a `DATABASE_URL` names (`sqlite:` or `postgres://`).

use std::sync::Arc;

use anyhow::{Context, bail};
use vidgate_store::{SqlStore, Store};

use crate::config::Config;

pub async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    Ok(Arc::new(open_sql_store(config).await?))
}

/// The store as its own type (tests reach its `fault_plan` through it).
pub async fn open_sql_store(config: &Config) -> anyhow::Result<SqlStore> {
    let per_key = config.accounting.max_running_per_key;
    let durability = config.store.sqlite_durability;
    let url = config.store.database_url.expose();
    if url.is_empty() {
        let path = config.store.data_dir.join("vidgate.db");
        let store = SqlStore::open_sqlite(&path, durability)
            .await
            .with_context(|| format!("cannot open the SQLite database {}", path.display()))?;
        return Ok(store.with_max_running_per_key(per_key));
    }
    if url.starts_with("sqlite:") {
        let store = SqlStore::connect_sqlite(url, durability)
            .await
            .context("cannot open the SQLite database named by DATABASE_URL")?;
        return Ok(store.with_max_running_per_key(per_key));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let store = SqlStore::connect_postgres(url, config.store.max_connections)
            .await
            .context("cannot open the PostgreSQL database named by DATABASE_URL")?;
        let store = store.with_create_linger(config.store.create_linger);
        return Ok(store.with_max_running_per_key(per_key));
    }
    let scheme = url.split(':').next().unwrap_or_default();
    bail!("DATABASE_URL names a {scheme:?} database; vidgate speaks sqlite: and postgres:// URLs")
}
