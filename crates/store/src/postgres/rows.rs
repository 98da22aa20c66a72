//! Row → record mapping for PostgreSQL, and the column list every task query selects.

use sqlx::Row;
use sqlx::postgres::PgRow;

use crate::{Result, StoreError, TaskRecord};

/// The columns of `tasks`, spliced into `&'static str` SQL with `concat!`.
macro_rules! task_columns {
    () => {
        "seq, id, key_id, pool, state, rank, request, created_at, updated_at, run_after, \
         deadline_at, dispatched_at, submitted_at, finished_at, fence, submit_attempts, \
         lease_owner, lease_until, account, upstream_task_id, next_poll_at, progress, \
         cancel_requested, result, error, error_type"
    };
}
pub(crate) use task_columns;

pub(crate) fn task_from_row(row: &PgRow) -> Result<TaskRecord> {
    let id: String = row.try_get("id")?;
    let state: String = row.try_get("state")?;
    let request: String = row.try_get("request")?;
    let result: Option<String> = row.try_get("result")?;
    Ok(TaskRecord {
        seq: row.try_get("seq")?,
        id: id.parse().map_err(|e| StoreError::corrupt(format!("task id {id:?}: {e}")))?,
        key_id: row.try_get("key_id")?,
        pool: row.try_get("pool")?,
        state: state.parse().map_err(StoreError::corrupt)?,
        rank: row.try_get("rank")?,
        request: serde_json::from_str(&request)
            .map_err(|e| StoreError::corrupt(format!("task {id} request: {e}")))?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        run_after: row.try_get("run_after")?,
        deadline_at: row.try_get("deadline_at")?,
        dispatched_at: row.try_get("dispatched_at")?,
        submitted_at: row.try_get("submitted_at")?,
        finished_at: row.try_get("finished_at")?,
        fence: row.try_get("fence")?,
        submit_attempts: row.try_get("submit_attempts")?,
        lease_owner: row.try_get("lease_owner")?,
        lease_until: row.try_get("lease_until")?,
        account: row.try_get("account")?,
        upstream_task_id: row.try_get("upstream_task_id")?,
        next_poll_at: row.try_get("next_poll_at")?,
        progress: row.try_get("progress")?,
        cancel_requested: row.try_get("cancel_requested")?,
        result: result
            .map(|r| serde_json::from_str(&r))
            .transpose()
            .map_err(|e| StoreError::corrupt(format!("task {id} result: {e}")))?,
        error: row.try_get("error")?,
        error_type: row.try_get("error_type")?,
    })
}
