//! Queue statistics for metrics, from the counters and indexes the queue already keeps, so a
//! scrape costs a few index lookups however long the queue is.

use sqlx::Row;

use super::PgStore;
use crate::{QueueStats, Result};

impl PgStore {
    pub(super) async fn pool_stats(&self, pool: &str) -> Result<QueueStats> {
        let queued: i64 = sqlx::query_scalar(
            "SELECT coalesce(sum(n), 0)::BIGINT FROM queue_rank_counts WHERE pool = $1",
        )
        .bind(pool)
        .fetch_one(&self.pool)
        .await?;
        let mut stats = QueueStats { queued, ..QueueStats::default() };
        let rows = sqlx::query(
            "SELECT state, count(*)::BIGINT AS n FROM tasks WHERE pool = $1 AND state IN ('submitting', 'running')
             GROUP BY state",
        )
        .bind(pool)
        .fetch_all(&self.pool)
        .await?;
        for row in &rows {
            let (state, n): (String, i64) = (row.try_get("state")?, row.try_get("n")?);
            match state.as_str() {
                "submitting" => stats.submitting = n,
                _ => stats.running = n,
            }
        }
        // The head of each rank's queue (index order), then the earliest of those.
        let ranks: Vec<i64> = sqlx::query_scalar(
            "SELECT rank FROM queue_rank_counts WHERE pool = $1 GROUP BY rank HAVING sum(n) > 0",
        )
        .bind(pool)
        .fetch_all(&self.pool)
        .await?;
        for rank in ranks {
            let head: Option<i64> = sqlx::query_scalar(
                "SELECT created_at FROM tasks WHERE pool = $1 AND state = 'queued' AND rank = $2
                 ORDER BY seq LIMIT 1",
            )
            .bind(pool)
            .bind(rank)
            .fetch_optional(&self.pool)
            .await?;
            if let Some(at) = head {
                stats.oldest_queued_at =
                    Some(stats.oldest_queued_at.map_or(at, |o: i64| o.min(at)));
            }
        }
        Ok(stats)
    }
}
