//! `WebhookStore`, once for both backends, and `enqueue`: a task's delivery is queued in the
//! transaction that ends the task for its owner (a transactional outbox), whichever code
//! path ends it (a completion, a cancel, the reaper).

use crate::states::st;
use async_trait::async_trait;
use vidgate_domain::KeyId;
use vidgate_domain::{Millis, RequestId};

use super::SqlStore;
use crate::db::{Tx, shared_sql, sql};
use crate::rows::{attempt_from_row, delivery_columns, delivery_from_row};
use crate::{Attempt, AttemptResult, Delivery, DeliveryState, Result, StoreEvent, WebhookStore};

/// Queues the completion webhook of `task_id`, which just ended for its owner, if it names a
/// URL and its owner has not deleted it; once per task. The delivery's id (Standard
/// Webhooks' `webhook-id`, the same on every attempt) is made here.
pub(crate) async fn enqueue(tx: &mut Tx, task_id: &str, at: Millis) -> Result<()> {
    let delivery_id = vidgate_domain::DeliveryId::new();
    tx.execute(
        sql(concat!(
            "INSERT INTO webhook_deliveries (id, task_id, key_id, url, state, next_attempt_at,
                                             created_at, updated_at)
             SELECT $1, id, key_id, webhook_url, ",
            st!(pending),
            ", $3, $3, $3 FROM tasks
              WHERE id = $2 AND webhook_url IS NOT NULL AND forgotten_at IS NULL
             ON CONFLICT (task_id) DO NOTHING"
        ))
        .bind(delivery_id)
        .bind(task_id)
        .bind(at),
    )
    .await?;
    Ok(())
}

#[async_trait]
impl WebhookStore for SqlStore {
    async fn claim_due_delivery(
        &self,
        now: Millis,
        lease_until: Millis,
    ) -> Result<Option<Delivery>> {
        let stmt = shared_sql(&self.claims.delivery).bind(now).bind(lease_until);
        let rows = self.db.write(stmt).await?;
        rows.first().map(delivery_from_row).transpose()
    }

    async fn extend_delivery_lease(&self, d: &Delivery, until: Millis) -> Result<bool> {
        let stmt = sql(concat!(
            "UPDATE webhook_deliveries SET lease_until = $1
                        WHERE id = $2 AND fence = $3 AND state = ",
            st!(pending),
            " AND lease_until IS NOT NULL"
        ))
        .bind(until)
        .bind(&d.id)
        .bind(d.fence);
        Ok(self.db.execute(stmt).await? == 1)
    }

    async fn freeze_payload(&self, d: &Delivery, payload: &str) -> Result<bool> {
        let stmt = sql("UPDATE webhook_deliveries SET payload = $1
                        WHERE id = $2 AND fence = $3 AND payload IS NULL")
        .bind(payload)
        .bind(&d.id)
        .bind(d.fence);
        Ok(self.db.execute(stmt).await? == 1)
    }

    async fn record_attempt(
        &self,
        d: &Delivery,
        a: &Attempt,
        result: AttemptResult,
        now: Millis,
    ) -> Result<bool> {
        let (state, next, delivered) = match result {
            AttemptResult::Delivered => (DeliveryState::Delivered, d.next_attempt_at, Some(now)),
            AttemptResult::RetryAt(at) => (DeliveryState::Pending, at, None),
            AttemptResult::Failed => (DeliveryState::Failed, d.next_attempt_at, None),
        };
        let mut tx = self.db.begin().await?;
        let done = tx
            .execute(
                sql("UPDATE webhook_deliveries SET attempts = attempts + 1, state = $1,
                         next_attempt_at = $2, delivered_at = coalesce($3, delivered_at),
                         last_status = $4, last_error = $5, lease_until = NULL, updated_at = $6
                     WHERE id = $7 AND fence = $8 AND lease_until IS NOT NULL")
                .bind(state.as_str())
                .bind(next)
                .bind(delivered)
                .bind(a.status)
                .bind(&a.error)
                .bind(now)
                .bind(&d.id)
                .bind(d.fence),
            )
            .await?;
        if done != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        tx.execute(
            sql("INSERT INTO webhook_attempts (delivery_id, task_id, at, status, error, duration_ms)
                 VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(&d.id)
            .bind(d.task_id.to_string())
            .bind(a.at)
            .bind(a.status)
            .bind(&a.error)
            .bind(a.duration_ms),
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn delivery_for(
        &self,
        key_id: &KeyId,
        task_id: RequestId,
    ) -> Result<Option<(Delivery, Vec<Attempt>)>> {
        let stmt = sql(concat!(
            "SELECT ",
            delivery_columns!(),
            " FROM webhook_deliveries WHERE task_id = $1 AND key_id = $2"
        ))
        .bind(task_id.to_string())
        .bind(key_id);
        let Some(delivery) =
            self.db.read_one(stmt).await?.as_ref().map(delivery_from_row).transpose()?
        else {
            return Ok(None);
        };
        let stmt = sql("SELECT at, status, error, duration_ms FROM webhook_attempts
                        WHERE delivery_id = $1 ORDER BY seq")
        .bind(&delivery.id);
        let attempts =
            self.db.read(stmt).await?.iter().map(attempt_from_row).collect::<Result<Vec<_>>>()?;
        Ok(Some((delivery, attempts)))
    }

    async fn redeliver(&self, key_id: &KeyId, task_id: RequestId, now: Millis) -> Result<bool> {
        let stmt = sql(concat!("UPDATE webhook_deliveries SET state = ", st!(pending), ", attempts = 0,
                            next_attempt_at = $1, fence = fence + 1, lease_until = NULL, updated_at = $1
                        WHERE task_id = $2 AND key_id = $3"))
        .bind(now)
        .bind(task_id.to_string())
        .bind(key_id);
        let done = self.db.execute(stmt).await? == 1;
        if done {
            self.db.announce(&[StoreEvent::Webhook]).await?;
        }
        Ok(done)
    }
}
