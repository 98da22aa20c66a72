//! PostgreSQL's batch of plain creates as one autocommit statement: the batch's tasks, their
//! holds, queue counters and positions, the dispatchers' wake-up and, last, the charge to
//! each key's balance row, all in the statement that inserts the tasks, after one read of the
//! keys' balances and queue counts. Three round trips a batch (the pool's check of the
//! connection, the read, the statement) where a transaction takes six (the check, `BEGIN`,
//! that read, the insert, the balance upsert, `COMMIT`): what a batch costs whatever its size
//! is what a second replica, whose batches are smaller, pays more often (README,
//! "PostgreSQL creates").
//!
//! It takes a batch only when nothing in it needs the transaction: no dedup claim (session
//! id, idempotency key), and no queue count near its limit (that takes a lock: `insert.rs`).
//! Else the batch goes the transaction's way (`group_commit.rs`), as it does when the
//! statement finds a key's balance row moved so far that its holds no longer fit: the
//! statement then fails as a whole (`vidgate_budgets_held`, migration 0016), so nothing of it
//! is kept, and the batch runs again with the rows locked.

use std::collections::HashMap;

use vidgate_domain::KeyId;

use super::commit_metrics;
use super::group_commit::Counts;
use super::insert::near_limit;
use super::ledger::{self, Changes};
use super::task_rows::{Shards, answered, insert_items, inserted_rows, unnest_stmt};
use crate::db::{Db, Session, Stmt, sql};
use crate::{InsertOutcome, NewTask, Result, StoreError};

/// The SQLSTATE `vidgate_budgets_held` raises when a batch's holds no longer fit.
const BUDGETS_MOVED: &str = "VG001";

/// What became of a batch offered to the one statement.
pub(super) enum Autocommit {
    /// Committed (or refused whole without a write): an outcome per task, in order.
    Done(Vec<InsertOutcome>),
    /// A key's balance row moved under the batch (another replica spent the same credits):
    /// nothing was written; run it again with the rows locked.
    Moved,
    /// It needs a transaction (a dedup claim, a queue count near its limit): nothing was
    /// written.
    Transaction,
}

/// Per key named: its spend (`ledger::read_columns!`; its `key_id` is null when no such key
/// exists, which has no budget), and `$columns`. One read whatever the number of keys.
macro_rules! read_spend {
    ($columns:expr) => {
        concat!(
            "SELECT n.name, ",
            ledger::read_columns!(),
            $columns,
            " FROM unnest($1::text[]) AS n(name)
              LEFT JOIN api_keys k ON k.id = n.name LEFT JOIN key_balances b ON b.key_id = n.name"
        )
    };
}

/// `read_spend!`, for a batch without queue limits.
const READ: &str = read_spend!("");

/// `read_spend!` with each key's queued tasks and the whole queue's, for a batch with a
/// queue limit. (A text of its own rather than a parameter saying whether to count: a
/// parameter that decides the plan makes PostgreSQL plan every call anew, which costs more
/// than the read; `bench/pg-creates.sh` shows each statement's plans beside its calls.)
const READ_COUNTED: &str = read_spend!(
    ",
     (SELECT CAST(coalesce(sum(q.n), 0) AS BIGINT) FROM key_queue_counts q
       WHERE q.key_id = n.name) AS queued,
     (SELECT CAST(coalesce(sum(r.n), 0) AS BIGINT) FROM queue_rank_counts r) AS all_queued"
);

/// The tasks (`task_rows::insert_items!`, $1 to $18), then their holds on the keys' balance
/// rows ($19 to $22, one row per key in key order, the order rows are locked in), each only
/// where the key's budget still covers them as the row stands (`ledger::fits_where!`); if
/// fewer than all $23 rows were changed, `vidgate_budgets_held` fails the statement. The
/// balance rows come last, after the tasks, their holds and their queue counters (`held`,
/// `keyed`, `ranked`, `counted`, `bal`, `held_budgets`: each waits for the one before it
/// through a subquery on it, and the counters read `ins`; the positions (`lanes`, counted as
/// the statement began) and the `NOTIFY` (delivered at the commit) need no place in that
/// order): so another replica's batch for the same keys waits only for the end of this
/// statement, and counter rows are taken before balance rows, as every batch takes them
/// (`task_rows.rs`).
const CHARGED: &str = concat!(
    insert_items!(),
    ",
     bal AS (
       INSERT INTO key_balances AS b (key_id, topups, spent, day, day_spent, month, month_spent)
       SELECT c.key_id, 0, c.spent, c.day, c.spent, c.month, c.spent
       FROM unnest($19::text[], $20::bigint[], $21::text[], $22::text[])
            WITH ORDINALITY AS c(key_id, spent, day, month, ord)
       WHERE (SELECT count(*) FROM counted) > 0
       ORDER BY c.ord ",
    ledger::hold_tail!(),
    " ",
    ledger::fits_where!(),
    " RETURNING b.key_id),
     held_budgets AS (SELECT vidgate_budgets_held(count(*), $23) AS ok FROM bal) ",
    inserted_rows!(),
    " AND (SELECT ok FROM held_budgets)"
);

/// Runs `tasks` as one statement if none of them needs a transaction.
pub(super) async fn commit(db: &Db, tasks: &[&NewTask]) -> Result<Autocommit> {
    if tasks.iter().any(|t| t.session.is_some() || t.idempotency.is_some()) {
        return Ok(Autocommit::Transaction);
    }
    let mut phases = commit_metrics::Phases::start();
    let Some(mut session) = db.session().await? else {
        return Ok(Autocommit::Transaction);
    };
    phases.end("connection");
    let Some(mut counts) = read_counts(&mut session, tasks).await? else {
        return Ok(Autocommit::Transaction);
    };
    phases.end("read");
    let mut outcomes: Vec<Option<InsertOutcome>> = vec![None; tasks.len()];
    let mut pending: Vec<usize> = Vec::new();
    for (i, task) in tasks.iter().enumerate() {
        match counts.admit(task) {
            Some(refused) => outcomes[i] = Some(refused),
            None => pending.push(i),
        }
    }
    if !pending.is_empty() {
        let inserted: Vec<&NewTask> = pending.iter().map(|&i| tasks[i]).collect();
        let changes = ledger::hold_changes(&inserted, counts.at);
        let stmt = bind_changes(unnest_stmt(CHARGED, tasks, &pending, Shards::Common)?, changes)?;
        let rows = match session.fetch(stmt).await {
            Ok(rows) => rows,
            // Nothing was written, and nothing says the batch cannot commit: the
            // transaction's way, rather than each create alone (`group_commit::run`).
            Err(e) if e.is_lock_conflict() => return Ok(Autocommit::Transaction),
            Err(StoreError::Database(sqlx::Error::Database(e)))
                if e.code().as_deref() == Some(BUDGETS_MOVED) =>
            {
                return Ok(Autocommit::Moved);
            }
            Err(e) => return Err(e),
        };
        phases.end("statement");
        // Committed: from here an error must not send the creates again (each would find its
        // id taken), so it is the kind that answers the whole batch as it is (unavailable).
        if let Err(e) = answered(tasks, &pending, &rows, &mut outcomes) {
            tracing::error!(error = %e, "a committed batch's answer was unreadable");
            let why = format!("a committed batch's answer was unreadable: {e}");
            return Err(StoreError::Database(sqlx::Error::Protocol(why)));
        }
    }
    // `answered` gave every inserted task its outcome, and `admit` every other one.
    let outcomes = outcomes
        .into_iter()
        .map(|o| o.ok_or_else(|| StoreError::corrupt("a one-statement batch lost a task")))
        .collect::<Result<Vec<_>>>()?;
    phases.record();
    Ok(Autocommit::Done(outcomes))
}

/// The batch's checks' starting point in one read (`READ`); `None` when a limit is near (its
/// count must be taken under its lock).
async fn read_counts(session: &mut Session, tasks: &[&NewTask]) -> Result<Option<Counts>> {
    let mut keys: Vec<&KeyId> = tasks.iter().map(|t| &t.key_id).collect();
    keys.sort();
    keys.dedup();
    let per_key = tasks.iter().any(|t| t.limits.per_key.is_some());
    let total = tasks.iter().any(|t| t.limits.total.is_some());
    let at = tasks.iter().map(|t| t.created_at).max().unwrap_or_default();
    let names: Vec<Option<String>> = keys.iter().map(|k| Some(k.to_string())).collect();
    let text = if per_key || total { READ_COUNTED } else { READ };
    let rows = session.fetch(sql(text).bind(names)).await?;
    let mut counts = Counts { at, ..Counts::default() };
    let mut queued: HashMap<KeyId, i64> = HashMap::with_capacity(rows.len());
    for row in &rows {
        let key = KeyId::from(row.text("name")?);
        if row.opt_text("key_id")?.is_some() {
            let spend = ledger::spend_from_row(row, at)?;
            if spend.budget.is_limited() {
                counts.spend.insert(key.clone(), spend);
            }
        }
        if per_key {
            queued.insert(key, row.int("queued")?);
        }
        if total {
            counts.total = Some(row.int("all_queued")?);
        }
    }
    for task in tasks {
        if let Some(limit) = task.limits.per_key {
            let Some(&n) = queued.get(&task.key_id) else { return Ok(None) };
            if near_limit(n, limit) {
                return Ok(None);
            }
            counts.per_key.insert(task.key_id.clone(), n);
        }
        if let Some(limit) = task.limits.total {
            match counts.total {
                Some(n) if !near_limit(n, limit) => {}
                _ => return Ok(None),
            }
        }
    }
    Ok(Some(counts))
}

/// `stmt` with the batch's holds on the balance rows bound ($19 to $23): one row per key, in
/// key order. A batch's holds all count in the period of its latest create (`Counts::at`),
/// so a key has one row; a second would be a statement changing one row twice, which
/// PostgreSQL refuses (a fault, reported as such).
fn bind_changes(stmt: Stmt<'static>, changes: Changes) -> Result<Stmt<'static>> {
    let mut texts: [Vec<Option<String>>; 3] = Default::default();
    let mut spent: Vec<Option<i64>> = Vec::with_capacity(changes.len());
    let mut last: Option<KeyId> = None;
    for ((key, change), (topups, spend)) in changes {
        if last.as_ref() == Some(&key) || topups.micros() != 0 {
            return Err(StoreError::corrupt("a batch's holds on one key in two periods"));
        }
        let row = [Some(key.to_string()), Some(change.day), Some(change.month)];
        for (col, v) in texts.iter_mut().zip(row) {
            col.push(v);
        }
        spent.push(Some(spend.micros()));
        last = Some(key);
    }
    let sent = spent.len() as i64;
    let [keys, days, months] = texts;
    Ok(stmt.bind(keys).bind(spent).bind(days).bind(months).bind(sent))
}
