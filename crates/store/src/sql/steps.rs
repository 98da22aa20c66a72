//! What every task transition does besides its own statement: write its log line, emit its
//! change events, and commit only if its fenced update took. Shared by the task operations,
//! the reaper and the follower, which use nothing else of one another.

use crate::db::{Tx, sql};
use crate::{LogEntry, Result, StoreEvent};

pub(crate) async fn insert_log(tx: &mut Tx, id: &str, log: &LogEntry) -> Result<()> {
    tx.execute(
        sql("INSERT INTO task_logs (task_id, at, level, message) VALUES ($1, $2, $3, $4)")
            .bind(id)
            .bind(log.at)
            .bind(log.level.as_str())
            .bind(&log.message),
    )
    .await?;
    Ok(())
}

/// The change event of the task with this id.
pub(crate) fn task_event(id: &str) -> Option<StoreEvent> {
    id.parse().ok().map(StoreEvent::Task)
}

/// Commits a fenced single-row update (with its log line and events) only if it took; a stale
/// lease matches no row and changes nothing.
pub(crate) async fn commit_if_one(
    mut tx: Tx,
    rows_affected: u64,
    id: &str,
    log: Option<&LogEntry>,
    events: &[StoreEvent],
) -> Result<bool> {
    if rows_affected != 1 {
        tx.rollback().await?;
        return Ok(false);
    }
    if let Some(log) = log {
        insert_log(&mut tx, id, log).await?;
    }
    tx.emit(events.iter().copied().chain(task_event(id)));
    tx.commit().await?;
    Ok(true)
}
