//! The reaper's sweep, in one transaction: requests past their deadline fail with `timeout`
//! (released if they never left the queue, else detached and followed), steps that kept
//! crashing fail (detached), expired submit leases go back to the queue, expired poll leases
//! are released, detached jobs whose window closed are settled at their hold, and old dedup
//! claims are purged; each with its ledger rows, webhook, log line and events.

use vidgate_domain::pricing::{Cost, CostBasis, Quote};
use vidgate_domain::{ErrorType, Millis};

use super::ledger::{self, Close};
use super::tasks::{insert_log, task_event};
use super::{SqlStore, webhooks};
use crate::db::{Row, Tx, sql};
use crate::{Charge, LogEntry, ReapLimits, ReapReport, Result, StoreError, StoreEvent, reap_sql};

/// Records on the task that it was charged its quote (no usage was reported for it).
async fn settled_at_quote(tx: &mut Tx, id: &str, quote: Option<String>) -> Result<()> {
    let Some(quote) = quote else { return Ok(()) };
    let quote: Quote = serde_json::from_str(&quote).map_err(StoreError::corrupt)?;
    let cost = Cost {
        amount: quote.amount,
        seconds: quote.seconds,
        basis: CostBasis::Estimate,
        uncharged: None,
    };
    let charge = Charge { usage: None, cost: Some(cost) };
    let charge = serde_json::to_string(&charge).map_err(StoreError::corrupt)?;
    tx.execute(
        sql("UPDATE tasks SET cost = $1, charge = $2 WHERE id = $3")
            .bind(quote.amount)
            .bind(charge)
            .bind(id),
    )
    .await?;
    Ok(())
}

pub(super) async fn reap(store: &SqlStore, now: Millis, limits: ReapLimits) -> Result<ReapReport> {
    let batch = limits.batch.max(1);
    let follow_for = limits.reconcile_for.max(0);
    let mut tx = store.db.begin().await?;
    let ids = |rows: &[Row]| rows.iter().map(|r| r.text("id")).collect::<Result<Vec<_>>>();
    let timed_out = tx
        .fetch(
            sql(reap_sql::TIME_OUT).bind(ErrorType::Timeout).bind(now).bind(batch).bind(follow_for),
        )
        .await?;
    for row in &timed_out {
        let id = row.text("id")?;
        let message = if row.opt_int("reconcile_until")?.is_some() {
            "deadline passed; failed with error_type timeout. The upstream may have its job: it is followed, and charged as the upstream charges it"
        } else {
            "deadline passed while queued; failed with error_type timeout, never dispatched"
        };
        if row.opt_int("reconcile_until")?.is_none() {
            ledger::close(
                &mut tx,
                &id,
                now,
                Close::Release { note: Some("timed out while queued") },
            )
            .await?;
        }
        webhooks::enqueue(&mut tx, &id, now).await?;
        insert_log(&mut tx, &id, &LogEntry::error(now, message)).await?;
    }
    let timed_out = ids(&timed_out)?;
    let crash = reap_sql::crash_message(limits.max_step_attempts);
    let crashed = ids(&tx
        .fetch(
            sql(reap_sql::FAIL_CRASHED)
                .bind(ErrorType::WorkerCrashed)
                .bind(now)
                .bind(batch)
                .bind(limits.max_step_attempts.max(1))
                .bind(&crash)
                .bind(follow_for),
        )
        .await?)?;
    for id in &crashed {
        webhooks::enqueue(&mut tx, id, now).await?;
        insert_log(&mut tx, id, &LogEntry::error(now, crash.clone())).await?;
    }
    let requeued = ids(&tx.fetch(sql(reap_sql::REQUEUE).bind(now).bind(batch)).await?)?;
    for id in &requeued {
        insert_log(&mut tx, id, &LogEntry::warn(now, "dispatcher lease expired before the upstream answered; back in the queue (the resubmission reuses the same upstream SessionId)")).await?;
    }
    let released = ids(&tx.fetch(sql(reap_sql::RELEASE).bind(now).bind(batch)).await?)?;
    let expired_rows = tx.fetch(sql(reap_sql::EXPIRE_FOLLOWING).bind(now).bind(batch)).await?;
    for row in &expired_rows {
        let id = row.text("id")?;
        let note = "nothing was learnt of the upstream job before its following window closed; charged its hold, as the upstream bills what it ran";
        if ledger::close(&mut tx, &id, now, Close::SettleAtHold { note }).await?.is_some() {
            settled_at_quote(&mut tx, &id, row.opt_text("quote")?).await?;
        }
        insert_log(&mut tx, &id, &LogEntry::warn(now, note)).await?;
    }
    let expired = ids(&expired_rows)?;
    let purged = tx.execute(sql(reap_sql::PURGE_DEDUP).bind(now).bind(batch)).await?;
    if !(requeued.is_empty() && timed_out.is_empty() && crashed.is_empty() && expired.is_empty()) {
        tx.emit([StoreEvent::Dispatch]);
    }
    if !(timed_out.is_empty() && crashed.is_empty()) {
        tx.emit([StoreEvent::Webhook, StoreEvent::Poll]);
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
        settled_at_hold: expired.len() as u64,
        purged_claims: purged,
        crashed: crashed.len() as u64,
        more: full(timed_out.len())
            || full(crashed.len())
            || full(requeued.len())
            || full(released.len())
            || full(expired.len())
            || purged as i64 >= batch,
    })
}
