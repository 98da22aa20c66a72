//! Opening the PostgreSQL backend, for several replicas sharing one database, and following
//! what the other replicas change: transitions `NOTIFY` a channel (see `db`), and each process
//! listens on it so its workers wake at once; polling stays the fallback.

#[cfg(feature = "testing")]
pub mod lock_waits;
#[cfg(feature = "testing")]
pub mod testing;

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::db::{Conn, Db, fresh_after_failure};
use crate::{Result, SqlStore};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl SqlStore {
    /// Connects to a `postgres://` URL and applies migrations.
    pub async fn connect_postgres(url: &str, max_connections: u32) -> Result<SqlStore> {
        Self::connect_postgres_with(PgConnectOptions::from_str(url)?, max_connections).await
    }

    /// Connects with explicit options (tests put each store in its own schema this way).
    pub async fn connect_postgres_with(
        options: PgConnectOptions,
        max_connections: u32,
    ) -> Result<SqlStore> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10))
            // As on SQLite (see there): never reuse a connection a failed commit left unsure.
            .after_release(|conn, _| Box::pin(async move { Ok(fresh_after_failure(conn)) }))
            .connect_with(options)
            .await?;
        // Replicas starting together must not run the same migration twice.
        let mut conn = pool.acquire().await?;
        sqlx::query("SELECT pg_advisory_lock(7305736976)").execute(&mut *conn).await?;
        let migrated = MIGRATOR.run(&mut *conn).await;
        sqlx::query("SELECT pg_advisory_unlock(7305736976)").execute(&mut *conn).await?;
        migrated?;
        drop(conn);
        Ok(SqlStore::new(Db::new(Conn::Postgres { pool }), &MIGRATOR))
    }
}
