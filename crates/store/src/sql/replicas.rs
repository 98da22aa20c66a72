//! `ReplicaStore` over the SQL seam: one small transaction per beat, the same on both
//! backends (a SQLite file belongs to one server, so there the count is 1).

use async_trait::async_trait;
use vidgate_domain::Millis;

use super::SqlStore;
use crate::Result;
use crate::db::sql;
use crate::replicas::ReplicaStore;

#[async_trait]
impl ReplicaStore for SqlStore {
    async fn beat(&self, replica: &str, now: Millis, live_for: Millis) -> Result<u64> {
        let mut tx = self.db.begin().await?;
        tx.execute(
            sql("INSERT INTO replicas (id, seen_at) VALUES ($1, $2)
                 ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at")
            .bind(replica)
            .bind(now),
        )
        .await?;
        tx.execute(sql("DELETE FROM replicas WHERE seen_at < $1").bind(now - 10 * live_for))
            .await?;
        let live = sql("SELECT CAST(count(*) AS BIGINT) AS n FROM replicas WHERE seen_at >= $1")
            .bind(now - live_for);
        let n = match tx.fetch_one(live).await? {
            Some(row) => row.int("n")?,
            None => 1,
        };
        tx.commit().await?;
        Ok(n.max(1) as u64)
    }

    async fn leave(&self, replica: &str) -> Result<()> {
        self.db.execute(sql("DELETE FROM replicas WHERE id = $1").bind(replica)).await.map(|_| ())
    }
}
