//! Following a request that timed out while the upstream had it: the caller was answered
//! `timeout` and its hold released, but the upstream may still finish the job and bill it.
//! If it does, the key is charged too (a `late_charge` ledger row, at most one per request,
//! written with the usage in one transaction); either way the following stops.

use vidgate_domain::Millis;

use super::SqlStore;
use super::tasks::insert_log;
use crate::db::sql;
use crate::{Charge, Lease, LogEntry, Result, StoreError, StoreEvent};

impl SqlStore {
    pub(super) async fn reconcile_later(
        &self,
        lease: Lease,
        next_poll_at: Millis,
        now: Millis,
    ) -> Result<bool> {
        // Past its window: no next time (the SET expressions read the row as it was).
        let stmt = sql("UPDATE tasks SET
                            next_poll_at = CASE WHEN $1 < reconcile_until THEN $1 END,
                            reconcile_until = CASE WHEN $1 < reconcile_until THEN reconcile_until END,
                            lease_owner = NULL, lease_until = NULL, updated_at = $2
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
        charge: Option<Charge>,
        now: Millis,
        log: LogEntry,
    ) -> Result<bool> {
        let id = lease.id.to_string();
        let cost = charge.as_ref().and_then(|c| c.cost.as_ref());
        let charge_json =
            charge.as_ref().map(serde_json::to_string).transpose().map_err(StoreError::corrupt)?;
        let mut tx = self.db.begin().await?;
        let ended = tx
            .fetch_one(
                sql("UPDATE tasks SET reconcile_until = NULL, next_poll_at = NULL,
                            lease_owner = NULL, lease_until = NULL, updated_at = $1,
                            cost = coalesce($2, cost), charge = coalesce($3, charge)
                        WHERE id = $4 AND fence = $5 AND reconcile_until IS NOT NULL
                          AND lease_until IS NOT NULL
                        RETURNING key_id, hold")
                .bind(now)
                .bind(cost.map(|c| c.amount))
                .bind(charge_json)
                .bind(&id)
                .bind(lease.fence),
            )
            .await?;
        let Some(row) = ended else {
            tx.rollback().await?;
            return Ok(false);
        };
        let held = row.opt_int("hold")?.is_some();
        if let (true, Some(cost)) = (held, cost) {
            let hold = sql("SELECT key_id, day, month, model FROM ledger
                            WHERE request_id = $1 AND phase = 'open'")
            .bind(&id);
            if let Some(h) = tx.fetch_one(hold).await? {
                let (key_id, day, month) = (h.text("key_id")?, h.text("day")?, h.text("month")?);
                tx.execute(
                    sql("INSERT INTO ledger (at, key_id, request_id, kind, phase, amount, spend,
                                             day, month, model, seconds, note)
                         VALUES ($1, $2, $3, 'late_charge', 'late', $4, $5, $6, $7, $8, $9,
                                 'the upstream finished the job after the deadline')")
                    .bind(now)
                    .bind(&key_id)
                    .bind(&id)
                    .bind(-cost.amount)
                    .bind(cost.amount)
                    .bind(&day)
                    .bind(&month)
                    .bind(h.opt_text("model")?)
                    .bind(cost.seconds),
                )
                .await?;
                for period in [day.as_str(), month.as_str(), "all"] {
                    tx.execute(
                        sql("INSERT INTO key_spend (key_id, period, shard, spent)
                             VALUES ($1, $2, 0, $3)
                             ON CONFLICT (key_id, period, shard)
                             DO UPDATE SET spent = key_spend.spent + excluded.spent")
                        .bind(&key_id)
                        .bind(period)
                        .bind(cost.amount),
                    )
                    .await?;
                }
            }
        }
        insert_log(&mut tx, &id, &log).await?;
        tx.emit([StoreEvent::Task(lease.id)]);
        tx.commit().await?;
        Ok(true)
    }
}
