//! Inserting new tasks on SQLite, with group commit. A durable insert costs one fsync, and a
//! disk does a few hundred to a thousand of those a second; so concurrent creates queue for
//! one committer, which runs everything waiting in one `BEGIN IMMEDIATE` transaction and
//! answers each caller only after that commit: every 200 is still durable, and one fsync
//! covers the whole batch. Alone, a create is a batch of one (no added wait).
//!
//! Within a batch, plain creates become one multi-row `INSERT` (plus one for their first log
//! lines); a create with a dedup claim (session id, idempotency key) runs on its own under a
//! savepoint, so its conflict rolls back only itself. Arrival order is kept. Queue limits are
//! checked here too: SQLite has one writer, so they hold exactly.

use std::collections::HashMap;

use sqlx::{AssertSqlSafe, Row, Sqlite, SqlitePool, Transaction};
use tokio::sync::{mpsc, oneshot};
use vidgate_domain::Millis;

use crate::rows::{task_columns, task_from_row};
use crate::{InsertOutcome, LimitScope, LogEntry, NewTask, Result, StoreError, TaskRecord};

/// Most creates committed together; more wait for the next commit.
const MAX_BATCH: usize = 256;
/// Rows per multi-row `INSERT` (11 parameters each, far below SQLite's limit).
const ROWS_PER_STATEMENT: usize = 64;

struct Job {
    task: NewTask,
    reply: oneshot::Sender<Result<InsertOutcome>>,
}

/// The handle creates go through; cloning it shares the one committer.
#[derive(Debug, Clone)]
pub(super) struct Committer {
    jobs: mpsc::Sender<Job>,
}

impl Committer {
    /// Starts the committer task on the current runtime. It ends when every handle is gone.
    pub(super) fn start(writer: SqlitePool) -> Committer {
        let (jobs, rx) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(run(writer, rx));
        Committer { jobs }
    }

    pub(super) async fn insert(&self, task: NewTask) -> Result<InsertOutcome> {
        let closed = || StoreError::Database(sqlx::Error::PoolClosed);
        let (reply, answer) = oneshot::channel();
        self.jobs.send(Job { task, reply }).await.map_err(|_| closed())?;
        answer.await.map_err(|_| closed())?
    }
}

async fn run(writer: SqlitePool, mut jobs: mpsc::Receiver<Job>) {
    while let Some(first) = jobs.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let tasks: Vec<&NewTask> = batch.iter().map(|j| &j.task).collect();
        match commit(&writer, &tasks).await {
            Ok(outcomes) => {
                for (job, outcome) in batch.into_iter().zip(outcomes) {
                    let _ = job.reply.send(Ok(outcome));
                }
            }
            // The whole batch rolled back; one create's failure must not be the others', so
            // each goes again alone (and gets its own answer).
            Err(e) if batch.len() > 1 => {
                tracing::warn!(error = %e, size = batch.len(), "a grouped commit failed; retrying its creates one by one");
                for job in batch {
                    let outcome = commit(&writer, &[&job.task]).await.map(|mut o| o.remove(0));
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

/// Queue counts as of the batch's start plus what the batch added so far.
#[derive(Default)]
struct Counts {
    per_key: HashMap<String, i64>,
    total: Option<i64>,
}

impl Counts {
    /// Which limit this task would break, if any; otherwise counts it.
    async fn admit(
        &mut self,
        tx: &mut Transaction<'_, Sqlite>,
        task: &NewTask,
    ) -> Result<Option<InsertOutcome>> {
        if let Some(limit) = task.limits.per_key {
            let n = match self.per_key.get(&task.key_id) {
                Some(n) => *n,
                None => {
                    sqlx::query_scalar(
                        "SELECT coalesce(sum(n), 0) FROM key_queue_counts WHERE key_id = ?1",
                    )
                    .bind(&task.key_id)
                    .fetch_one(&mut **tx)
                    .await?
                }
            };
            self.per_key.insert(task.key_id.clone(), n);
            if n >= limit {
                return Ok(Some(InsertOutcome::QueueFull { scope: LimitScope::Key, limit }));
            }
        }
        if let Some(limit) = task.limits.total {
            let n = match self.total {
                Some(n) => n,
                None => {
                    sqlx::query_scalar("SELECT coalesce(sum(n), 0) FROM queue_rank_counts")
                        .fetch_one(&mut **tx)
                        .await?
                }
            };
            self.total = Some(n);
            if n >= limit {
                return Ok(Some(InsertOutcome::QueueFull { scope: LimitScope::Total, limit }));
            }
        }
        if let Some(n) = self.per_key.get_mut(&task.key_id) {
            *n += 1;
        }
        if let Some(n) = self.total.as_mut() {
            *n += 1;
        }
        Ok(None)
    }
}

/// One transaction for `tasks`; an outcome per task, in order.
async fn commit(writer: &SqlitePool, tasks: &[&NewTask]) -> Result<Vec<InsertOutcome>> {
    let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
    let mut outcomes: Vec<Option<InsertOutcome>> = vec![None; tasks.len()];
    let mut counts = Counts::default();
    let mut pending: Vec<usize> = Vec::new();
    for (i, task) in tasks.iter().enumerate() {
        if task.session.is_none() && task.idempotency.is_none() {
            if let Some(full) = counts.admit(&mut tx, task).await? {
                outcomes[i] = Some(full);
            } else {
                pending.push(i);
            }
            continue;
        }
        // Keep arrival order: what came before goes in first.
        insert_plain(&mut tx, tasks, &std::mem::take(&mut pending), &mut outcomes).await?;
        sqlx::query("SAVEPOINT create_one").execute(&mut *tx).await?;
        let outcome = match claim_dedups(&mut tx, task).await? {
            Some(refused) => Some(refused),
            None => counts.admit(&mut tx, task).await?,
        };
        match outcome {
            Some(refused) => {
                sqlx::query("ROLLBACK TO create_one").execute(&mut *tx).await?;
                outcomes[i] = Some(refused);
            }
            None => {
                insert_plain(&mut tx, tasks, &[i], &mut outcomes).await?;
            }
        }
        sqlx::query("RELEASE create_one").execute(&mut *tx).await?;
    }
    insert_plain(&mut tx, tasks, &pending, &mut outcomes).await?;
    tx.commit().await?;
    outcomes
        .into_iter()
        .map(|o| o.ok_or_else(|| StoreError::corrupt("a grouped insert lost a task")))
        .collect()
}

/// Inserts the tasks at `which` (each queued, with its first log line), in that order.
async fn insert_plain(
    tx: &mut Transaction<'_, Sqlite>,
    tasks: &[&NewTask],
    which: &[usize],
    outcomes: &mut [Option<InsertOutcome>],
) -> Result<()> {
    for chunk in which.chunks(ROWS_PER_STATEMENT) {
        let values = vec!["(?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ");
        let sql = format!(
            "INSERT INTO tasks (id, key_id, pool, state, rank, request, created_at, updated_at,
                                run_after, deadline_at, webhook_url, public_base)
             VALUES {values} RETURNING {}",
            task_columns!()
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for &i in chunk {
            let t = tasks[i];
            let request = serde_json::to_string(&t.request).map_err(StoreError::corrupt)?;
            query = query
                .bind(t.id.to_string())
                .bind(&t.key_id)
                .bind(&t.pool)
                .bind(t.rank)
                .bind(request)
                .bind(t.created_at)
                .bind(t.created_at)
                .bind(t.created_at)
                .bind(t.deadline_at)
                .bind(&t.webhook_url)
                .bind(&t.public_base);
        }
        let rows = query.fetch_all(&mut **tx).await?;
        let mut by_id: HashMap<String, TaskRecord> = HashMap::with_capacity(rows.len());
        for row in &rows {
            let record = task_from_row(row)?;
            by_id.insert(record.id.to_string(), record);
        }
        let logs = vec!["(?, ?, ?, ?)"; chunk.len()].join(", ");
        let mut log_query = sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO task_logs (task_id, at, level, message) VALUES {logs}"
        )));
        for &i in chunk {
            let t = tasks[i];
            let log = first_log(t.created_at, &t.pool);
            log_query = log_query
                .bind(t.id.to_string())
                .bind(log.at)
                .bind(log.level.as_str())
                .bind(log.message);
            let record = by_id.remove(&t.id.to_string()).ok_or_else(|| {
                StoreError::corrupt(format!("insert of {} returned no row", t.id))
            })?;
            outcomes[i] = Some(InsertOutcome::Inserted(record));
        }
        log_query.execute(&mut **tx).await?;
    }
    Ok(())
}

pub(super) fn first_log(at: Millis, pool: &str) -> LogEntry {
    LogEntry::info(at, format!("accepted and queued (pool {pool})"))
}

/// Claims the task's dedup keys; the outcome that refuses it when one is held.
async fn claim_dedups(
    tx: &mut Transaction<'_, Sqlite>,
    task: &NewTask,
) -> Result<Option<InsertOutcome>> {
    let id = task.id.to_string();
    let now = task.created_at;
    if let Some(idem) = &task.idempotency {
        let key = DedupKey {
            key_id: &task.key_id,
            kind: "idem",
            value: &idem.key,
            body_hash: Some(&idem.body_hash),
            expires_at: idem.expires_at,
        };
        if let Some((holder, hash)) = claim_dedup(tx, key, &id, now).await? {
            if hash.as_deref() != Some(idem.body_hash.as_str()) {
                return Ok(Some(InsertOutcome::IdempotencyMismatch { task_id: holder }));
            }
            // The original may have been inserted earlier in this very transaction.
            let row = sqlx::query(concat!("SELECT ", task_columns!(), " FROM tasks WHERE id = ?1"))
                .bind(&holder)
                .fetch_optional(&mut **tx)
                .await?;
            return match row {
                Some(row) => Ok(Some(InsertOutcome::Replayed(task_from_row(&row)?))),
                None => Err(StoreError::corrupt(format!(
                    "idempotency key points at missing task {holder}"
                ))),
            };
        }
    }
    if let Some(session) = &task.session {
        let key = DedupKey {
            key_id: &task.key_id,
            kind: "session",
            value: &session.value,
            body_hash: None,
            expires_at: session.expires_at,
        };
        if let Some((holder, _)) = claim_dedup(tx, key, &id, now).await? {
            return Ok(Some(InsertOutcome::SessionConflict { task_id: holder }));
        }
    }
    Ok(None)
}

/// A dedup key to claim for a new task.
struct DedupKey<'a> {
    key_id: &'a str,
    /// `session` or `idem`.
    kind: &'static str,
    value: &'a str,
    body_hash: Option<&'a str>,
    expires_at: Millis,
}

/// Claims a dedup key for `task_id` unless a live claim holds it; returns the holder's
/// `(task_id, body_hash)`. An expired claim is taken over in the same statement.
async fn claim_dedup(
    tx: &mut Transaction<'_, Sqlite>,
    key: DedupKey<'_>,
    task_id: &str,
    now: Millis,
) -> Result<Option<(String, Option<String>)>> {
    let claimed = sqlx::query(
        "INSERT INTO dedup (key_id, kind, value, task_id, body_hash, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (key_id, kind, value) DO UPDATE SET task_id = excluded.task_id,
             body_hash = excluded.body_hash, expires_at = excluded.expires_at
         WHERE dedup.expires_at <= ?7",
    )
    .bind(key.key_id)
    .bind(key.kind)
    .bind(key.value)
    .bind(task_id)
    .bind(key.body_hash)
    .bind(key.expires_at)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    if claimed.rows_affected() == 1 {
        return Ok(None);
    }
    let row = sqlx::query(
        "SELECT task_id, body_hash FROM dedup WHERE key_id = ?1 AND kind = ?2 AND value = ?3",
    )
    .bind(key.key_id)
    .bind(key.kind)
    .bind(key.value)
    .fetch_one(&mut **tx)
    .await?;
    Ok(Some((row.try_get("task_id")?, row.try_get("body_hash")?)))
}
