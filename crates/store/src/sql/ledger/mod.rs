//! Money, written in one place. A create's hold, the settlement or release that closes it, an
//! overage, a top-up or an adjustment, and the per-key balance rows (`key_balances`) that
//! budget checks read: each is a function here, called by the store inside the transaction
//! of the transition that causes it (the insert, the completion, the cancel, the reaper's
//! sweep, the end of following a job), so a hold exists exactly when its task does and is
//! closed exactly once. No trigger writes money; the SQL on `ledger` and `key_balances` is
//! this module's alone (the reads are in `reads.rs`, the balance rows in `balances.rs`; on
//! PostgreSQL a create's hold row is this module's `hold_rows!`, which runs inside the
//! statement that inserts the tasks, `task_rows.rs`, to spare a batch a round trip).
//!
//! The rules (README, "Accounting"): a hold is the most a request can cost by its parameters.
//! It is released only when the request never reached the upstream or the upstream failed
//! it; a job the upstream ran is settled at what the upstream reports, never above the hold
//! (an excess is an `overage` row the operator sees, never taken from a balance); a job whose
//! end stays unknown for the whole following window is settled at its hold. So a prepaid
//! balance, checked against the hold at create, never goes below zero.
//!
//! Amounts are micro-credits. `ledger.amount` is a row's effect on the key's balance, and
//! `ledger.spend` on what the key spent: a balance is `sum(amount)`, always.

mod balances;
mod reads;
pub(crate) use balances::{
    fits_where, hold_tail, key_spend, lock_spend, read_columns, read_spend, spend_from_row,
};
pub(crate) use reads::{books, entries, money_totals, usage};

use std::sync::OnceLock;

use vidgate_domain::pricing::{Cost, Credits};
use vidgate_domain::{KeyId, Millis, Usage};

use super::batch::{MultiRow, chunk_sizes};
use super::budget::periods;
use crate::db::{Tx, shared_sql, sql};
use crate::{NewTask, Result, StoreError};
use balances::Change;
pub(crate) use balances::Changes;

/// The hold rows of `tasks` (those with a price); the balance changes they make are
/// answered, for `apply_hold_balances` (or `apply_balances_if_they_fit`) to make in the same
/// transaction. On SQLite the rows go in as few multi-row statements as they allow; on
/// PostgreSQL each insert statement of tasks has already written its tasks' holds
/// (`hold_rows!`), so only the changes are counted here: a caller on PostgreSQL must have
/// inserted `tasks` with `hold_rows!` in this transaction (the one caller, `group_commit.rs`,
/// does, through `task_rows.rs`). Each hold row carries its own day
/// and month (reports); on the balance row they count in the period of `at`, the time the
/// batch read its balances as of, which is what it checked them against (so a batch across
/// midnight counts in the new day and month, as checked).
pub(crate) async fn hold(tx: &mut Tx, tasks: &[&NewTask], at: Millis) -> Result<Changes> {
    static TEXTS: OnceLock<MultiRow> = OnceLock::new();
    let texts = TEXTS.get_or_init(|| {
        MultiRow::new(
            "INSERT INTO ledger (at, key_id, request_id, kind, phase, amount, spend, day, month,
                                 model, specification)",
            "(?, ?, ?, 'hold', 'open', ?, ?, ?, ?, ?, ?)",
            "",
        )
    });
    let priced: Vec<(&NewTask, Credits)> =
        tasks.iter().filter_map(|t| t.quote.as_ref().map(|q| (*t, q.amount))).collect();
    let spend = hold_changes(tasks, at);
    if tx.is_postgres() {
        return Ok(spend);
    }
    let mut rest = priced.as_slice();
    for size in chunk_sizes(priced.len()) {
        let (chunk, after) = rest.split_at(size);
        rest = after;
        let mut stmt = shared_sql(texts.text(size));
        for (task, amount) in chunk {
            let (day, month) = periods(task.created_at);
            stmt = stmt
                .bind(task.created_at)
                .bind(&task.key_id)
                .bind(task.id.to_string())
                .bind(-*amount)
                .bind(*amount)
                .bind(day)
                .bind(month)
                .bind(task.quote.as_ref().map(|q| q.model_name.clone()))
                .bind(task.quote.as_ref().and_then(|q| q.specification.clone()));
        }
        tx.execute(stmt).await?;
    }
    Ok(spend)
}

/// The balance changes the holds of `tasks` make, each in the period of `at` (`hold`).
pub(crate) fn hold_changes(tasks: &[&NewTask], at: Millis) -> Changes {
    let mut spend = Changes::new();
    for task in tasks {
        if let Some(quote) = &task.quote {
            balances::add_spend(&mut spend, &task.key_id, at, quote.amount);
        }
    }
    spend
}

/// PostgreSQL's hold rows, as a `WITH` item of the statement that inserts the tasks
/// (`task_rows.rs`, `INSERT_UNNEST`): from its rows `u` (one per task: `at`, `key_id`, `id`, `hold`, `day`,
/// `month`, `model`, `specification`), a hold for each priced one, in the same statement and
/// so the same transaction as its task. The hold is the task's own `hold` column, the quote's
/// amount, as `hold` writes it on SQLite.
macro_rules! hold_rows {
    () => {
        "held AS (
           INSERT INTO ledger (at, key_id, request_id, kind, phase, amount, spend, day, month,
                               model, specification)
           SELECT u.at, u.key_id, u.id, 'hold', 'open', -u.hold, u.hold, u.day, u.month,
                  u.model, u.specification
           FROM u WHERE u.hold IS NOT NULL ORDER BY u.ord
           RETURNING 1)"
    };
}
pub(crate) use hold_rows;

/// How a request's hold closes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Close<'a> {
    /// The upstream made it: charged its cost at most up to the hold (no price: the hold).
    Settle { cost: Option<&'a Cost>, usage: Option<&'a Usage>, note: Option<&'a str> },
    /// Nothing was learnt of the job for the whole following window: charged the hold, since
    /// the upstream bills what it ran.
    SettleAtHold { note: &'a str },
    /// It never reached the upstream, or the upstream failed it: nothing charged.
    Release { note: Option<&'a str> },
}

/// What a close charged, for the caller's log line (`None`: the request held nothing, or its
/// hold was closed already).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Closed {
    pub charged: Credits,
    /// What the upstream reported beyond the hold, not charged.
    pub uncharged: Credits,
}

/// Closes the hold of `request_id`, once: a second close of the same hold changes nothing.
pub(crate) async fn close(
    tx: &mut Tx,
    request_id: &str,
    at: Millis,
    how: Close<'_>,
) -> Result<Option<Closed>> {
    let mut changes = Changes::new();
    let closed = close_deferred(tx, request_id, at, how, &mut changes).await?;
    apply_balances(tx, changes).await?;
    Ok(closed)
}

/// `close`, its balance change added to `changes` instead of made: a transaction closing
/// several keys' holds (the reaper's sweep) applies them together at its end, through
/// `apply_balances`, in key order, as a batch of creates locks them: two such transactions
/// never wait on each other's rows in opposite orders.
pub(crate) async fn close_deferred(
    tx: &mut Tx,
    request_id: &str,
    at: Millis,
    how: Close<'_>,
    changes: &mut Changes,
) -> Result<Option<Closed>> {
    let open = sql("SELECT key_id, amount, day, month, model, specification FROM ledger
                    WHERE request_id = $1 AND phase = 'open'")
    .bind(request_id);
    let Some(h) = tx.fetch_one(open).await? else { return Ok(None) };
    let (key_id, day, month) = (h.text("key_id")?, h.text("day")?, h.text("month")?);
    let held = -Credits::from_micros(h.int("amount")?);
    let (kind, charged, reported, seconds, usage, note) = match how {
        Close::Settle { cost, usage, note } => {
            // What the upstream's usage is worth at the quoted price, capped or not.
            let reported = cost.map_or(held, |c| c.amount + c.uncharged.unwrap_or_default());
            let seconds = cost.and_then(|c| c.seconds);
            let usage =
                usage.map(serde_json::to_string).transpose().map_err(StoreError::corrupt)?;
            ("settle", reported.min(held), reported, seconds, usage, note)
        }
        Close::SettleAtHold { note } => ("settle", held, held, None, None, Some(note)),
        Close::Release { note } => ("release", Credits::ZERO, Credits::ZERO, None, None, note),
    };
    let written = tx
        .execute(
            sql("INSERT INTO ledger (at, key_id, request_id, kind, phase, amount, spend, day,
                                     month, model, seconds, usage, note, specification)
                 VALUES ($1, $2, $3, $4, 'close', $5, $6, $7, $8, $9, $10, $11, $12, $13)
                 ON CONFLICT (request_id, phase) WHERE phase IS NOT NULL DO NOTHING")
            .bind(at)
            .bind(&key_id)
            .bind(request_id)
            .bind(kind)
            .bind(held - charged)
            .bind(charged - held)
            .bind(&day)
            .bind(&month)
            .bind(h.opt_text("model")?)
            .bind(seconds)
            .bind(usage)
            .bind(note)
            .bind(h.opt_text("specification")?),
        )
        .await?;
    if written == 0 {
        return Ok(None);
    }
    let uncharged = reported - charged;
    if uncharged > Credits::ZERO {
        tx.execute(
            sql("INSERT INTO ledger (at, key_id, request_id, kind, phase, amount, spend, day,
                                     month, model, uncharged, note)
                 VALUES ($1, $2, $3, 'overage', 'overage', 0, 0, $4, $5, $6, $7,
                         'the upstream reported more than the hold; the excess is not charged')
                 ON CONFLICT (request_id, phase) WHERE phase IS NOT NULL DO NOTHING")
            .bind(at)
            .bind(&key_id)
            .bind(request_id)
            .bind(&day)
            .bind(&month)
            .bind(h.opt_text("model")?)
            .bind(uncharged),
        )
        .await?;
    }
    let delta = charged - held;
    if delta != Credits::ZERO {
        let entry = changes.entry((KeyId::from(key_id), Change { day, month })).or_default();
        entry.1 = entry.1 + delta;
    }
    Ok(Some(Closed { charged, uncharged }))
}

/// Applies the balance changes `close_deferred` (or a top-up) collected.
pub(crate) async fn apply_balances(tx: &mut Tx, changes: Changes) -> Result<()> {
    if changes.is_empty() {
        return Ok(());
    }
    balances::apply(tx, changes).await
}

/// Applies the balance changes of holds (checked against rows the batch locked).
pub(crate) async fn apply_hold_balances(tx: &mut Tx, changes: Changes) -> Result<()> {
    if changes.is_empty() {
        return Ok(());
    }
    balances::apply_holds(tx, changes).await
}

/// Applies the balance changes of holds only if each key's budget, as its row stands now,
/// still covers them (`false`: some key's does not, and the transaction must not commit).
pub(crate) async fn apply_balances_if_they_fit(tx: &mut Tx, changes: Changes) -> Result<bool> {
    if changes.is_empty() {
        return Ok(true);
    }
    balances::apply_if_fits(tx, changes).await
}

/// Credits added to a key (`amount` below zero: an adjustment taking some away).
pub(crate) async fn top_up(
    tx: &mut Tx,
    key_id: &KeyId,
    amount: Credits,
    note: &str,
    at: Millis,
) -> Result<()> {
    let kind = if amount >= Credits::ZERO { "topup" } else { "adjust" };
    tx.execute(
        sql("INSERT INTO ledger (at, key_id, kind, amount, spend, note)
             VALUES ($1, $2, $3, $4, 0, $5)")
        .bind(at)
        .bind(key_id)
        .bind(kind)
        .bind(amount)
        .bind(note),
    )
    .await?;
    let change = (key_id.clone(), Change::default());
    balances::apply(tx, Changes::from([(change, (amount, Credits::ZERO))])).await
}
