//! The PostgreSQL backend, for several replicas sharing one database. Same schema and meaning
//! as the SQLite backend (the contract suite runs on both); claims use `FOR UPDATE SKIP LOCKED`
//! under a per-account advisory lock, so replicas never exceed an account's slot limit
//! together. Transitions `NOTIFY` the other replicas so their workers wake at once; polling
//! stays the fallback.

mod insert;
mod keys;
mod stats;
mod tasks;
#[cfg(feature = "testing")]
pub mod testing;
mod webhooks;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};

use crate::{Result, Store, StoreEvent, StoreEvents};

/// Pause between reconnection attempts of the event listener.
const LISTENER_RETRY: Duration = Duration::from_secs(1);

/// The channel replicas notify each other on.
pub(crate) const CHANNEL: &str = "vidgate_events";

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects to a `postgres://` URL and applies migrations.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self> {
        Self::connect_with(PgConnectOptions::from_str(url)?, max_connections).await
    }

    /// Connects with explicit options (tests put each store in its own schema this way).
    pub async fn connect_with(options: PgConnectOptions, max_connections: u32) -> Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10))
            // As on SQLite (see there): never reuse a connection a failed commit left unsure.
            .after_release(|conn, _| {
                Box::pin(async move { Ok(crate::sqlite::fresh_after_failure(conn)) })
            })
            .connect_with(options)
            .await?;
        // Replicas starting together must not run the same migration twice.
        let mut conn = pool.acquire().await?;
        sqlx::query("SELECT pg_advisory_lock(7305736976)").execute(&mut *conn).await?;
        let migrated = MIGRATOR.run(&mut *conn).await;
        sqlx::query("SELECT pg_advisory_unlock(7305736976)").execute(&mut *conn).await?;
        migrated?;
        Ok(PgStore { pool })
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn schema_current(&self) -> Result<bool> {
        let applied: Vec<i64> =
            sqlx::query_scalar(crate::migrations::APPLIED).fetch_all(&self.pool).await?;
        Ok(crate::migrations::current(&MIGRATOR, &applied))
    }

    async fn events(&self) -> Result<Option<StoreEvents>> {
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.listen(CHANNEL).await?;
        // Not `into_stream`: it ends at the first error (a server restart), and wake-ups would
        // stop for good. `recv` reconnects on its next call; until then it fails, so errors are
        // retried after a pause. Notifications sent while the connection was down are lost:
        // after an error every worker is woken once to look for what they missed.
        let stream = futures::stream::unfold((listener, false), |(mut listener, failed)| async move {
            loop {
                match listener.recv().await {
                    Ok(n) => {
                        let mut events: Vec<StoreEvent> = Vec::new();
                        if failed {
                            tracing::info!("store event listener reconnected");
                            events.extend([StoreEvent::Dispatch, StoreEvent::Poll]);
                        }
                        events.extend(StoreEvent::parse(n.payload()));
                        return Some((futures::stream::iter(events), (listener, false)));
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "store event listener lost its connection; reconnecting");
                        tokio::time::sleep(LISTENER_RETRY).await;
                        if !failed {
                            // Wake the workers now too: until the listener is back they poll.
                            let wake = vec![StoreEvent::Dispatch, StoreEvent::Poll];
                            return Some((futures::stream::iter(wake), (listener, true)));
                        }
                    }
                }
            }
        })
        .flatten();
        Ok(Some(Box::pin(stream)))
    }
}
