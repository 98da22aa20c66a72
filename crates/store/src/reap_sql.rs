//! The reaper's statements, one text for both backends (`$n` parameters, which sqlx's SQLite
//! driver takes too). Each touches at most `$batch` rows, so a sweep after a long outage is
//! many short transactions instead of one that locks every overdue row; the outer `WHERE`
//! repeats the inner one so a row another replica changed meanwhile is left alone.

use crate::states::st;

/// `$1` error_type, `$2` now, `$3` batch, `$4` how long to follow a detached job: tasks past
/// their deadline fail with `timeout`. One the upstream may have (running, or back in the
/// queue after an attempt) is detached and followed until `$2 + $4`, keeping its slot and
/// hold; one that never left the queue is simply over (the caller releases its hold). A
/// submit in flight is left to finish: its answer decides which of the two it is, at the
/// next sweep. (The SET expressions read the row as it was before this statement.)
pub(crate) const TIME_OUT: &str = concat!(
    "UPDATE tasks SET state = ",
    st!(failed),
    ", error = 'the request did not finish before its deadline',
     error_type = $1, finished_at = $2, updated_at = $2, fence = fence + 1,
     lease_owner = NULL, lease_until = NULL,
     reconcile_until = CASE WHEN state = ",
    st!(running),
    " OR submit_attempts > 0 THEN $2 + $4 END,
     next_poll_at = CASE WHEN state = ",
    st!(running),
    " OR submit_attempts > 0 THEN $2 END
 WHERE seq IN (SELECT seq FROM tasks WHERE state IN (",
    st!(queued),
    ", ",
    st!(submitting),
    ", ",
    st!(running),
    ") AND deadline_at <= $2
                 AND NOT (state = ",
    st!(submitting),
    " AND coalesce(lease_until, 0) >= $2)
               ORDER BY deadline_at LIMIT $3)
   AND state IN (",
    st!(queued),
    ", ",
    st!(submitting),
    ", ",
    st!(running),
    ") AND deadline_at <= $2
   AND NOT (state = ",
    st!(submitting),
    " AND coalesce(lease_until, 0) >= $2)
 RETURNING id, reconcile_until"
);

/// `$1` error_type, `$2` now, `$3` batch, `$4` max step attempts, `$5` error, `$6` how long
/// to follow: a task whose lease ran out once more than the step may crash fails for its
/// owner (a poison pill: a step that kills its process, such as an out-of-memory render,
/// would otherwise do so forever). It was submitting or running, so the upstream may have
/// its job: it is detached and followed (by a step that does less than the one that died).
pub(crate) const FAIL_CRASHED: &str = concat!(
    "UPDATE tasks SET state = ",
    st!(failed),
    ", error = $5,
     error_type = $1, finished_at = $2, updated_at = $2, fence = fence + 1,
     lease_owner = NULL, lease_until = NULL, next_poll_at = $2, reconcile_until = $2 + $6
 WHERE seq IN (SELECT seq FROM tasks WHERE state IN (",
    st!(submitting),
    ", ",
    st!(running),
    ") AND lease_until < $2
                 AND crashes + 1 >= $4 LIMIT $3)
   AND state IN (",
    st!(submitting),
    ", ",
    st!(running),
    ") AND lease_until < $2 AND crashes + 1 >= $4
 RETURNING id"
);

/// `$1` now, `$2` batch: detached jobs whose following window closed with their end still
/// unknown stop being followed (the caller settles each at its hold: the upstream bills
/// what it ran, and nothing said it failed).
pub(crate) const EXPIRE_FOLLOWING: &str =
    "UPDATE tasks SET reconcile_until = NULL, next_poll_at = NULL,
     lease_owner = NULL, lease_until = NULL, fence = fence + 1, updated_at = $1
 WHERE seq IN (SELECT seq FROM tasks WHERE reconcile_until IS NOT NULL AND reconcile_until <= $1
               LIMIT $2)
   AND reconcile_until IS NOT NULL AND reconcile_until <= $1
 RETURNING id, quote";

/// `$1` now, `$2` batch: submit leases that ran out go back to the queue. The account stays
/// named: the resubmission goes there (where the upstream dedupes its `SessionId`), and so
/// does a lookup of the job the lost attempt may have made.
pub(crate) const REQUEUE: &str = concat!(
    "UPDATE tasks SET state = ",
    st!(queued),
    ", fence = fence + 1,
     lease_owner = NULL, lease_until = NULL, updated_at = $1, crashes = crashes + 1
 WHERE seq IN (SELECT seq FROM tasks WHERE state = ",
    st!(submitting),
    " AND lease_until < $1 LIMIT $2)
   AND state = ",
    st!(submitting),
    " AND lease_until < $1
 RETURNING id"
);

/// `$1` now, `$2` batch: poll leases that ran out are released.
pub(crate) const RELEASE: &str = concat!(
    "UPDATE tasks SET fence = fence + 1, lease_owner = NULL, lease_until = NULL,
     updated_at = $1, crashes = crashes + 1
 WHERE seq IN (SELECT seq FROM tasks WHERE state = ",
    st!(running),
    " AND lease_until < $1 LIMIT $2)
   AND state = ",
    st!(running),
    " AND lease_until < $1
 RETURNING id"
);

/// `$1` now, `$2` batch: expired dedup claims go.
pub(crate) const PURGE_DEDUP: &str = "DELETE FROM dedup WHERE (key_id, kind, value) IN
     (SELECT key_id, kind, value FROM dedup WHERE expires_at <= $1 LIMIT $2)
   AND expires_at <= $1";

pub(crate) fn crash_message(attempts: i64) -> String {
    format!(
        "a worker stopped {attempts} times while working on this request (it crashed, ran out of memory or hung); not retried again"
    )
}
