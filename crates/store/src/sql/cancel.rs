//! A cancel's two cases: a request that never reached the upstream ends at once, free; one
//! that may be with the upstream (which has no cancel call) is flagged and runs on.

use vidgate_domain::{ErrorType, Millis, TaskState};

use super::ledger::{self, Close};
use crate::db::{Tx, sql};
use crate::phase::CANCELLED_MESSAGE;
use crate::states::st;
use crate::{LogEntry, Result};

/// Cancels a request of `key_id` that never left the queue: nothing reached the upstream, so
/// its hold is released, and its webhook queued. `false`: not such a request.
pub(super) async fn cancel_unsent(
    tx: &mut Tx,
    key_id: &str,
    id: &str,
    now: Millis,
) -> Result<bool> {
    let cancelled = tx
        .execute(
            sql(concat!(
                "UPDATE tasks SET state = ",
                st!(cancelled),
                ", error = $1, error_type = $2, finished_at = $3,
                     updated_at = $3, fence = fence + 1, lease_owner = NULL, lease_until = NULL
                 WHERE id = $4 AND key_id = $5 AND forgotten_at IS NULL AND state = ",
                st!(queued),
                " AND submit_attempts = 0"
            ))
            .bind(CANCELLED_MESSAGE)
            .bind(ErrorType::Cancelled)
            .bind(now)
            .bind(id)
            .bind(key_id),
        )
        .await?;
    if cancelled != 1 {
        return Ok(false);
    }
    ledger::close(tx, id, now, Close::Release { note: Some("cancelled while queued") }).await?;
    super::webhooks::enqueue(tx, id, now).await?;
    Ok(true)
}

/// Flags a cancel on a request the upstream may have (it has no cancel call: the request runs
/// on). One back in the queue after an attempt whose answer may have been lost is made due at
/// once, so the dispatcher asks the upstream whether that attempt made a job before
/// cancelling it. The log line to write; `None`: not such a request (or flagged already).
pub(super) async fn flag_cancel(
    tx: &mut Tx,
    key_id: &str,
    id: &str,
    now: Millis,
) -> Result<Option<LogEntry>> {
    let flagged = tx
        .fetch_one(
            sql(concat!(
                "UPDATE tasks SET cancel_requested = TRUE, updated_at = $1,
                     run_after = CASE WHEN state = ",
                st!(queued),
                " AND run_after > $1 THEN $1 ELSE run_after END
                 WHERE id = $2 AND key_id = $3 AND forgotten_at IS NULL AND state IN (",
                st!(queued),
                ", ",
                st!(submitting),
                ", ",
                st!(running),
                ")
                   AND cancel_requested = FALSE
                 RETURNING state"
            ))
            .bind(now)
            .bind(id)
            .bind(key_id),
        )
        .await?;
    let Some(row) = flagged else { return Ok(None) };
    let message = if row.text("state")? == TaskState::Queued.as_str() {
        "cancellation requested; an earlier attempt may have reached the upstream, so it is asked first: with no job there the request is cancelled free, with one the job runs to its end and is charged"
    } else {
        "cancellation requested after the request reached the upstream, which has no cancel call: its job runs to its end, and is delivered and charged if it succeeds (released if it fails)"
    };
    Ok(Some(LogEntry::info(now, message)))
}
