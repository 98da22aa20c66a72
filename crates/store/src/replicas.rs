//! Which vidgate processes share the store right now: each one beats (`ReplicaStore::beat`)
//! every few seconds, and the count of those seen lately is how many share a key's rate
//! limits (each enforces its share, `vidgate_api::limits`).

use async_trait::async_trait;
use vidgate_domain::Millis;

use crate::Result;

#[async_trait]
pub trait ReplicaStore: Send + Sync {
    /// Records that `replica` is alive at `now`, forgets replicas silent for ten times
    /// `live_for`, and answers how many were seen within `live_for` of `now` (this one
    /// included, so at least 1).
    async fn beat(&self, replica: &str, now: Millis, live_for: Millis) -> Result<u64>;

    /// Takes `replica` off the count at once (a graceful stop).
    async fn leave(&self, replica: &str) -> Result<()>;
}
