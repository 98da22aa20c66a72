//! The reaper's sweep, in one transaction: requests past their deadline fail with `timeout`
//! (released if they never left the queue, else detached and followed), steps that kept
//! crashing fail (detached), expired submit leases go back to the queue, expired poll leases
//! are released, detached jobs whose window closed are settled at their hold, and old dedup
//! claims are purged; each with its ledger rows, webhook, log line and events.

use vidgate_domain::pricing::{Cost, CostBasis, Quote};
use vidgate_domain::{ErrorType, Millis};

use super::ledger::{self, Close};
use super::steps::{insert_log, task_event};
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

fn ids(rows: &[Row]) -> Result<Vec<String>> {
    rows.iter().map(|r| r.text("id")).collect()
}

/// Requests past their deadline fail with `timeout`: one that never left the queue is
/// released; one the upstream may have stays held and followed. Their ids.
async fn time_out(
    tx: &mut Tx,
    now: Millis,
    limits: ReapLimits,
    balances: &mut ledger::Changes,
) -> Result<Vec<String>> {
    let stmt = sql(reap_sql::TIME_OUT)
        .bind(ErrorType::Timeout)
        .bind(now)
        .bind(limits.batch.max(1))
        .bind(limits.reconcile_for.max(0));
    let rows = tx.fetch(stmt).await?;
    for row in &rows {
        let id = row.text("id")?;
        let followed = row.opt_int("reconcile_until")?.is_some();
        let message = if followed {
            "deadline passed; failed with error_type timeout. The upstream may have its job: it is followed, and charged as the upstream charges it"
        } else {
            let note = Some("timed out while queued");
            ledger::close_deferred(tx, &id, now, Close::Release { note }, balances).await?;
            "deadline passed while queued; failed with error_type timeout, never dispatched"
        };
        webhooks::enqueue(tx, &id, now).await?;
        insert_log(tx, &id, &LogEntry::error(now, message)).await?;
    }
    ids(&rows)
}

/// Requests whose step kept crashing fail for their owner, their jobs followed. Their ids.
async fn fail_crashed(tx: &mut Tx, now: Millis, limits: ReapLimits) -> Result<Vec<String>> {
    let crash = reap_sql::crash_message(limits.max_step_attempts);
    let stmt = sql(reap_sql::FAIL_CRASHED)
        .bind(ErrorType::WorkerCrashed)
        .bind(now)
        .bind(limits.batch.max(1))
        .bind(limits.max_step_attempts.max(1))
        .bind(&crash)
        .bind(limits.reconcile_for.max(0));
    let crashed = ids(&tx.fetch(stmt).await?)?;
    for id in &crashed {
        webhooks::enqueue(tx, id, now).await?;
        insert_log(tx, id, &LogEntry::error(now, crash.clone())).await?;
    }
    Ok(crashed)
}

/// Followed jobs whose window closed with their end unknown are settled at their hold.
async fn settle_expired(
    tx: &mut Tx,
    now: Millis,
    batch: i64,
    balances: &mut ledger::Changes,
) -> Result<Vec<String>> {
    let rows = tx.fetch(sql(reap_sql::EXPIRE_FOLLOWING).bind(now).bind(batch)).await?;
    for row in &rows {
        let id = row.text("id")?;
        let note = "nothing was learnt of the upstream job before its following window closed; charged its hold, as the upstream bills what it ran";
        let how = Close::SettleAtHold { note };
        if ledger::close_deferred(tx, &id, now, how, balances).await?.is_some() {
            settled_at_quote(tx, &id, row.opt_text("quote")?).await?;
        }
        insert_log(tx, &id, &LogEntry::warn(now, note)).await?;
    }
    ids(&rows)
}

pub(super) async fn reap(store: &SqlStore, now: Millis, limits: ReapLimits) -> Result<ReapReport> {
    let batch = limits.batch.max(1);
    let mut tx = store.db.begin().await?;
    // The sweep's balance changes, applied together at its end (`ledger::close_deferred`).
    let mut balances = ledger::Changes::new();
    let timed_out = time_out(&mut tx, now, limits, &mut balances).await?;
    let crashed = fail_crashed(&mut tx, now, limits).await?;
    let requeued = ids(&tx.fetch(sql(reap_sql::REQUEUE).bind(now).bind(batch)).await?)?;
    for id in &requeued {
        insert_log(&mut tx, id, &LogEntry::warn(now, "dispatcher lease expired before the upstream answered; back in the queue (the resubmission reuses the same upstream SessionId)")).await?;
    }
    let released = ids(&tx.fetch(sql(reap_sql::RELEASE).bind(now).bind(batch)).await?)?;
    let expired = settle_expired(&mut tx, now, batch, &mut balances).await?;
    ledger::apply_balances(&mut tx, balances).await?;
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
        more: [&timed_out, &crashed, &requeued, &released, &expired].iter().any(|v| full(v.len()))
            || purged as i64 >= batch,
    })
}
