//! Inserting new tasks, with group commit, on both backends. A durable insert costs one
//! fsync (SQLite's, or PostgreSQL's WAL flush at commit), and a disk does a few hundred to a
//! thousand of those a second; so a process's concurrent creates queue for one committer,
//! which runs everything waiting in one transaction and answers each caller only after that
//! commit: every 200 is still durable, and one commit covers the whole batch. Alone, a create
//! is a batch of one (no added wait).
//!
//! Within a batch, plain creates become multi-row `INSERT`s; a create with a dedup claim
//! (session id, idempotency key) runs on its own under a savepoint, so its conflict rolls
//! back only itself. Arrival order is kept. Queue limits and budgets are checked here too,
//! and the batch's holds and queue positions are written and read in the same transaction.
//!
//! Across PostgreSQL replicas, each limit still holds exactly. Budgets: a batch reads its
//! keys' balance rows without a lock and checks its creates against them; its last statement
//! before the commit adds its holds to those rows only where each key's budget still covers
//! them as the row then stands (`ledger::apply_balances_if_they_fit`: one upsert, rows locked
//! in key order). Another replica's batch for the same keys waits only for that statement and
//! the commit, not for this batch's inserts; if a row moved so far that the batch no longer
//! fits (another replica spent the same credits meanwhile), the batch rolls back and runs
//! again with the rows locked from its start (`Budgets::Locked`, as on SQLite, whose one
//! writer makes that lock free). Queue counts near a limit are taken under an advisory lock
//! (`insert::queued`).

use crate::states::st;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use tokio::sync::{mpsc, oneshot};
use vidgate_domain::KeyId;

use super::budget::{Spend, periods};
use super::insert::{TOTAL_QUEUE_LOCK, claim_dedups, key_queue_lock, queued, quote_json};
use super::{ALL_QUEUED, KEY_QUEUED, MultiRow, chunk_sizes, ledger, position_of_t};
use crate::db::{CHANNEL, Db, Row, Tx, shared_sql, sql};
use crate::{InsertOutcome, LimitScope, NewTask, Result, StoreError, StoreEvent};

/// Most creates committed together; more wait for the next commit.
const MAX_BATCH: usize = 256;

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

struct Job {
    task: NewTask,
    reply: oneshot::Sender<Result<InsertOutcome>>,
}

/// The handle creates go through; cloning it shares the one committer.
#[derive(Debug, Clone)]
pub(crate) struct Committer {
    jobs: mpsc::Sender<Job>,
    /// Optimistic batches that found their budgets moved and ran again locked.
    reruns: Arc<AtomicU64>,
}

impl Committer {
    /// Starts the committer task on the current runtime. It ends when every handle is gone.
    pub(crate) fn start(db: Db) -> Committer {
        let (jobs, rx) = mpsc::channel(4 * MAX_BATCH);
        let reruns = Arc::new(AtomicU64::new(0));
        tokio::spawn(run(db, rx, reruns.clone()));
        Committer { jobs, reruns }
    }

    /// How many batches ran a second time with their budget rows locked.
    pub(crate) fn reruns(&self) -> u64 {
        self.reruns.load(Ordering::Relaxed)
    }
}

impl Committer {
    /// Inserts `task` with whatever else is waiting, answering after the commit.
    pub(crate) async fn insert(&self, task: NewTask) -> Result<InsertOutcome> {
        let closed = || StoreError::Database(sqlx::Error::PoolClosed);
        let (reply, answer) = oneshot::channel();
        self.jobs.send(Job { task, reply }).await.map_err(|_| closed())?;
        answer.await.map_err(|_| closed())?
    }
}

async fn run(db: Db, mut jobs: mpsc::Receiver<Job>, reruns: Arc<AtomicU64>) {
    while let Some(first) = jobs.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let tasks: Vec<&NewTask> = batch.iter().map(|j| &j.task).collect();
        match commit_checked(&db, &tasks, &reruns).await {
            Ok(outcomes) => {
                for (job, outcome) in batch.into_iter().zip(outcomes) {
                    let _ = job.reply.send(Ok(outcome));
                }
            }
            // The database is down or the connection broke (its commit may even have gone
            // through): every create of the batch is answered so, as one alone would be.
            // Running them again one by one would then find their ids taken and answer errors
            // for requests that are stored.
            Err(e) if batch.len() > 1 && e.is_unavailable() => {
                tracing::warn!(error = %e, size = batch.len(), "a grouped commit failed: the database is unavailable");
                let why = e.to_string();
                for job in batch {
                    let unavailable = std::io::Error::other(why.clone());
                    let _ = job.reply.send(Err(StoreError::Database(sqlx::Error::Io(unavailable))));
                }
            }
            // The whole batch rolled back; one create's failure must not be the others', so
            // each goes again alone (and gets its own answer).
            Err(e) if batch.len() > 1 => {
                tracing::warn!(error = %e, size = batch.len(), "a grouped commit failed; retrying its creates one by one");
                for job in batch {
                    let outcome =
                        commit_checked(&db, &[&job.task], &reruns).await.map(|mut o| o.remove(0));
                    let _ = job.reply.send(outcome);
                }
            }
            Err(e) => {
                if let Some(job) = batch.pop() {
                    let _ = job.reply.send(Err(e));
                }
            }
        }
    }
}

/// How a batch reads its keys' balance rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Budgets {
    /// Read without a lock at the start, checked again under the rows' locks just before the
    /// commit (PostgreSQL's first try).
    Optimistic,
    /// Locked from the start (SQLite, where that costs nothing; PostgreSQL's second try).
    Locked,
}

/// The batch's creates, each under the budget rows as they are at its commit: optimistic
/// first on PostgreSQL, and again with the rows locked if that found them moved.
async fn commit_checked(
    db: &Db,
    tasks: &[&NewTask],
    reruns: &AtomicU64,
) -> Result<Vec<InsertOutcome>> {
    if db.is_postgres() {
        if let Some(outcomes) = commit(db, tasks, Budgets::Optimistic).await? {
            return Ok(outcomes);
        }
        reruns.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(
            size = tasks.len(),
            "a batch's budgets moved before its commit; running it again locked"
        );
    }
    commit(db, tasks, Budgets::Locked)
        .await?
        .ok_or_else(|| StoreError::corrupt("a batch with its budget rows locked found them moved"))
}

/// Queue counts and key spend as of the batch's start plus what the batch added so far.
#[derive(Default)]
struct Counts {
    per_key: HashMap<KeyId, i64>,
    total: Option<i64>,
    /// The spend of the batch's keys that have a budget, as read at its start.
    spend: HashMap<KeyId, Spend>,
    /// The time the spend was read as of (the batch's latest create): the day and month its
    /// holds count in on the balance rows.
    at: vidgate_domain::Millis,
}

impl Counts {
    /// Everything the batch's checks start from, read before any create runs (and so before
    /// any savepoint, whose rollback would release a lock taken under it): the balance rows
    /// of the batch's keys (locked only in `Budgets::Locked`), and the queue counts its
    /// limits need (near a limit, under that limit's lock: see `insert::queued`).
    async fn start(tx: &mut Tx, tasks: &[&NewTask], budgets: Budgets) -> Result<Counts> {
        // Every key, priced or not: a key with a budget refuses what has no price.
        let keys: Vec<&KeyId> = tasks.iter().map(|t| &t.key_id).collect();
        let at = tasks.iter().map(|t| t.created_at).max().unwrap_or_default();
        let lock = budgets == Budgets::Locked;
        let mut spend = ledger::read_spend(tx, &keys, at, lock).await?;
        spend.retain(|_, s| s.budget.is_limited());
        let mut counts = Counts { spend, at, ..Counts::default() };
        for task in tasks {
            if let Some(limit) = task.limits.per_key
                && !counts.per_key.contains_key(&task.key_id)
            {
                let lock = key_queue_lock(&task.key_id);
                let n = queued(tx, KEY_QUEUED, Some(&task.key_id), &lock, limit).await?;
                counts.per_key.insert(task.key_id.clone(), n);
            }
            if let Some(limit) = task.limits.total
                && counts.total.is_none()
            {
                counts.total = Some(queued(tx, ALL_QUEUED, None, TOTAL_QUEUE_LOCK, limit).await?);
            }
        }
        Ok(counts)
    }

    /// Which limit this task would break, if any; otherwise counts it.
    fn admit(&mut self, task: &NewTask) -> Option<InsertOutcome> {
        if let Some(limit) = task.limits.per_key
            && self.per_key.get(&task.key_id).is_some_and(|n| *n >= limit)
        {
            return Some(InsertOutcome::QueueFull { scope: LimitScope::Key, limit });
        }
        if let Some(limit) = task.limits.total
            && self.total.is_some_and(|n| n >= limit)
        {
            return Some(InsertOutcome::QueueFull { scope: LimitScope::Total, limit });
        }
        let needed = task.quote.as_ref().map(|q| q.amount);
        if let Some(spend) = self.spend.get_mut(&task.key_id) {
            if let Some(refusal) = spend.refusal(needed) {
                return Some(InsertOutcome::BudgetExceeded(refusal));
            }
            spend.add(needed.unwrap_or_default());
        }
        if let Some(n) = self.per_key.get_mut(&task.key_id) {
            *n += 1;
        }
        if let Some(n) = self.total.as_mut() {
            *n += 1;
        }
        None
    }
}

/// One transaction for `tasks`: an outcome per task, in order; `None` (rolled back) when an
/// optimistic batch found its budgets moved.
async fn commit(
    db: &Db,
    tasks: &[&NewTask],
    budgets: Budgets,
) -> Result<Option<Vec<InsertOutcome>>> {
    let mut tx = db.begin().await?;
    let mut outcomes: Vec<Option<InsertOutcome>> = vec![None; tasks.len()];
    let mut counts = Counts::start(&mut tx, tasks, budgets).await?;
    let mut pending: Vec<usize> = Vec::new();
    for (i, task) in tasks.iter().enumerate() {
        if task.session.is_none() && task.idempotency.is_none() {
            if let Some(full) = counts.admit(task) {
                outcomes[i] = Some(full);
            } else {
                pending.push(i);
            }
            continue;
        }
        // Keep arrival order: what came before goes in first.
        insert_plain(&mut tx, tasks, &std::mem::take(&mut pending), &mut outcomes).await?;
        tx.run("SAVEPOINT create_one").await?;
        let outcome = match claim_dedups(&mut tx, task).await? {
            Some(refused) => Some(refused),
            None => counts.admit(task),
        };
        match outcome {
            Some(refused) => {
                tx.run("ROLLBACK TO create_one").await?;
                outcomes[i] = Some(refused);
            }
            None => {
                insert_plain(&mut tx, tasks, &[i], &mut outcomes).await?;
            }
        }
        tx.run("RELEASE create_one").await?;
    }
    insert_plain(&mut tx, tasks, &pending, &mut outcomes).await?;
    // The batch's holds, in a few multi-row statements (its budget checks above counted them).
    let inserted: Vec<&NewTask> = tasks
        .iter()
        .zip(&outcomes)
        .filter(|(_, o)| matches!(o, Some(InsertOutcome::Inserted { .. })))
        .map(|(t, _)| *t)
        .collect();
    let holds = ledger::hold(&mut tx, &inserted, counts.at).await?;
    // On PostgreSQL each insert statement answered its positions and woke the dispatchers
    // (`INSERT_UNNEST`); SQLite's statements cost no round trip, so they are their own.
    // No task event: nobody can be following a request that did not exist (a status, stream
    // or cache entry begins with a read of the committed row), and on PostgreSQL each event
    // is a notification every replica receives.
    if !tx.is_postgres() {
        read_positions(&mut tx, &mut outcomes).await?;
        if !inserted.is_empty() {
            tx.emit([StoreEvent::Dispatch]);
        }
    }
    // The batch's keys' balance rows last: from here to the commit another replica's batch
    // for the same keys waits, so nothing else is left to do in between.
    match budgets {
        Budgets::Locked => ledger::apply_hold_balances(&mut tx, holds).await?,
        Budgets::Optimistic => {
            if !ledger::apply_balances_if_they_fit(&mut tx, holds).await? {
                tx.rollback().await?;
                return Ok(None);
            }
        }
    }
    tx.commit().await?;
    let outcomes = outcomes
        .into_iter()
        .map(|o| o.ok_or_else(|| StoreError::corrupt("a grouped insert lost a task")))
        .collect::<Result<Vec<_>>>()?;
    Ok(Some(outcomes))
}

/// The queue positions of the tasks the batch inserted, on SQLite (PostgreSQL's come with
/// its inserts: `lane_positions`): every create answers its position, and reading it here
/// spares each one a read of its own after the commit. Only the first of the batch's tasks in
/// each lane (pool and rank) is counted in SQL; each later one in the lane is that position
/// plus the batch's tasks in the lane before it (exact: SQLite's one writer gives the batch
/// consecutive seqs). A failed read costs the answers their positions (the API reads them
/// after the commit), never the creates themselves.
async fn read_positions(tx: &mut Tx, outcomes: &mut [Option<InsertOutcome>]) -> Result<()> {
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
/// a batch is one statement (and one run of the statement-level counter trigger) where the
/// power-of-two texts would take up to seven.
///
/// The same statement writes the tasks' holds (`ledger::hold_rows!`), answers each lane's
/// queue count before it (`ahead`: the queued tasks of the lane's pool at its rank or above,
/// from the rank counters as they stood when the statement began, so without its own tasks;
/// `lane_positions` adds those) and wakes the dispatchers (`pg_notify`, delivered at the
/// commit). A batch's round trips are what costs a PostgreSQL replica its CPU (README,
/// "PostgreSQL creates"), so none of these takes one of its own; the notification rides here
/// rather than as a `StoreEvent`, whose `NOTIFY` would be a statement more.
const INSERT_UNNEST: &str = concat!(
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
    st!(queued),
    ", u.rank, u.request, u.at, u.at, u.at, u.deadline_at, u.webhook_url, u.public_base,
              u.hold, u.quote
       FROM u ORDER BY u.ord
       RETURNING seq, id, pool, rank),
     ",
    ledger::hold_rows!(),
    ",
     lanes AS (
       SELECT l.pool, l.rank,
              (SELECT coalesce(sum(r.n), 0) FROM queue_rank_counts r
                WHERE r.pool = l.pool AND r.rank >= l.rank) AS ahead
       FROM (SELECT DISTINCT pool, rank FROM ins) l),
     woken AS (SELECT pg_notify($16, $17))
     SELECT ins.seq, ins.id, CAST(lanes.ahead AS BIGINT) AS ahead
     FROM ins JOIN lanes ON lanes.pool = ins.pool AND lanes.rank = ins.rank
     WHERE (SELECT count(*) FROM woken) = 1"
);

/// Inserts the tasks at `which` (each queued), in that order: on PostgreSQL in one statement
/// (`INSERT_UNNEST`), on SQLite in multi-row statements of 64, 32, … rows (`sql::batch`:
/// SQLite has no arrays, and its statements cost no round trip).
async fn insert_plain(
    tx: &mut Tx,
    tasks: &[&NewTask],
    which: &[usize],
    outcomes: &mut [Option<InsertOutcome>],
) -> Result<()> {
    if which.is_empty() {
        return Ok(());
    }
    if tx.is_postgres() {
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
        let stmt = sql(INSERT_UNNEST)
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
            .bind(StoreEvent::Dispatch.payload());
        let rows = tx.fetch(stmt).await?;
        record_seqs(tasks, which, &rows, outcomes)?;
        return lane_positions(tasks, which, &rows, outcomes);
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
