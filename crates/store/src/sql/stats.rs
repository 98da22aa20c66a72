//! Queue statistics for metrics, from the counters and indexes the queue already keeps, so a
//! scrape costs a few index lookups however long the queue is.

use super::SqlStore;
use crate::db::sql;
use crate::states::st;
use crate::{QueueStats, Result};
use vidgate_domain::Pool;

impl SqlStore {
    pub(super) async fn pool_stats(&self, pool: Pool) -> Result<QueueStats> {
        let queued = sql("SELECT CAST(coalesce(sum(n), 0) AS BIGINT) AS n
                          FROM queue_rank_counts WHERE pool = $1")
        .bind(pool.as_str());
        let queued = match self.db.read_one(queued).await? {
            Some(row) => row.int("n")?,
            None => 0,
        };
        let mut stats = QueueStats { queued, ..QueueStats::default() };
        let states = sql(concat!(
            "SELECT state, count(*) AS n FROM tasks
                          WHERE pool = $1 AND state IN (",
            st!(submitting),
            ", ",
            st!(running),
            ") GROUP BY state"
        ))
        .bind(pool.as_str());
        for row in self.db.read(states).await? {
            let n = row.int("n")?;
            match row.text("state")?.as_str() {
                "submitting" => stats.submitting = n,
                _ => stats.running = n,
            }
        }
        // The head of each rank's queue (index order), then the earliest of those.
        let ranks = sql("SELECT rank FROM queue_rank_counts WHERE pool = $1
                         GROUP BY rank HAVING sum(n) > 0")
        .bind(pool.as_str());
        for rank in self.db.read(ranks).await? {
            let head = sql(concat!(
                "SELECT created_at FROM tasks WHERE pool = $1 AND state = ",
                st!(queued),
                "
                              AND rank = $2 ORDER BY seq LIMIT 1"
            ))
            .bind(pool.as_str())
            .bind(rank.int("rank")?);
            if let Some(row) = self.db.read_one(head).await? {
                let at = row.int("created_at")?;
                stats.oldest_queued_at = Some(stats.oldest_queued_at.map_or(at, |o| o.min(at)));
            }
        }
        Ok(stats)
    }
}
