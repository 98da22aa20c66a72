//! The reaper's statements, one text for both backends (`$n` parameters, which sqlx's SQLite
//! driver takes too). Each touches at most `$batch` rows, so a sweep after a long outage is
//! many short transactions instead of one that locks every overdue row; the outer `WHERE`
//! repeats the inner one so a row another replica changed meanwhile is left alone.

use crate::states::st;

/// `$1` error_type, `$2` now, `$3` batch, `$4` how long to keep reconciling: tasks past their
/// deadline fail with `timeout`. One the upstream has (running, with its task id) is still
/// followed until `$2 + $4`, so a late success is charged as the upstream charges it (the SET
/// expressions read the row as it was before this statement).
pub(crate) const TIME_OUT: &str = concat!(
    "UPDATE tasks SET state = ",
    st!(failed),
    ", error = 'the request did not finish before its deadline',
     error_type = $1, finished_at = $2, updated_at = $2, fence = fence + 1,
     lease_owner = NULL, lease_until = NULL,
     reconcile_until = CASE WHEN state = ",
    st!(running),
    " AND upstream_task_id IS NOT NULL AND $4 > 0 THEN $2 + $4 END,
     next_poll_at = CASE WHEN state = ",
    st!(running),
    " AND upstream_task_id IS NOT NULL AND $4 > 0 THEN $2 END
 WHERE seq IN (SELECT seq FROM tasks WHERE state IN (",
    st!(queued),
    ", ",
    st!(submitting),
    ", ",
    st!(running),
    ") AND deadline_at <= $2
               ORDER BY deadline_at LIMIT $3)
   AND state IN (",
    st!(queued),
    ", ",
    st!(submitting),
    ", ",
    st!(running),
    ") AND deadline_at <= $2
 RETURNING id"
);

/// `$1` error_type, `$2` now, `$3` batch, `$4` max step attempts, `$5` error: a task whose
/// lease ran out once more than the step may crash fails (a poison pill: a step that kills
/// its process, such as an out-of-memory render, would otherwise do so forever).
pub(crate) const FAIL_CRASHED: &str = concat!(
    "UPDATE tasks SET state = ",
    st!(failed),
    ", error = $5,
     error_type = $1, finished_at = $2, updated_at = $2, fence = fence + 1,
     lease_owner = NULL, lease_until = NULL, next_poll_at = NULL
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

/// `$1` now, `$2` batch: submit leases that ran out go back to the queue.
pub(crate) const REQUEUE: &str = concat!(
    "UPDATE tasks SET state = ",
    st!(queued),
    ", fence = fence + 1, account = NULL,
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
