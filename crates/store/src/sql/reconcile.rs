//! Following a detached job (`Completion::Detached`): its owner's request has ended (a
//! deadline, a crashing step, an upstream that would not answer), but the upstream may still
//! run the job and bill it. The job keeps its hold and its upstream slot until its end is
//! known: settled at what the upstream reports when it finishes, released when it fails or
//! turns out never to have existed. A window that closes first is the reaper's to settle, at
//! the hold (`reap.rs`).

use vidgate_domain::{Millis, RequestId};

use super::SqlStore;
use super::ledger::{self, Close};
use super::steps::insert_log;
use crate::db::sql;
use crate::{FollowEnd, Lease, LogEntry, Result, StoreError, StoreEvent};

impl SqlStore {
    pub(super) async fn reconcile_later(
        &self,
        lease: Lease,
        next_poll_at: Millis,
        now: Millis,
    ) -> Result<bool> {
        let stmt =
            sql("UPDATE tasks SET next_poll_at = $1, lease_owner = NULL, lease_until = NULL,
                            updated_at = $2
                        WHERE id = $3 AND fence = $4 AND reconcile_until IS NOT NULL
                          AND lease_until IS NOT NULL")
            .bind(next_poll_at)
            .bind(now)
            .bind(lease.id.to_string())
            .bind(lease.fence);
        Ok(self.db.execute(stmt).await? == 1)
    }

    pub(super) async fn reconcile_done(
        &self,
        lease: Lease,
        end: FollowEnd,
        now: Millis,
        log: LogEntry,
    ) -> Result<bool> {
        let id = lease.id.to_string();
        let charge = match &end {
            FollowEnd::Succeeded(charge) => Some(charge),
            FollowEnd::NoJob => None,
        };
        let cost = charge.and_then(|c| c.cost.as_ref());
        let charge_json =
            charge.map(serde_json::to_string).transpose().map_err(StoreError::corrupt)?;
        let mut tx = self.db.begin().await?;
        let ended = tx
            .execute(
                sql("UPDATE tasks SET reconcile_until = NULL, next_poll_at = NULL,
                            lease_owner = NULL, lease_until = NULL, updated_at = $1,
                            cost = coalesce($2, cost), charge = coalesce($3, charge)
                        WHERE id = $4 AND fence = $5 AND reconcile_until IS NOT NULL
                          AND lease_until IS NOT NULL")
                .bind(now)
                .bind(cost.map(|c| c.amount))
                .bind(charge_json)
                .bind(&id)
                .bind(lease.fence),
            )
            .await?;
        if ended != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        let how = match charge {
            Some(c) => Close::Settle {
                cost: c.cost.as_ref(),
                usage: c.usage.as_ref(),
                note: Some("the upstream finished the job after its request had ended"),
            },
            None => Close::Release { note: Some("the upstream failed the job, or had none") },
        };
        ledger::close(&mut tx, &id, now, how).await?;
        insert_log(&mut tx, &id, &log).await?;
        // Its slot is free.
        tx.emit([StoreEvent::Task(lease.id), StoreEvent::Dispatch]);
        tx.commit().await?;
        Ok(true)
    }

    pub(super) async fn follow_job(
        &self,
        id: RequestId,
        upstream_task_id: &str,
        now: Millis,
    ) -> Result<bool> {
        let id = id.to_string();
        let mut tx = self.db.begin().await?;
        let done = tx
            .execute(
                sql("UPDATE tasks SET upstream_task_id = $1, submitted_at = coalesce(submitted_at, $2),
                            updated_at = $2
                        WHERE id = $3 AND reconcile_until IS NOT NULL AND upstream_task_id IS NULL")
                .bind(upstream_task_id)
                .bind(now)
                .bind(&id),
            )
            .await?;
        if done != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        let log = LogEntry::info(
            now,
            format!("the upstream has a job for this request ({upstream_task_id}); following it"),
        );
        insert_log(&mut tx, &id, &log).await?;
        tx.emit([StoreEvent::Poll]);
        tx.commit().await?;
        Ok(true)
    }
}
