//! Inserting new tasks, with group commit, on both backends. A durable insert costs one
//! fsync (SQLite's, or PostgreSQL's WAL flush at commit), and a disk does a few hundred to a
//! thousand of those a second; so a process's concurrent creates queue for one committer,
//! which runs everything waiting in one transaction and answers each caller only after that
//! commit: every 200 is still durable, and one commit covers the whole batch. Alone, a create
//! is a batch of one (no added wait). Under load, on PostgreSQL, a batch waits a little for
//! creates still arriving (`linger.rs`, `store.create_linger`).
//!
//! Within a batch, plain creates go in together (`task_rows.rs`: one statement on
//! PostgreSQL, multi-row chunks on SQLite); a create with a dedup claim
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
//! (`insert::queued`), before any balance row (`Counts::start`: the lock order). A
//! transaction PostgreSQL fails to break a deadlock runs again.
//!
//! On PostgreSQL a batch that needs none of that transaction (no dedup claim, no queue count
//! near its limit) is one autocommit statement instead, after one read: the same checks, three
//! round trips (with the pool's check of the connection) where the transaction takes six
//! (`autocommit_batch.rs`).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use vidgate_domain::KeyId;

use super::autocommit_batch::{self, Autocommit};
use super::budget::Spend;
use super::commit_metrics::{self, Way};
use super::insert::{TOTAL_QUEUE_LOCK, claim_dedups, key_queue_lock, queued};
use super::linger;
use super::task_rows::{Shards, Statements, insert_plain, read_positions};
use super::{ALL_QUEUED, KEY_QUEUED, ledger};
use crate::db::{Db, Tx};
use crate::{InsertOutcome, LimitScope, NewTask, Result, StoreError, StoreEvent};

/// Most creates committed together; more wait for the next commit.
const MAX_BATCH: usize = 256;

struct Job {
    task: NewTask,
    reply: oneshot::Sender<Result<InsertOutcome>>,
}

/// The handle creates go through; cloning it shares the one committer.
#[derive(Debug, Clone)]
pub(crate) struct Committer {
    jobs: mpsc::Sender<Job>,
    tally: Tally,
    /// `store.create_linger` in µs (0: a batch takes only what is waiting): read before
    /// each batch, so it can be set after the committer starts.
    linger_us: Arc<AtomicU64>,
}

impl Committer {
    /// Starts the committer task on the current runtime. It ends when every handle is gone.
    pub(crate) fn start(db: Db) -> Committer {
        let (jobs, rx) = mpsc::channel(4 * MAX_BATCH);
        let tally = Tally::default();
        let linger_us = Arc::new(AtomicU64::new(0));
        tokio::spawn(run(db, rx, tally.clone(), linger_us.clone()));
        Committer { jobs, tally, linger_us }
    }

    /// Lets each batch wait for creates that keep arriving within `gap` of each other
    /// (`linger.rs`); zero turns it off.
    pub(crate) fn set_linger(&self, gap: Duration) {
        let us = u64::try_from(gap.as_micros()).unwrap_or(u64::MAX);
        self.linger_us.store(us, Ordering::Relaxed);
    }

    /// The gap a batch waits through for more creates (zero: none).
    pub(crate) fn linger(&self) -> Duration {
        Duration::from_micros(self.linger_us.load(Ordering::Relaxed))
    }

    /// How many batches ran a second time with their budget rows locked.
    pub(crate) fn reruns(&self) -> u64 {
        self.tally.reruns.load(Ordering::Relaxed)
    }

    /// How many batches were one autocommit statement.
    pub(crate) fn one_statement(&self) -> u64 {
        self.tally.one_statement.load(Ordering::Relaxed)
    }

    /// How many transactions of batches PostgreSQL failed to break a lock cycle, and that ran
    /// again.
    pub(crate) fn lock_conflicts(&self) -> u64 {
        self.tally.lock_conflicts.load(Ordering::Relaxed)
    }
}

/// What the committer counts of the ways its batches went.
#[derive(Debug, Clone, Default)]
struct Tally {
    /// Optimistic batches that found their budgets moved and ran again locked.
    reruns: Arc<AtomicU64>,
    /// Batches answered without a transaction: one autocommit statement after their read
    /// (or none, every create refused by that read).
    one_statement: Arc<AtomicU64>,
    /// Transactions failed by PostgreSQL to break a deadlock (or a serialization conflict),
    /// run again.
    lock_conflicts: Arc<AtomicU64>,
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

async fn run(db: Db, jobs: mpsc::Receiver<Job>, tally: Tally, linger_us: Arc<AtomicU64>) {
    linger::batches(jobs, MAX_BATCH, linger_us, |batch| {
        commit_and_answer(db.clone(), tally.clone(), batch)
    })
    .await;
}

/// Commits one batch and answers each of its creates.
async fn commit_and_answer(db: Db, tally: Tally, mut batch: Vec<Job>) {
    let tasks: Vec<&NewTask> = batch.iter().map(|j| &j.task).collect();
    let started = Instant::now();
    let checked = commit_checked(&db, &tasks, &tally).await;
    let way = checked.as_ref().map_or(Way::Failed, |(_, way)| *way);
    commit_metrics::batch(batch.len(), way, started);
    match checked {
        Ok((outcomes, _)) => {
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
                    commit_checked(&db, &[&job.task], &tally).await.map(|(mut o, _)| o.remove(0));
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
/// first on PostgreSQL, and again with the rows locked if that found them moved; with the way
/// the batch went.
async fn commit_checked(
    db: &Db,
    tasks: &[&NewTask],
    tally: &Tally,
) -> Result<(Vec<InsertOutcome>, Way)> {
    if db.is_postgres() {
        // One autocommit statement when nothing in the batch needs a transaction.
        let settled = match autocommit_batch::commit(db, tasks).await? {
            Autocommit::Done(outcomes) => {
                tally.one_statement.fetch_add(1, Ordering::Relaxed);
                Some((outcomes, Way::OneStatement))
            }
            Autocommit::Moved => None,
            Autocommit::Transaction => {
                commit_again_on_lock_conflicts(db, tasks, Budgets::Optimistic, tally)
                    .await?
                    .map(|outcomes| (outcomes, Way::Transaction))
            }
        };
        if let Some(settled) = settled {
            return Ok(settled);
        }
        tally.reruns.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(
            size = tasks.len(),
            "a batch's budgets moved before its commit; running it again locked"
        );
    }
    let way = if db.is_postgres() { Way::RerunLocked } else { Way::Transaction };
    let outcomes =
        commit_again_on_lock_conflicts(db, tasks, Budgets::Locked, tally).await?.ok_or_else(
            || StoreError::corrupt("a batch with its budget rows locked found them moved"),
        )?;
    Ok((outcomes, way))
}

/// Tries of a batch's transaction that PostgreSQL may fail to break lock cycles before its
/// error is the batch's answer (each failure costs the server's `deadlock_timeout`, 1 s by
/// default, so three is seconds of waiting already).
const LOCK_CONFLICT_TRIES: u32 = 3;

/// `commit`, run again when PostgreSQL failed its transaction to break a deadlock or a
/// serialization conflict: that transaction kept nothing, and the other writer it waited for
/// has its locks and ends, so the same batch commits next time. Writers take their locks in
/// one order where they can (`Counts::start`, `task_rows.rs`), but a dedup claim, a statement
/// changing many tasks' states (the reaper's) and the counter rows' shards leave rare cycles,
/// and a create must not fail for one (a batch of one would otherwise answer the error).
async fn commit_again_on_lock_conflicts(
    db: &Db,
    tasks: &[&NewTask],
    budgets: Budgets,
    tally: &Tally,
) -> Result<Option<Vec<InsertOutcome>>> {
    let mut tries = 1;
    loop {
        match commit(db, tasks, budgets).await {
            Err(e) if e.is_lock_conflict() && tries < LOCK_CONFLICT_TRIES => {
                tries += 1;
                tally.lock_conflicts.fetch_add(1, Ordering::Relaxed);
                commit_metrics::lock_conflict();
                tracing::warn!(error = %e, size = tasks.len(), "a batch's transaction was failed to break a lock cycle; running it again");
            }
            done => return done,
        }
    }
}

/// Queue counts and key spend as of the batch's start plus what the batch added so far.
#[derive(Default)]
pub(super) struct Counts {
    pub(super) per_key: HashMap<KeyId, i64>,
    pub(super) total: Option<i64>,
    /// The spend of the batch's keys that have a budget, as read at its start.
    pub(super) spend: HashMap<KeyId, Spend>,
    /// The time the spend was read as of (the batch's latest create): the day and month its
    /// holds count in on the balance rows.
    pub(super) at: vidgate_domain::Millis,
}

impl Counts {
    /// Everything the batch's checks start from, read before any create runs (and so before
    /// any savepoint, whose rollback would release a lock taken under it): the queue counts
    /// its limits need (near a limit, under that limit's lock: see `insert::queued`), then the
    /// balance rows of the batch's keys (locked only in `Budgets::Locked`).
    ///
    /// Lock order, the same in every batch so that none holds a lock another waits for while
    /// it waits for one the other holds: the keys' queue locks in key order, then the whole
    /// queue's, then (the rerun) the balance rows, in key order. A batch that held a queue
    /// lock until its balance upsert, beside a rerun that held the balance row while it asked
    /// for that queue lock, was such a cycle.
    async fn start(tx: &mut Tx, tasks: &[&NewTask], budgets: Budgets) -> Result<Counts> {
        let mut counts = Counts::default();
        // The first limit each key's creates name (a key's creates carry the key's limits).
        let mut per_key: BTreeMap<&KeyId, i64> = BTreeMap::new();
        for task in tasks {
            if let Some(limit) = task.limits.per_key {
                per_key.entry(&task.key_id).or_insert(limit);
            }
        }
        for (key_id, limit) in per_key {
            let lock = key_queue_lock(key_id);
            let n = queued(tx, KEY_QUEUED, Some(key_id), &lock, limit).await?;
            counts.per_key.insert(key_id.clone(), n);
        }
        if let Some(limit) = tasks.iter().find_map(|t| t.limits.total) {
            counts.total = Some(queued(tx, ALL_QUEUED, None, TOTAL_QUEUE_LOCK, limit).await?);
        }
        // Every key, priced or not: a key with a budget refuses what has no price.
        let keys: Vec<&KeyId> = tasks.iter().map(|t| &t.key_id).collect();
        counts.at = tasks.iter().map(|t| t.created_at).max().unwrap_or_default();
        let lock = budgets == Budgets::Locked;
        let mut spend = ledger::read_spend(tx, &keys, counts.at, lock).await?;
        spend.retain(|_, s| s.budget.is_limited());
        counts.spend = spend;
        Ok(counts)
    }

    /// Which limit this task would break, if any; otherwise counts it.
    pub(super) fn admit(&mut self, task: &NewTask) -> Option<InsertOutcome> {
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
    let shards = match budgets {
        Budgets::Locked => Shards::BalancesLocked,
        Budgets::Optimistic => Shards::Common,
    };
    let mut outcomes: Vec<Option<InsertOutcome>> = vec![None; tasks.len()];
    let mut counts = Counts::start(&mut tx, tasks, budgets).await?;
    let mut pending: Vec<usize> = Vec::new();
    // Which insert statement wrote each task (`task_rows::Statements::count_later`).
    let mut statements = Statements::new(tasks.len());
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
        let before = std::mem::take(&mut pending);
        insert_plain(&mut tx, tasks, &before, shards, &mut outcomes).await?;
        statements.wrote(&before);
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
                insert_plain(&mut tx, tasks, &[i], shards, &mut outcomes).await?;
                statements.wrote(&[i]);
            }
        }
        tx.run("RELEASE create_one").await?;
    }
    insert_plain(&mut tx, tasks, &pending, shards, &mut outcomes).await?;
    statements.wrote(&pending);
    // The batch's holds (its budget checks above counted them): on SQLite in a few multi-row
    // statements; on PostgreSQL each insert statement wrote its tasks' holds, and only the
    // balance changes are counted here.
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
    if tx.is_postgres() {
        statements.count_later(tasks, &mut outcomes);
    } else {
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
