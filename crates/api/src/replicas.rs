//! This replica's heartbeat: every few seconds it records itself in the store and reads how
//! many replicas are alive, and the rate limiter enforces that share of each key's limits
//! (`limits.rs`). The count is read off the request path, so a status poll pays nothing for
//! it; it lags a replica's arrival by at most one beat and its departure by `LIVE_FOR`
//! (a graceful stop leaves at once).

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use vidgate_domain::Clock;
use vidgate_domain::Millis;
use vidgate_store::Store;

use crate::limits::RateLimiter;

/// How often a replica beats.
pub const BEAT_EVERY: Duration = Duration::from_secs(5);

/// A replica not seen for this long is not counted.
pub const LIVE_FOR: Millis = 15_000;

/// One beat: records `replica` at `now` and shares the limits among those alive.
pub async fn beat(
    store: &dyn Store,
    rates: &RateLimiter,
    replica: &str,
    now: Millis,
) -> vidgate_store::Result<u64> {
    let n = store.beat(replica, now, LIVE_FOR).await?;
    if n != rates.replicas() {
        tracing::info!(
            replicas = n,
            "replicas sharing the store: each enforces 1/{n} of a key's rate limits"
        );
    }
    rates.set_replicas(n);
    metrics::gauge!("vidgate_replicas").set(n as f64);
    Ok(n)
}

/// Beats every `BEAT_EVERY` until `stop`, then leaves the count.
pub async fn heartbeat(
    store: Arc<dyn Store>,
    rates: Arc<RateLimiter>,
    clock: Arc<dyn Clock>,
    replica: String,
    stop: CancellationToken,
) {
    loop {
        if let Err(e) = beat(store.as_ref(), &rates, &replica, clock.now_ms()).await {
            // The last count stays in force: limits err on neither side for a missed beat.
            tracing::warn!(error = %e, "replica heartbeat failed");
        }
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(BEAT_EVERY) => {}
        }
    }
    if let Err(e) = store.leave(&replica).await {
        tracing::warn!(error = %e, "could not leave the replica count");
    }
}
