//! The reaper's sweep, in one transaction: requests past their deadline fail with `timeout`,
//! steps that kept crashing fail, expired submit leases go back to the queue, expired poll
//! leases are released, and old dedup claims are purged; each with its log line and events.

use vidgate_domain::{ErrorType, Millis};

use super::SqlStore;
use super::tasks::{insert_log, task_event};
use crate::db::{Row, sql};
use crate::{LogEntry, ReapLimits, ReapReport, Result, StoreEvent, reap_sql};

pub(super) async fn reap(store: &SqlStore, now: Millis, limits: ReapLimits) -> Result<ReapReport> {
    let batch = limits.batch.max(1);
    let mut tx = store.db.begin().await?;
    let ids = |rows: Vec<Row>| rows.iter().map(|r| r.text("id")).collect::<Result<Vec<_>>>();
    let timed_out = ids(tx
        .fetch(
            sql(reap_sql::TIME_OUT)
                .bind(ErrorType::Timeout)
                .bind(now)
                .bind(batch)
                .bind(limits.reconcile_for.max(0)),
        )
        .await?)?;
    for id in &timed_out {
        let entry = LogEntry::error(now, "deadline passed; failed with error_type timeout");
        insert_log(&mut tx, id, &entry).await?;
    }
    let crash = reap_sql::crash_message(limits.max_step_attempts);
    let crashed = ids(tx
        .fetch(
            sql(reap_sql::FAIL_CRASHED)
                .bind(ErrorType::WorkerCrashed)
                .bind(now)
                .bind(batch)
                .bind(limits.max_step_attempts.max(1))
                .bind(&crash),
        )
        .await?)?;
    for id in &crashed {
        insert_log(&mut tx, id, &LogEntry::error(now, crash.clone())).await?;
    }
    let requeued = ids(tx.fetch(sql(reap_sql::REQUEUE).bind(now).bind(batch)).await?)?;
    for id in &requeued {
        insert_log(&mut tx, id, &LogEntry::warn(now, "dispatcher lease expired before the upstream answered; back in the queue (the resubmission reuses the same upstream SessionId)")).await?;
    }
    let released = ids(tx.fetch(sql(reap_sql::RELEASE).bind(now).bind(batch)).await?)?;
    let purged = tx.execute(sql(reap_sql::PURGE_DEDUP).bind(now).bind(batch)).await?;
    if !(requeued.is_empty() && timed_out.is_empty() && crashed.is_empty()) {
        tx.emit([StoreEvent::Dispatch]);
    }
    if !(timed_out.is_empty() && crashed.is_empty()) {
        tx.emit([StoreEvent::Webhook]);
    }
    if !released.is_empty() {
        tx.emit([StoreEvent::Poll]);
    }
    tx.emit(timed_out.iter().chain(&crashed).chain(&requeued).filter_map(|id| task_event(id)));
    tx.commit().await?;
    let full = |n: usize| n as i64 >= batch;
    Ok(ReapReport {
        requeued: requeued.len() as u64,
        released: released.len() as u64,
        timed_out: timed_out.len() as u64,
        purged_claims: purged,
        crashed: crashed.len() as u64,
        more: full(timed_out.len())
            || full(crashed.len())
            || full(requeued.len())
            || full(released.len())
            || purged as i64 >= batch,
    })
}
