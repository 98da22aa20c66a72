//! The change feed, as each backend carries it: in this process only on SQLite (a broadcast
//! channel; a SQLite file belongs to one server), `LISTEN`/`NOTIFY` across every replica on
//! PostgreSQL. Below the shared SQL (`sql`), beside the backend seam (`db`).

use std::time::Duration;

use futures::StreamExt;
use sqlx::postgres::PgListener;
use tokio::sync::broadcast;

use crate::db::{CHANNEL, Conn, Db};
use crate::{Result, StoreEvent, StoreEvents};

/// Pause between reconnection attempts of the PostgreSQL event listener.
const LISTENER_RETRY: Duration = Duration::from_secs(1);

/// The change events every process sharing `db` makes, this one's included.
pub(crate) async fn events(db: &Db) -> Result<StoreEvents> {
    match &db.conn {
        Conn::Sqlite { feed, .. } => Ok(feed_events(feed.subscribe())),
        Conn::Postgres { .. } => listen(db).await,
    }
}

/// This process's change events as a stream. A subscriber that fell behind is told to look
/// at everything (`Resync`) instead of silently missing transitions.
fn feed_events(rx: broadcast::Receiver<StoreEvent>) -> StoreEvents {
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        match rx.recv().await {
            Ok(e) => Some((e, rx)),
            Err(broadcast::error::RecvError::Lagged(_)) => Some((StoreEvent::Resync, rx)),
            Err(broadcast::error::RecvError::Closed) => None,
        }
    });
    stream.boxed()
}

/// The change events of every replica, this one included.
async fn listen(db: &Db) -> Result<StoreEvents> {
    let Conn::Postgres { pool } = &db.conn else {
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
