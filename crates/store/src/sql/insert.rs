//! What a create checks before its row goes in (the group committer, `group_commit.rs`, runs
//! them for each batch): its dedup claims, and the queue counts its limits are checked
//! against. Several PostgreSQL replicas insert at once, so counts are of what is committed,
//! and near a limit are taken under an advisory lock: limits hold exactly without
//! serializing inserts far from them.

use vidgate_domain::Millis;

use crate::db::{Tx, sql};
use crate::rows::{task_columns, task_from_row};
use crate::{InsertOutcome, NewTask, Result, StoreError};

/// The task's quote as stored (`tasks.quote`).
pub(crate) fn quote_json(task: &NewTask) -> Result<Option<String>> {
    task.quote.as_ref().map(serde_json::to_string).transpose().map_err(StoreError::corrupt)
}

/// A task's first log line, as SQL over its row: "accepted and queued (pool …)" at its
/// `created_at`. It is not stored: every create would pay a statement and an index entry
/// for what the row already says.
macro_rules! first_log_message {
    ($pool:literal) => {
        concat!("'accepted and queued (pool ' || ", $pool, " || ')'")
    };
}
pub(crate) use first_log_message;

/// Within this many of a limit, inserts take a lock and count again, so the limit holds
/// exactly; further from it they do not serialize (nothing in flight could reach it).
const EXACT_WITHIN: i64 = 1024;

pub(crate) const KEY_QUEUED: &str =
    "SELECT CAST(coalesce(sum(n), 0) AS BIGINT) AS n FROM key_queue_counts WHERE key_id = $1";
pub(crate) const ALL_QUEUED: &str =
    "SELECT CAST(coalesce(sum(n), 0) AS BIGINT) AS n FROM queue_rank_counts";

pub(crate) async fn count(tx: &mut Tx, text: &'static str, key_id: Option<&str>) -> Result<i64> {
    let mut stmt = sql(text);
    if let Some(k) = key_id {
        stmt = stmt.bind(k);
    }
    match tx.fetch_one(stmt).await? {
        Some(row) => row.int("n"),
        None => Ok(0),
    }
}

/// The lock a key's queue count is taken under near its limit.
pub(crate) fn key_queue_lock(key_id: &str) -> String {
    format!("vidgate:key-queue:{key_id}")
}

/// The lock the whole queue's count is taken under near its limit.
pub(crate) const TOTAL_QUEUE_LOCK: &str = "vidgate:queue-total";

/// Whether a count `n` is below `limit` but within `EXACT_WITHIN` of it: only then must it be
/// taken again under the limit's lock. (At the limit, creates are refused whatever the
/// others do; far from it, nothing in flight could reach it.)
pub(crate) fn near_limit(n: i64, limit: i64) -> bool {
    n < limit && limit - n <= EXACT_WITHIN
}

/// Counts (`text`); within `EXACT_WITHIN` of `limit`, takes the lock named `lock` (held
/// until the transaction ends) and counts again, so no other replica's insert can pass the
/// limit between this count and the commit. Already at the limit, no lock is needed.
pub(crate) async fn queued(
    tx: &mut Tx,
    text: &'static str,
    key_id: Option<&str>,
    lock: &str,
    limit: i64,
) -> Result<i64> {
    let n = count(tx, text, key_id).await?;
    if !near_limit(n, limit) {
        return Ok(n);
    }
    tx.lock(lock).await?;
    count(tx, text, key_id).await
}

/// What refuses `task` because its dedup keys are held; `Replayed` reads the original inside
/// `tx` (it may have been inserted earlier in the same transaction).
pub(crate) async fn claim_dedups(tx: &mut Tx, task: &NewTask) -> Result<Option<InsertOutcome>> {
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
            let original =
                sql(concat!("SELECT ", task_columns!(), " FROM tasks WHERE id = $1")).bind(&holder);
            return match tx.fetch_one(original).await? {
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
    tx: &mut Tx,
    key: DedupKey<'_>,
    task_id: &str,
    now: Millis,
) -> Result<Option<(String, Option<String>)>> {
    let claimed = tx
        .execute(
            sql("INSERT INTO dedup (key_id, kind, value, task_id, body_hash, expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (key_id, kind, value) DO UPDATE SET task_id = excluded.task_id,
                     body_hash = excluded.body_hash, expires_at = excluded.expires_at
                 WHERE dedup.expires_at <= $7")
            .bind(key.key_id)
            .bind(key.kind)
            .bind(key.value)
            .bind(task_id)
            .bind(key.body_hash)
            .bind(key.expires_at)
            .bind(now),
        )
        .await?;
    if claimed == 1 {
        return Ok(None);
    }
    let holder =
        sql("SELECT task_id, body_hash FROM dedup WHERE key_id = $1 AND kind = $2 AND value = $3")
            .bind(key.key_id)
            .bind(key.kind)
            .bind(key.value);
    match tx.fetch_one(holder).await? {
        Some(row) => Ok(Some((row.text("task_id")?, row.opt_text("body_hash")?))),
        None => Err(StoreError::corrupt("a dedup claim conflicted but has no holder")),
    }
}
