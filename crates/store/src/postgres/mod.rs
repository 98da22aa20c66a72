//! Opening the PostgreSQL backend, for several replicas sharing one database, and following
//! what the other replicas change: transitions `NOTIFY` a channel (see `db`), and each process
//! listens on it so its workers wake at once; polling stays the fallback.

#[cfg(feature = "testing")]
pub mod testing;

use std::str::FromStr;
use std::time::Duration;

use futures::StreamExt;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};

use crate::db::{CHANNEL, Db};
use crate::{Result, SqlStore, StoreEvent, StoreEvents};

/// Pause between reconnection attempts of the event listener.
const LISTENER_RETRY: Duration = Duration::from_secs(1);

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
        drop(conn);
        Ok(SqlStore::new(Db::Postgres { pool }, None, &MIGRATOR))
    }
}

/// The change events of every replica, this one included.
pub(crate) async fn listen(db: &Db) -> Result<StoreEvents> {
    let Db::Postgres { pool } = db else {
        return Err(crate::StoreError::corrupt("listen needs a PostgreSQL store"));
    };
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    // Not `into_stream`: it ends at the first error (a server restart), and wake-ups would
    // stop for good. `recv` reconnects on its next call; until then it fails, so errors are
    // retried after a pause. Notifications sent while the connection was down are lost:
    // after an error every subscriber is told to look at everything (`Resync`), once when the
    // connection goes and once when it is back.
    let stream = futures::stream::unfold((listener, false), |(mut listener, failed)| async move {
        loop {
            match listener.recv().await {
                Ok(n) => {
                    let mut events: Vec<StoreEvent> = Vec::new();
                    if failed {
                        tracing::info!("store event listener reconnected");
                        events.push(StoreEvent::Resync);
                    }
                    events.extend(StoreEvent::parse(n.payload()));
                    return Some((futures::stream::iter(events), (listener, false)));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "store event listener lost its connection; reconnecting");
                    tokio::time::sleep(LISTENER_RETRY).await;
                    if !failed {
                        // Wake the workers now too: until the listener is back they poll.
                        let wake = vec![StoreEvent::Resync];
                        return Some((futures::stream::iter(wake), (listener, true)));
                    }
                }
            }
        }
    })
    .flatten();
    Ok(Box::pin(stream))
}
