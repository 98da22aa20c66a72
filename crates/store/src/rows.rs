//! Row → record mapping shared by both backends (the column types line up: TEXT and 64-bit
//! integers, and a boolean that SQLite keeps as an integer), and the column list every task
//! query selects.

use sqlx::{ColumnIndex, Database, Decode, Row, Type};

use crate::{KeyRecord, Result, StoreError, TaskRecord};

/// The columns of `tasks` in the order `task_from_row` reads them (a macro so it can be
/// spliced into `&'static str` SQL with `concat!`).
macro_rules! task_columns {
    () => {
        "seq, id, key_id, pool, state, rank, request, created_at, updated_at, run_after, \
         deadline_at, dispatched_at, submitted_at, finished_at, fence, submit_attempts, \
         lease_owner, lease_until, account, upstream_task_id, next_poll_at, progress, \
         cancel_requested, result, error, error_type"
    };
}
pub(crate) use task_columns;

/// What a backend's rows must decode for vidgate's records.
pub(crate) trait Decodes<'r>: Row
where
    &'r str: ColumnIndex<Self>,
{
    fn text(&'r self, c: &'r str) -> Result<String>;
    fn opt_text(&'r self, c: &'r str) -> Result<Option<String>>;
    fn int(&'r self, c: &'r str) -> Result<i64>;
    fn opt_int(&'r self, c: &'r str) -> Result<Option<i64>>;
    fn flag(&'r self, c: &'r str) -> Result<bool>;
}

impl<'r, R: Row> Decodes<'r> for R
where
    &'r str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    bool: Decode<'r, R::Database> + Type<R::Database>,
    R::Database: Database,
{
    fn text(&'r self, c: &'r str) -> Result<String> {
        Ok(self.try_get(c)?)
    }
    fn opt_text(&'r self, c: &'r str) -> Result<Option<String>> {
        Ok(self.try_get(c)?)
    }
    fn int(&'r self, c: &'r str) -> Result<i64> {
        Ok(self.try_get(c)?)
    }
    fn opt_int(&'r self, c: &'r str) -> Result<Option<i64>> {
        Ok(self.try_get(c)?)
    }
    fn flag(&'r self, c: &'r str) -> Result<bool> {
        Ok(self.try_get(c)?)
    }
}

pub(crate) fn task_from_row<'r, R: Decodes<'r>>(row: &'r R) -> Result<TaskRecord>
where
    &'r str: ColumnIndex<R>,
{
    let id = row.text("id")?;
    let state = row.text("state")?;
    let request = row.text("request")?;
    let result = row.opt_text("result")?;
    Ok(TaskRecord {
        seq: row.int("seq")?,
        id: id.parse().map_err(|e| StoreError::corrupt(format!("task id {id:?}: {e}")))?,
        key_id: row.text("key_id")?,
        pool: row.text("pool")?,
        state: state.parse().map_err(StoreError::corrupt)?,
        rank: row.int("rank")?,
        request: serde_json::from_str(&request)
            .map_err(|e| StoreError::corrupt(format!("task {id} request: {e}")))?,
        created_at: row.int("created_at")?,
        updated_at: row.int("updated_at")?,
        run_after: row.int("run_after")?,
        deadline_at: row.int("deadline_at")?,
        dispatched_at: row.opt_int("dispatched_at")?,
        submitted_at: row.opt_int("submitted_at")?,
        finished_at: row.opt_int("finished_at")?,
        fence: row.int("fence")?,
        submit_attempts: row.int("submit_attempts")?,
        lease_owner: row.opt_text("lease_owner")?,
        lease_until: row.opt_int("lease_until")?,
        account: row.opt_text("account")?,
        upstream_task_id: row.opt_text("upstream_task_id")?,
        next_poll_at: row.opt_int("next_poll_at")?,
        progress: row.int("progress")?,
        cancel_requested: row.flag("cancel_requested")?,
        result: result
            .map(|r| serde_json::from_str(&r))
            .transpose()
            .map_err(|e| StoreError::corrupt(format!("task {id} result: {e}")))?,
        error: row.opt_text("error")?,
        error_type: row.opt_text("error_type")?,
    })
}

pub(crate) fn key_from_row<'r, R: Decodes<'r>>(row: &'r R) -> Result<KeyRecord>
where
    &'r str: ColumnIndex<R>,
{
    Ok(KeyRecord {
        id: row.text("id")?,
        name: row.text("name")?,
        prefix: row.text("prefix")?,
        created_at: row.int("created_at")?,
        revoked_at: row.opt_int("revoked_at")?,
    })
}
