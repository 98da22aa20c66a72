//! The rows of new tasks, on both backends: the statements that insert a batch's tasks (one
//! per batch on PostgreSQL, with their holds, positions and wake-up; multi-row chunks on
//! SQLite), and the queue positions each create answers. `group_commit.rs` decides what a
//! batch inserts; this writes it.

use std::collections::HashMap;
use std::sync::OnceLock;

use super::budget::periods;
use super::insert::quote_json;
use super::{MultiRow, chunk_sizes, position_of_t};
use crate::db::{CHANNEL, Row, Stmt, Tx, shared_sql, sql};
use crate::states::st;
use crate::{InsertOutcome, NewTask, Result, StoreError, StoreEvent};

/// The multi-row `INSERT` of new tasks, assembled once per row count (`sql::batch`).
fn insert_texts() -> &'static MultiRow {
    static TEXTS: OnceLock<MultiRow> = OnceLock::new();
    TEXTS.get_or_init(|| {
        MultiRow::new(
            "INSERT INTO tasks (id, key_id, pool, state, rank, request, created_at, updated_at,
                                run_after, deadline_at, webhook_url, public_base, hold, quote)",
            concat!("(?, ?, ?, ", st!(queued), ", ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
            "RETURNING seq, id",
        )
    })
}

/// The queue positions of the tasks the batch inserted, on SQLite (PostgreSQL's come with
/// its inserts: `lane_positions`): every create answers its position, and reading it here
/// spares each one a read of its own after the commit. Only the first of the batch's tasks in
/// each lane (pool and rank) is counted in SQL; each later one in the lane is that position
/// plus the batch's tasks in the lane before it (exact: SQLite's one writer gives the batch
/// consecutive seqs). A failed read costs the answers their positions (the API reads them
/// after the commit), never the creates themselves. (On PostgreSQL the count is part of the
/// insert statement: if it failed, so would the insert, and the batch would store nothing.)
pub(super) async fn read_positions(
    tx: &mut Tx,
    outcomes: &mut [Option<InsertOutcome>],
) -> Result<()> {
    static TEXTS: OnceLock<MultiRow> = OnceLock::new();
    let texts = TEXTS.get_or_init(|| {
        MultiRow::new(
            concat!(
                "SELECT t.seq, ",
                position_of_t!(),
                " AS n FROM tasks t WHERE t.seq IN (SELECT column1 FROM ("
            ),
            "(CAST(? AS BIGINT))",
            ") AS v)",
        )
    });
    // Per lane, the batch's seqs in order.
    let mut lanes: HashMap<(&str, i64), Vec<i64>> = HashMap::new();
    for outcome in outcomes.iter().flatten() {
        if let InsertOutcome::Inserted { task, .. } = outcome {
            lanes.entry((task.pool.as_str(), task.rank)).or_default().push(task.seq);
        }
    }
    let heads: Vec<i64> = lanes
        .values_mut()
        .map(|seqs| {
            seqs.sort_unstable();
            seqs[0]
        })
        .collect();
    let mut heads_at: HashMap<i64, i64> = HashMap::new();
    let mut rest = heads.as_slice();
    for size in chunk_sizes(heads.len()) {
        let (chunk, after) = rest.split_at(size);
        rest = after;
        let mut stmt = shared_sql(texts.text(size));
        for seq in chunk {
            stmt = stmt.bind(*seq);
        }
        match tx.fetch(stmt).await {
            Ok(rows) => {
                for row in rows {
                    heads_at.insert(row.int("seq")?, row.int("n")?);
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "queue positions unreadable in the insert's transaction");
                return Ok(());
            }
        }
    }
    let mut positions: HashMap<i64, i64> = HashMap::new();
    for seqs in lanes.values() {
        if let Some(head) = heads_at.get(&seqs[0]) {
            for (offset, seq) in seqs.iter().enumerate() {
                positions.insert(*seq, head + offset as i64);
            }
        }
    }
    for outcome in outcomes.iter_mut().flatten() {
        if let InsertOutcome::Inserted { task, position } = outcome {
            *position = positions.get(&task.seq).copied();
        }
    }
    Ok(())
}

/// PostgreSQL's insert of any number of new tasks in one statement: one array per column,
/// `unnest`ed in order (so seqs follow arrival order). One text whatever the batch's size, so
/// a batch is one statement where the power-of-two texts would take up to seven.
///
/// The same statement adds its tasks to the queue counters (what SQLite's per-row triggers
/// do, and a trigger per statement did here until migration 0016): to one shard of each
/// counter of eight, picked by the transaction's id, so two replicas' batches share a counter
/// row one time in eight. Lock order, so that no two writers each hold a row the other waits
/// for:
/// - The counters are taken key counts, rank counts, bucket counts (`keyed`, `ranked`,
///   `counted`, each in key order, each waiting for the one before): the order the per-row
///   triggers of a state change take them in (PostgreSQL fires them by name:
///   `tasks_key_queue_counts`, then `tasks_queue_counts`). A statement changing several
///   tasks' states at once (the reaper's) interleaves its rows and cannot follow it; a
///   deadlock there is PostgreSQL's to break, and the batch's to run again
///   (`group_commit::commit_again_on_lock_conflicts`).
/// - Counter rows before balance rows: a transaction's balance upsert is its last statement
///   (`group_commit.rs`), and the one-statement batch's balance rows wait for `counted`
///   (`autocommit_batch.rs`). The one batch that takes balance rows first, the rerun with
///   them locked from its start, counts on shards of its own (`$18`: 8 to 15 instead of 0 to
///   7), which no writer holding a counter row waits on a balance row for.
///
/// The same statement writes the tasks' holds (`ledger::hold_rows!`), answers each lane's
/// queue count before it (`ahead`: the queued tasks of the lane's pool at its rank or above,
/// from the rank counters as they stood when the statement began, so without its own tasks;
/// `lane_positions` adds those) and wakes the dispatchers (`pg_notify`, delivered at the
/// commit). A batch's round trips are what costs a PostgreSQL replica its CPU (README,
/// "PostgreSQL creates"), so none of these takes one of its own; the notification rides here
/// rather than as a `StoreEvent`, whose `NOTIFY` would be a statement more. These are its
/// `WITH` items (`inserted_rows!` its answer); the one-statement batch adds its balance rows
/// to them (`sql/autocommit_batch.rs`).
macro_rules! insert_items {
    () => {
        concat!(
            "WITH u AS (
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[],
                            $6::bigint[], $7::bigint[], $8::text[], $9::text[], $10::bigint[],
                            $11::text[], $12::text[], $13::text[], $14::text[], $15::text[])
            WITH ORDINALITY AS u(id, key_id, pool, rank, request, at, deadline_at, webhook_url,
                                 public_base, hold, quote, day, month, model, specification,
                                 ord)),
     ins AS (
       INSERT INTO tasks (id, key_id, pool, state, rank, request, created_at, updated_at,
                          run_after, deadline_at, webhook_url, public_base, hold, quote)
       SELECT u.id, u.key_id, u.pool, ",
            crate::states::st!(queued),
            ", u.rank, u.request, u.at, u.at, u.at, u.deadline_at, u.webhook_url, u.public_base,
              u.hold, u.quote
       FROM u ORDER BY u.ord
       RETURNING seq, id, key_id, pool, rank),
     ",
            crate::sql::ledger::hold_rows!(),
            ",
     keyed AS (
       INSERT INTO key_queue_counts AS c (key_id, shard, n)
       SELECT ins.key_id, ($18 + txid_current() % 8)::INT, count(*) FROM ins
       WHERE (SELECT count(*) FROM held) >= 0
       GROUP BY ins.key_id ORDER BY ins.key_id
       ON CONFLICT (key_id, shard) DO UPDATE SET n = c.n + excluded.n
       RETURNING 1),
     ranked AS (
       INSERT INTO queue_rank_counts AS c (pool, rank, shard, n)
       SELECT ins.pool, ins.rank, ($18 + txid_current() % 8)::INT, count(*) FROM ins
       WHERE (SELECT count(*) FROM keyed) > 0
       GROUP BY ins.pool, ins.rank ORDER BY ins.pool, ins.rank
       ON CONFLICT (pool, rank, shard) DO UPDATE SET n = c.n + excluded.n
       RETURNING 1),
     counted AS (
       INSERT INTO queue_counts AS c (pool, rank, bucket, shard, n)
       SELECT ins.pool, ins.rank, ins.seq >> 12, ($18 + txid_current() % 8)::INT, count(*)
       FROM ins
       WHERE (SELECT count(*) FROM ranked) > 0
       GROUP BY ins.pool, ins.rank, ins.seq >> 12 ORDER BY ins.pool, ins.rank, ins.seq >> 12
       ON CONFLICT (pool, rank, bucket, shard) DO UPDATE SET n = c.n + excluded.n
       RETURNING 1),
     lanes AS (
       SELECT l.pool, l.rank,
              (SELECT coalesce(sum(r.n), 0) FROM queue_rank_counts r
                WHERE r.pool = l.pool AND r.rank >= l.rank) AS ahead
       FROM (SELECT DISTINCT pool, rank FROM ins) l),
     woken AS (SELECT pg_notify($16, $17))"
        )
    };
}
pub(super) use insert_items;

/// The rows `INSERT_UNNEST` answers: each task's seq and id and its lane's count ahead.
macro_rules! inserted_rows {
    () => {
        "SELECT ins.seq, ins.id, CAST(lanes.ahead AS BIGINT) AS ahead
     FROM ins JOIN lanes ON lanes.pool = ins.pool AND lanes.rank = ins.rank
     WHERE (SELECT count(*) FROM woken) = 1"
    };
}
pub(super) use inserted_rows;

/// Which eight shards of the queue counters an insert counts on (`insert_items!`, on lock
/// order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Shards {
    /// Every batch that takes its counter rows before its balance rows.
    Common = 0,
    /// The rerun that has locked its balance rows from its start.
    BalancesLocked = 8,
}

const INSERT_UNNEST: &str = concat!(insert_items!(), " ", inserted_rows!());

/// Inserts the tasks at `which` (each queued), in that order: on PostgreSQL in one statement
/// (`INSERT_UNNEST`), on SQLite in multi-row statements of 64, 32, … rows (`sql::batch`:
/// SQLite has no arrays, and its statements cost no round trip).
pub(super) async fn insert_plain(
    tx: &mut Tx,
    tasks: &[&NewTask],
    which: &[usize],
    shards: Shards,
    outcomes: &mut [Option<InsertOutcome>],
) -> Result<()> {
    if which.is_empty() {
        return Ok(());
    }
    if tx.is_postgres() {
        let rows = tx.fetch(unnest_stmt(INSERT_UNNEST, tasks, which, shards)?).await?;
        return answered(tasks, which, &rows, outcomes);
    }
    let mut rest = which;
    for size in chunk_sizes(which.len()) {
        let (chunk, after) = rest.split_at(size);
        rest = after;
        let mut query = shared_sql(insert_texts().text(size));
        for &i in chunk {
            let t = tasks[i];
            let request = serde_json::to_string(&t.request).map_err(StoreError::corrupt)?;
            query = query
                .bind(t.id.to_string())
                .bind(&t.key_id)
                .bind(t.pool.as_str())
                .bind(t.rank)
                .bind(request)
                .bind(t.created_at)
                .bind(t.created_at)
                .bind(t.created_at)
                .bind(t.deadline_at)
                .bind(&t.webhook_url)
                .bind(&t.public_base)
                .bind(t.quote.as_ref().map(|q| q.amount))
                .bind(quote_json(t)?);
        }
        let rows = tx.fetch(query).await?;
        record_seqs(tasks, chunk, &rows, outcomes)?;
    }
    Ok(())
}

/// `text` (`insert_items!` and what follows) with the columns of the tasks at `which` bound,
/// one array each ($1 to $17), and the first of the counters' shards it counts on ($18).
pub(super) fn unnest_stmt(
    text: &'static str,
    tasks: &[&NewTask],
    which: &[usize],
    shards: Shards,
) -> Result<Stmt<'static>> {
    let mut cols: [Vec<Option<String>>; 11] = Default::default();
    let mut ints: [Vec<Option<i64>>; 4] = Default::default();
    for &i in which {
        let t = tasks[i];
        let request = serde_json::to_string(&t.request).map_err(StoreError::corrupt)?;
        // The hold row's own period and what it names (`ledger::hold_rows!`).
        let (day, month) = periods(t.created_at);
        let quote = t.quote.as_ref();
        let texts = [
            Some(t.id.to_string()),
            Some(t.key_id.to_string()),
            Some(t.pool.as_str().to_owned()),
            Some(request),
            t.webhook_url.clone(),
            t.public_base.clone(),
            quote_json(t)?,
            Some(day),
            Some(month),
            quote.map(|q| q.model_name.clone()),
            quote.and_then(|q| q.specification.clone()),
        ];
        for (col, v) in cols.iter_mut().zip(texts) {
            col.push(v);
        }
        let numbers = [
            Some(t.rank),
            Some(t.created_at),
            Some(t.deadline_at),
            t.quote.as_ref().map(|q| q.amount.micros()),
        ];
        for (col, v) in ints.iter_mut().zip(numbers) {
            col.push(v);
        }
    }
    let [id, key, pool, request, hook, base, quote, day, month, model, specification] = cols;
    let [rank, at, deadline, hold] = ints;
    let stmt = sql(text)
        .bind(id)
        .bind(key)
        .bind(pool)
        .bind(rank)
        .bind(request)
        .bind(at)
        .bind(deadline)
        .bind(hook)
        .bind(base)
        .bind(hold)
        .bind(quote)
        .bind(day)
        .bind(month)
        .bind(model)
        .bind(specification)
        .bind(CHANNEL)
        .bind(StoreEvent::Dispatch.payload())
        .bind(shards as i64);
    Ok(stmt)
}

/// The outcomes of the tasks at `which`, from the rows of their `INSERT_UNNEST`: each
/// inserted, with its seq and queue position.
pub(super) fn answered(
    tasks: &[&NewTask],
    which: &[usize],
    rows: &[Row],
    outcomes: &mut [Option<InsertOutcome>],
) -> Result<()> {
    record_seqs(tasks, which, rows, outcomes)?;
    lane_positions(tasks, which, rows, outcomes)
}

/// The queue positions of the tasks at `which`, inserted by one `INSERT_UNNEST`, from the
/// count ahead of each lane it answered: a task has ahead of it what its lane had, the
/// statement's tasks of its pool at a higher rank, and those of its own lane before it.
/// (Another replica's tasks committed while the statement ran are not counted: a position
/// on PostgreSQL is a moment's answer anyway.)
fn lane_positions(
    tasks: &[&NewTask],
    which: &[usize],
    rows: &[Row],
    outcomes: &mut [Option<InsertOutcome>],
) -> Result<()> {
    let mut ahead: HashMap<i64, i64> = HashMap::with_capacity(rows.len());
    for row in rows {
        ahead.insert(row.int("seq")?, row.int("ahead")?);
    }
    // Arrival order is seq order within the statement.
    let mut before: HashMap<(&str, i64), i64> = HashMap::new();
    for &i in which {
        let t = tasks[i];
        let pool = t.pool.as_str();
        let higher = which
            .iter()
            .filter(|&&j| tasks[j].pool.as_str() == pool && tasks[j].rank > t.rank)
            .count() as i64;
        let mine = before.entry((pool, t.rank)).or_default();
        if let Some(InsertOutcome::Inserted { task, position }) = &mut outcomes[i] {
            *position = ahead.get(&task.seq).map(|n| n + higher + *mine);
        }
        *mine += 1;
    }
    Ok(())
}

/// Which of a batch's insert statements wrote each of its tasks (PostgreSQL: a batch with a
/// dedup create is several statements, the dedup create alone in its own).
pub(super) struct Statements {
    of: Vec<Option<usize>>,
    next: usize,
}

impl Statements {
    pub(super) fn new(tasks: usize) -> Statements {
        Statements { of: vec![None; tasks], next: 0 }
    }

    /// The tasks at `which` were inserted, by one statement (none if `which` is empty).
    pub(super) fn wrote(&mut self, which: &[usize]) {
        if which.is_empty() {
            return;
        }
        for &i in which {
            self.of[i] = Some(self.next);
        }
        self.next += 1;
    }

    /// A statement answered its tasks' positions before the batch's later statements ran,
    /// yet the tasks those insert at a higher rank of the same pool are ahead: each position
    /// gains them (what earlier statements inserted, it counted already).
    pub(super) fn count_later(&self, tasks: &[&NewTask], outcomes: &mut [Option<InsertOutcome>]) {
        if self.next < 2 {
            return;
        }
        for (i, outcome) in outcomes.iter_mut().enumerate() {
            let (Some(mine), Some(InsertOutcome::Inserted { position: Some(p), .. })) =
                (self.of[i], outcome)
            else {
                continue;
            };
            let later = self
                .of
                .iter()
                .zip(tasks)
                .filter(|(s, t)| {
                    s.is_some_and(|s| s > mine) && t.pool == tasks[i].pool && t.rank > tasks[i].rank
                })
                .count();
            *p += later as i64;
        }
    }
}

/// The outcomes of the tasks at `which`, from the `seq, id` rows their insert returned.
fn record_seqs(
    tasks: &[&NewTask],
    which: &[usize],
    rows: &[Row],
    outcomes: &mut [Option<InsertOutcome>],
) -> Result<()> {
    // RETURNING's order is not promised: match the seqs to the tasks by id.
    let mut seqs: HashMap<String, i64> = HashMap::with_capacity(rows.len());
    for row in rows {
        seqs.insert(row.text("id")?, row.int("seq")?);
    }
    for &i in which {
        let t = tasks[i];
        let seq = seqs
            .remove(&t.id.to_string())
            .ok_or_else(|| StoreError::corrupt(format!("insert of {} returned no row", t.id)))?;
        outcomes[i] = Some(InsertOutcome::Inserted { task: t.record(seq), position: None });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn each_shape_inserts_as_many_rows_as_it_says() {
        for size in crate::sql::chunk_sizes(127) {
            assert_eq!(
                super::insert_texts().text(size).matches("'queued'").count(),
                size,
                "{size}"
            );
        }
    }
}
