//! Inserting new tasks on PostgreSQL: dedup claims, queue limits, the row and its first log
//! line in one transaction, with a NOTIFY so other replicas' dispatchers wake. Several
//! processes insert at once here; limits are checked against committed counts, and near a
//! limit under an advisory lock, so they hold exactly without serializing inserts far from it.

use sqlx::{Postgres, Row, Transaction};
use vidgate_domain::Millis;

use super::PgStore;
use super::tasks::{insert_log, notify};
use crate::rows::{task_columns, task_from_row};
use crate::{InsertOutcome, LimitScope, LogEntry, NewTask, Result, StoreError, StoreEvent};

pub(super) fn first_log(at: Millis, pool: &str) -> LogEntry {
    LogEntry::info(at, format!("accepted and queued (pool {pool})"))
}

/// Within this many of a limit, inserts take a lock and count again, so the limit holds
/// exactly; further from it they do not serialize (nothing in flight could reach it).
const EXACT_WITHIN: i64 = 1024;

/// Counts with `count_sql`; near `limit`, takes the advisory lock named `lock` (held until
/// the transaction ends) and counts again. `true` when the queue is full.
async fn at_limit(
    tx: &mut Transaction<'_, Postgres>,
    count_sql: &'static str,
    bind: Option<&str>,
    lock: &str,
    limit: i64,
) -> Result<bool> {
    let n = count(tx, count_sql, bind).await?;
    if n >= limit {
        return Ok(true);
    }
    if limit - n > EXACT_WITHIN {
        return Ok(false);
    }
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(lock)
        .execute(&mut **tx)
        .await?;
    Ok(count(tx, count_sql, bind).await? >= limit)
}

async fn count(
    tx: &mut Transaction<'_, Postgres>,
    sql: &'static str,
    bind: Option<&str>,
) -> Result<i64> {
    let mut q = sqlx::query_scalar::<_, i64>(sql);
    if let Some(b) = bind {
        q = q.bind(b.to_owned());
    }
    Ok(q.fetch_one(&mut **tx).await?)
}

/// The outcome refusing `task` when its key's or the whole queue is full.
async fn queue_full(
    tx: &mut Transaction<'_, Postgres>,
    task: &NewTask,
) -> Result<Option<InsertOutcome>> {
    if let Some(limit) = task.limits.per_key {
        let sql = "SELECT coalesce(sum(n), 0)::BIGINT FROM key_queue_counts WHERE key_id = $1";
        let lock = format!("vidgate:key-queue:{}", task.key_id);
        if at_limit(tx, sql, Some(&task.key_id), &lock, limit).await? {
            return Ok(Some(InsertOutcome::QueueFull { scope: LimitScope::Key, limit }));
        }
    }
    if let Some(limit) = task.limits.total {
        let sql = "SELECT coalesce(sum(n), 0)::BIGINT FROM queue_rank_counts";
        if at_limit(tx, sql, None, "vidgate:queue-total", limit).await? {
            return Ok(Some(InsertOutcome::QueueFull { scope: LimitScope::Total, limit }));
        }
    }
    Ok(None)
}

impl PgStore {
    pub(super) async fn insert(&self, task: NewTask) -> Result<InsertOutcome> {
        let id = task.id.to_string();
        let request = serde_json::to_string(&task.request).map_err(StoreError::corrupt)?;
        let now = task.created_at;
        let mut tx = self.immediate().await?;
        if let Some(idem) = &task.idempotency {
            let key = DedupKey {
                key_id: &task.key_id,
                kind: "idem",
                value: &idem.key,
                body_hash: Some(&idem.body_hash),
                expires_at: idem.expires_at,
            };
            let held = claim_dedup(&mut tx, key, &id, now).await?;
            if let Some((holder, hash)) = held {
                tx.rollback().await?;
                if hash.as_deref() != Some(idem.body_hash.as_str()) {
                    return Ok(InsertOutcome::IdempotencyMismatch { task_id: holder });
                }
                return match self.fetch_by_id(&holder).await? {
                    Some(original) => Ok(InsertOutcome::Replayed(original)),
                    None => Err(StoreError::corrupt(format!(
                        "idempotency key points at missing task {holder}"
                    ))),
                };
            }
        }
        if let Some(session) = &task.session
            && let Some((holder, _)) = claim_dedup(
                &mut tx,
                DedupKey {
                    key_id: &task.key_id,
                    kind: "session",
                    value: &session.value,
                    body_hash: None,
                    expires_at: session.expires_at,
                },
                &id,
                now,
            )
            .await?
        {
            tx.rollback().await?;
            return Ok(InsertOutcome::SessionConflict { task_id: holder });
        }
        if let Some(full) = queue_full(&mut tx, &task).await? {
            tx.rollback().await?;
            return Ok(full);
        }
        let row = sqlx::query(concat!(
            "INSERT INTO tasks (id, key_id, pool, state, rank, request, created_at, updated_at, run_after, deadline_at,
                                webhook_url, public_base)
             VALUES ($1, $2, $3, 'queued', $4, $5, $6, $6, $6, $7, $8, $9) RETURNING ",
            task_columns!()
        ))
        .bind(&id)
        .bind(&task.key_id)
        .bind(&task.pool)
        .bind(task.rank)
        .bind(&request)
        .bind(now)
        .bind(task.deadline_at)
        .bind(&task.webhook_url)
        .bind(&task.public_base)
        .fetch_one(&mut *tx)
        .await?;
        let record = task_from_row(&row)?;
        insert_log(&mut tx, &id, &first_log(now, &task.pool)).await?;
        notify(&mut tx, &[StoreEvent::Dispatch, StoreEvent::Task(task.id)]).await?;
        tx.commit().await?;
        Ok(InsertOutcome::Inserted(record))
    }
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
    tx: &mut Transaction<'_, Postgres>,
    key: DedupKey<'_>,
    task_id: &str,
    now: Millis,
) -> Result<Option<(String, Option<String>)>> {
    let claimed = sqlx::query(
        "INSERT INTO dedup (key_id, kind, value, task_id, body_hash, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (key_id, kind, value) DO UPDATE SET task_id = excluded.task_id,
             body_hash = excluded.body_hash, expires_at = excluded.expires_at
         WHERE dedup.expires_at <= $7",
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
        "SELECT task_id, body_hash FROM dedup WHERE key_id = $1 AND kind = $2 AND value = $3",
    )
    .bind(key.key_id)
    .bind(key.kind)
    .bind(key.value)
    .fetch_one(&mut **tx)
    .await?;
    Ok(Some((row.try_get("task_id")?, row.try_get("body_hash")?)))
}
