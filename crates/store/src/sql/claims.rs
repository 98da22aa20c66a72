//! The claim statements: the only SQL whose text depends on the backend (`FOR UPDATE SKIP
//! LOCKED` where several writers compete for the head of a queue). Assembled once when the
//! store opens, not on every claim.

use crate::states::st;
use std::sync::Arc;

use crate::db::Db;
use crate::rows::{delivery_columns, task_columns};

#[derive(Debug, Clone)]
pub(crate) struct Claims {
    /// `$1` account, `$2` owner, `$3` lease until, `$4` now, `$5` pool, `$6` slot limit, `$7`
    /// the default `max_running` per key (0: none): the head of the pool's queue among the
    /// tasks not past their deadline whose key holds fewer slots than its limit, if the
    /// account has a free slot. A task back in the queue after an attempt goes to the account
    /// that attempt went to, and no other: the upstream dedupes `SessionId` per account, so a
    /// resubmission elsewhere could make a second job, and a lookup elsewhere could not find
    /// the first. Detached jobs still followed hold their slots: the upstream still runs them.
    pub(crate) queued: Arc<str>,
    /// `$1` owner, `$2` lease until, `$3` now, `$4` pool: the running task due first.
    pub(crate) poll: Arc<str>,
    /// `$1` owner, `$2` lease until, `$3` now, `$4` pool: the detached job to follow that is
    /// due first.
    pub(crate) reconcile: Arc<str>,
    /// `$1` now, `$2` lease until: the webhook delivery due first.
    pub(crate) delivery: Arc<str>,
}

impl Claims {
    pub(crate) fn for_backend(db: &Db) -> Claims {
        let skip_locked = db.skip_locked();
        Claims {
            queued: format!(
                concat!("UPDATE tasks SET state = ", st!(submitting), ", account = $1, fence = fence + 1,
                     submit_attempts = submit_attempts + 1, lease_owner = $2, lease_until = $3,
                     updated_at = $4, dispatched_at = coalesce(dispatched_at, $4)
                 WHERE seq = (SELECT t.seq FROM tasks t
                              WHERE t.pool = $5 AND t.state = ", st!(queued), " AND t.run_after <= $4
                                AND t.deadline_at > $4 AND (t.account IS NULL OR t.account = $1)
                                AND (coalesce((SELECT k.max_running FROM api_keys k WHERE k.id = t.key_id), $7) <= 0
                                     OR (SELECT count(*) FROM tasks r WHERE r.key_id = t.key_id
                                           AND r.state IN (", st!(submitting), ", ", st!(running), "))
                                        + (SELECT count(*) FROM tasks r WHERE r.key_id = t.key_id
                                           AND r.reconcile_until IS NOT NULL)
                                        < coalesce((SELECT k.max_running FROM api_keys k WHERE k.id = t.key_id), $7))
                              ORDER BY t.rank DESC, t.seq LIMIT 1 {skip_locked})
                   AND (SELECT count(*) FROM tasks WHERE pool = $5 AND account = $1
                          AND state IN (", st!(submitting), ", ", st!(running), "))
                       + (SELECT count(*) FROM tasks WHERE pool = $5 AND account = $1
                          AND reconcile_until IS NOT NULL) < $6
                 RETURNING {}"),
                task_columns!(),
                skip_locked = skip_locked,
            )
            .into(),
            poll: format!(
                concat!("UPDATE tasks SET fence = fence + 1, lease_owner = $1, lease_until = $2, updated_at = $3,
                     poll_event = 0, last_poll_at = $3
                 WHERE seq = (SELECT seq FROM tasks WHERE state = ", st!(running), " AND pool = $4 AND next_poll_at <= $3
                                AND (lease_until IS NULL OR lease_until < $3)
                              ORDER BY next_poll_at LIMIT 1 {skip_locked})
                 RETURNING {}"),
                task_columns!(),
                skip_locked = skip_locked,
            )
            .into(),
            reconcile: format!(
                concat!("UPDATE tasks SET fence = fence + 1, lease_owner = $1, lease_until = $2, updated_at = $3
                 WHERE seq = (SELECT seq FROM tasks WHERE reconcile_until IS NOT NULL AND pool = $4
                                AND next_poll_at <= $3 AND (lease_until IS NULL OR lease_until < $3)
                              ORDER BY next_poll_at LIMIT 1 {skip_locked})
                 RETURNING {}"),
                task_columns!(),
                skip_locked = skip_locked,
            )
            .into(),
            delivery: format!(
                concat!("UPDATE webhook_deliveries SET fence = fence + 1, lease_until = $2, updated_at = $1
                 WHERE id = (SELECT id FROM webhook_deliveries
                             WHERE state = ", st!(pending), " AND next_attempt_at <= $1
                               AND (lease_until IS NULL OR lease_until < $1)
                             ORDER BY next_attempt_at LIMIT 1 {skip_locked})
                 RETURNING {}"),
                delivery_columns!(),
                skip_locked = skip_locked,
            )
            .into(),
        }
    }
}
