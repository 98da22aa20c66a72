//! `TaskStore` on PostgreSQL: the SQLite backend's statements with `$n` parameters, plus what
//! several writers need: claims take the head of the queue with `FOR UPDATE SKIP LOCKED`
//! under a per-account advisory lock (so the slot count and the claim are atomic across
//! replicas), and transitions `NOTIFY` the other replicas.

use async_trait::async_trait;
use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, Postgres, Row, Transaction};
use vidgate_domain::{ErrorType, Millis, RequestId, TaskState};

use super::PgStore;
use crate::reap_sql;
use crate::rows::{task_columns, task_from_row};
use crate::{
    CancelOutcome, Completion, InsertOutcome, Lease, ListQuery, LogEntry, NewTask, ReapLimits,
    ReapReport, Result, Slot, StoreError, StoreEvent, TaskRecord, TaskStore,
};

const CANCELLED_MESSAGE: &str = "request cancelled by the caller";

pub(super) async fn insert_log(
    tx: &mut Transaction<'_, Postgres>,
    id: &str,
    log: &LogEntry,
) -> Result<()> {
    sqlx::query("INSERT INTO task_logs (task_id, at, level, message) VALUES ($1, $2, $3, $4)")
        .bind(id)
        .bind(log.at)
        .bind(log.level.as_str())
        .bind(&log.message)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

fn one(rows: Vec<PgRow>) -> Result<Option<TaskRecord>> {
    rows.first().map(task_from_row).transpose()
}

impl PgStore {
    pub(super) async fn immediate(&self) -> Result<Transaction<'static, Postgres>> {
        // Row locks and unique indexes do here what BEGIN IMMEDIATE does for SQLite.
        Ok(self.pool.begin().await?)
    }

    pub(super) async fn fetch_by_id(&self, id: &str) -> Result<Option<TaskRecord>> {
        let row = sqlx::query(concat!("SELECT ", task_columns!(), " FROM tasks WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(task_from_row).transpose()
    }
}

/// Commits a fenced single-row update (and its log line) only if it took; a stale lease
/// matches no row and changes nothing.
async fn commit_if_one(
    mut tx: Transaction<'static, Postgres>,
    rows_affected: u64,
    id: &str,
    log: Option<&LogEntry>,
    events: &[StoreEvent],
) -> Result<bool> {
    if rows_affected != 1 {
        tx.rollback().await?;
        return Ok(false);
    }
    if let Some(log) = log {
        insert_log(&mut tx, id, log).await?;
    }
    notify(&mut tx, events).await?;
    tx.commit().await?;
    Ok(true)
}

/// Queues notifications for the other replicas; PostgreSQL delivers them on commit.
pub(super) async fn notify(
    tx: &mut Transaction<'_, Postgres>,
    events: &[StoreEvent],
) -> Result<()> {
    for event in events {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(super::CHANNEL)
            .bind(event.payload())
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

fn task_event(id: &str) -> StoreEvent {
    id.parse().map(StoreEvent::Task).unwrap_or(StoreEvent::Dispatch)
}

#[async_trait]
impl TaskStore for PgStore {
    async fn insert_task(&self, task: NewTask) -> Result<InsertOutcome> {
        self.insert(task).await
    }

    async fn get_task(&self, key_id: &str, id: RequestId) -> Result<Option<TaskRecord>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            task_columns!(),
            " FROM tasks WHERE id = $1 AND key_id = $2"
        ))
        .bind(id.to_string())
        .bind(key_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(task_from_row).transpose()
    }

    async fn get_task_any(&self, id: RequestId) -> Result<Option<TaskRecord>> {
        self.fetch_by_id(&id.to_string()).await
    }

    async fn list_tasks(&self, key_id: &str, query: &ListQuery) -> Result<Vec<TaskRecord>> {
        let mut sql =
            String::from(concat!("SELECT ", task_columns!(), " FROM tasks WHERE key_id = $1"));
        let mut n = 1;
        let mut next = || {
            n += 1;
            format!("${n}")
        };
        if query.before_seq.is_some() {
            sql.push_str(&format!(" AND seq < {}", next()));
        }
        if let Some(states) = &query.states {
            let marks: Vec<String> = (0..states.len().max(1)).map(|_| next()).collect();
            sql.push_str(&format!(" AND state IN ({})", marks.join(", ")));
        }
        sql.push_str(&format!(" ORDER BY seq DESC LIMIT {}", next()));
        let mut q = sqlx::query(AssertSqlSafe(sql)).bind(key_id);
        if let Some(before) = query.before_seq {
            q = q.bind(before);
        }
        if let Some(states) = &query.states {
            if states.is_empty() {
                q = q.bind("none");
            }
            for s in states {
                q = q.bind(s.as_str());
            }
        }
        let rows = q.bind(query.limit).fetch_all(&self.pool).await?;
        rows.iter().map(task_from_row).collect()
    }

    async fn queue_position(&self, task: &TaskRecord) -> Result<i64> {
        if task.state != TaskState::Queued {
            return Ok(0);
        }
        // Counters for whole ranks and whole buckets ahead, an index range for the rest of
        // this task's bucket (see migrations/sqlite/0002_queue_counts.sql).
        Ok(sqlx::query_scalar(
            "SELECT ((SELECT coalesce(sum(n), 0) FROM queue_rank_counts WHERE pool = $1 AND rank > $2)
                  + (SELECT coalesce(sum(n), 0) FROM queue_counts
                       WHERE pool = $1 AND rank = $2 AND bucket < $3 >> 12)
                  + (SELECT count(*) FROM tasks WHERE pool = $1 AND state = 'queued' AND rank = $2
                       AND seq >= ($3 >> 12) << 12 AND seq < $3))::BIGINT",
        )
        .bind(&task.pool)
        .bind(task.rank)
        .bind(task.seq)
        .fetch_one(&self.pool)
        .await?)
    }

    async fn task_logs(&self, id: RequestId) -> Result<Vec<LogEntry>> {
        let rows =
            sqlx::query("SELECT at, level, message FROM task_logs WHERE task_id = $1 ORDER BY seq")
                .bind(id.to_string())
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| {
                let level: String = r.try_get("level")?;
                Ok(LogEntry {
                    at: r.try_get("at")?,
                    level: crate::LogLevel::parse(&level),
                    message: r.try_get("message")?,
                })
            })
            .collect()
    }

    async fn cancel_task(&self, key_id: &str, id: RequestId, now: Millis) -> Result<CancelOutcome> {
        let id = id.to_string();
        let mut tx = self.immediate().await?;
        let cancelled = sqlx::query(
            "UPDATE tasks SET state = 'cancelled', error = $1, error_type = $2, finished_at = $3,
                 updated_at = $3, fence = fence + 1, lease_owner = NULL, lease_until = NULL
             WHERE id = $4 AND key_id = $5 AND state = 'queued'",
        )
        .bind(CANCELLED_MESSAGE)
        .bind(ErrorType::CANCELLED)
        .bind(now)
        .bind(&id)
        .bind(key_id)
        .execute(&mut *tx)
        .await?;
        if cancelled.rows_affected() == 1 {
            insert_log(
                &mut tx,
                &id,
                &LogEntry::info(now, "cancelled by the caller while queued; never dispatched"),
            )
            .await?;
            notify(&mut tx, &[task_event(&id)]).await?;
            tx.commit().await?;
            return Ok(CancelOutcome::Cancelled);
        }
        // With the upstream: flag it and make it due for a poll now, so the poller ends it.
        let flagged = sqlx::query(
            "UPDATE tasks SET cancel_requested = TRUE, updated_at = $1,
                 next_poll_at = CASE WHEN state = 'running' THEN $1 ELSE next_poll_at END
             WHERE id = $2 AND key_id = $3 AND state IN ('submitting', 'running') AND cancel_requested = FALSE",
        )
        .bind(now)
        .bind(&id)
        .bind(key_id)
        .execute(&mut *tx)
        .await?;
        if flagged.rows_affected() == 1 {
            insert_log(&mut tx, &id, &LogEntry::info(now, "cancellation requested; the upstream has no cancel call, so the request ends as cancelled at its next step")).await?;
            notify(&mut tx, &[StoreEvent::Poll, task_event(&id)]).await?;
            tx.commit().await?;
            return Ok(CancelOutcome::Requested);
        }
        let state: Option<String> =
            sqlx::query_scalar("SELECT state FROM tasks WHERE id = $1 AND key_id = $2")
                .bind(&id)
                .bind(key_id)
                .fetch_optional(&mut *tx)
                .await?;
        tx.rollback().await?;
        Ok(match state.as_deref().map(str::parse::<TaskState>) {
            None => CancelOutcome::NotFound,
            Some(Ok(s)) if s.is_terminal() => CancelOutcome::AlreadyCompleted,
            Some(Ok(_)) => CancelOutcome::Requested,
            Some(Err(e)) => return Err(StoreError::corrupt(e)),
        })
    }

    async fn claim_next_queued(
        &self,
        pool: &str,
        slots: &[Slot],
        owner: &str,
        now: Millis,
        lease_until: Millis,
    ) -> Result<Option<TaskRecord>> {
        for slot in slots {
            let mut tx = self.pool.begin().await?;
            // Claims for one account take turns across replicas, so the slot count below is
            // exact; claims for different accounts still run in parallel.
            sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
                .bind(format!("vidgate-slots/{pool}/{}", slot.account))
                .execute(&mut *tx)
                .await?;
            let rows = sqlx::query(concat!(
                "UPDATE tasks SET state = 'submitting', account = $1, fence = fence + 1,
                     submit_attempts = submit_attempts + 1, lease_owner = $2, lease_until = $3,
                     updated_at = $4, dispatched_at = coalesce(dispatched_at, $4)
                 WHERE seq = (SELECT seq FROM tasks WHERE pool = $5 AND state = 'queued' AND run_after <= $4
                              ORDER BY rank DESC, seq LIMIT 1 FOR UPDATE SKIP LOCKED)
                   AND (SELECT count(*) FROM tasks WHERE pool = $5 AND account = $1
                          AND state IN ('submitting', 'running')) < $6
                 RETURNING ",
                task_columns!()
            ))
            .bind(&slot.account)
            .bind(owner)
            .bind(lease_until)
            .bind(now)
            .bind(pool)
            .bind(slot.limit)
            .fetch_all(&mut *tx)
            .await?;
            if let Some(task) = one(rows)? {
                notify(&mut tx, &[StoreEvent::Task(task.id)]).await?;
                tx.commit().await?;
                return Ok(Some(task));
            }
            tx.rollback().await?;
        }
        Ok(None)
    }

    async fn mark_running(
        &self,
        lease: Lease,
        upstream_task_id: &str,
        next_poll_at: Millis,
        now: Millis,
        log: LogEntry,
    ) -> Result<bool> {
        let id = lease.id.to_string();
        let mut tx = self.immediate().await?;
        let done = sqlx::query("UPDATE tasks SET state = 'running', upstream_task_id = $1, submitted_at = $2, updated_at = $2,
                 next_poll_at = $3, lease_owner = NULL, lease_until = NULL, crashes = 0
             WHERE id = $4 AND fence = $5 AND state = 'submitting' AND lease_until IS NOT NULL")
            .bind(upstream_task_id)
            .bind(now)
            .bind(next_poll_at)
            .bind(&id)
            .bind(lease.fence)
            .execute(&mut *tx)
            .await?;
        commit_if_one(
            tx,
            done.rows_affected(),
            &id,
            Some(&log),
            &[StoreEvent::Poll, task_event(&id)],
        )
        .await
    }

    async fn requeue(
        &self,
        lease: Lease,
        run_after: Millis,
        now: Millis,
        log: LogEntry,
    ) -> Result<bool> {
        let id = lease.id.to_string();
        let mut tx = self.immediate().await?;
        let done = sqlx::query(
            "UPDATE tasks SET state = 'queued', run_after = $1, updated_at = $2, account = NULL,
                 lease_owner = NULL, lease_until = NULL
             WHERE id = $3 AND fence = $4 AND state = 'submitting' AND lease_until IS NOT NULL",
        )
        .bind(run_after)
        .bind(now)
        .bind(&id)
        .bind(lease.fence)
        .execute(&mut *tx)
        .await?;
        commit_if_one(
            tx,
            done.rows_affected(),
            &id,
            Some(&log),
            &[StoreEvent::Dispatch, task_event(&id)],
        )
        .await
    }

    async fn claim_next_poll(
        &self,
        pool: &str,
        owner: &str,
        now: Millis,
        lease_until: Millis,
    ) -> Result<Option<TaskRecord>> {
        let rows = sqlx::query(concat!(
            "UPDATE tasks SET fence = fence + 1, lease_owner = $1, lease_until = $2, updated_at = $3,
                 poll_event = 0
             WHERE seq = (SELECT seq FROM tasks WHERE state = 'running' AND pool = $4 AND next_poll_at <= $3
                            AND (lease_until IS NULL OR lease_until < $3)
                          ORDER BY next_poll_at LIMIT 1 FOR UPDATE SKIP LOCKED)
             RETURNING ",
            task_columns!()
        ))
        .bind(owner)
        .bind(lease_until)
        .bind(now)
        .bind(pool)
        .fetch_all(&self.pool)
        .await?;
        one(rows)
    }

    async fn record_poll(
        &self,
        lease: Lease,
        progress: i64,
        next_poll_at: Millis,
        now: Millis,
        log: Option<LogEntry>,
    ) -> Result<bool> {
        let id = lease.id.to_string();
        let mut tx = self.immediate().await?;
        let done = sqlx::query(
            "UPDATE tasks SET progress = GREATEST(progress, $1), updated_at = $3,
                 next_poll_at = CASE WHEN poll_event = 1 THEN $3 ELSE $2 END, poll_event = 0,
                 crashes = 0, lease_owner = NULL, lease_until = NULL
             WHERE id = $4 AND fence = $5 AND state = 'running' AND lease_until IS NOT NULL",
        )
        .bind(progress.clamp(0, 100))
        .bind(next_poll_at)
        .bind(now)
        .bind(&id)
        .bind(lease.fence)
        .execute(&mut *tx)
        .await?;
        commit_if_one(tx, done.rows_affected(), &id, log.as_ref(), &[task_event(&id)]).await
    }

    async fn complete(
        &self,
        lease: Lease,
        completion: Completion,
        now: Millis,
        log: LogEntry,
    ) -> Result<bool> {
        let id = lease.id.to_string();
        let (result, error, error_type) = match &completion {
            Completion::Succeeded { result } => (Some(result.to_string()), None, None),
            Completion::Failed { error, error_type } => {
                (None, Some(error.as_str()), Some(error_type.as_str()))
            }
            Completion::Cancelled => (None, Some(CANCELLED_MESSAGE), Some(ErrorType::CANCELLED)),
        };
        let progress = if matches!(completion, Completion::Succeeded { .. }) { 100 } else { -1 };
        let mut tx = self.immediate().await?;
        let done = sqlx::query("UPDATE tasks SET state = $1, result = $2, error = $3, error_type = $4, finished_at = $5,
                 updated_at = $5, progress = CASE WHEN $6 >= 0 THEN $6 ELSE progress END,
                 lease_owner = NULL, lease_until = NULL, next_poll_at = NULL
             WHERE id = $7 AND fence = $8 AND state IN ('submitting', 'running')
               AND lease_until IS NOT NULL")
            .bind(completion.state().as_str())
            .bind(result.as_deref())
            .bind(error)
            .bind(error_type)
            .bind(now)
            .bind(progress)
            .bind(&id)
            .bind(lease.fence)
            .execute(&mut *tx)
            .await?;
        commit_if_one(
            tx,
            done.rows_affected(),
            &id,
            Some(&log),
            &[StoreEvent::Dispatch, task_event(&id)],
        )
        .await
    }

    async fn make_due(
        &self,
        id: Option<RequestId>,
        upstream_task_id: &str,
        now: Millis,
    ) -> Result<bool> {
        // The upstream task id must match, and the request id too when the event names one:
        // an event can only hurry the poll of the task it is about.
        let done = sqlx::query(
            "UPDATE tasks SET next_poll_at = $1, poll_event = 1, updated_at = $1
             WHERE state = 'running' AND upstream_task_id = $3 AND ($2 IS NULL OR id = $2)",
        )
        .bind(now)
        .bind(id.map(|i| i.to_string()))
        .bind(upstream_task_id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn extend_lease(&self, lease: Lease, until: Millis) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE tasks SET lease_until = $1
             WHERE id = $2 AND fence = $3 AND state IN ('submitting', 'running') AND lease_until IS NOT NULL",
        )
        .bind(until)
        .bind(lease.id.to_string())
        .bind(lease.fence)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn append_log(&self, id: RequestId, entry: LogEntry) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        insert_log(&mut tx, &id.to_string(), &entry).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn reap(&self, now: Millis, limits: ReapLimits) -> Result<ReapReport> {
        let batch = limits.batch.max(1);
        let mut tx = self.immediate().await?;
        let timed_out: Vec<String> = sqlx::query_scalar(reap_sql::TIME_OUT)
            .bind(ErrorType::TIMEOUT)
            .bind(now)
            .bind(batch)
            .fetch_all(&mut *tx)
            .await?;
        for id in &timed_out {
            let entry = LogEntry::error(now, "deadline passed; failed with error_type timeout");
            insert_log(&mut tx, id, &entry).await?;
        }
        let crash = reap_sql::crash_message(limits.max_step_attempts);
        let crashed: Vec<String> = sqlx::query_scalar(reap_sql::FAIL_CRASHED)
            .bind(ErrorType::WORKER_CRASHED)
            .bind(now)
            .bind(batch)
            .bind(limits.max_step_attempts.max(1))
            .bind(&crash)
            .fetch_all(&mut *tx)
            .await?;
        for id in &crashed {
            insert_log(&mut tx, id, &LogEntry::error(now, crash.clone())).await?;
        }
        let requeued: Vec<String> =
            sqlx::query_scalar(reap_sql::REQUEUE).bind(now).bind(batch).fetch_all(&mut *tx).await?;
        for id in &requeued {
            insert_log(&mut tx, id, &LogEntry::warn(now, "dispatcher lease expired before the upstream answered; back in the queue (the resubmission reuses the same upstream SessionId)")).await?;
        }
        let released: Vec<String> =
            sqlx::query_scalar(reap_sql::RELEASE).bind(now).bind(batch).fetch_all(&mut *tx).await?;
        let purged =
            sqlx::query(reap_sql::PURGE_DEDUP).bind(now).bind(batch).execute(&mut *tx).await?;
        let mut events: Vec<StoreEvent> = Vec::new();
        if !(requeued.is_empty() && timed_out.is_empty() && crashed.is_empty()) {
            events.push(StoreEvent::Dispatch);
        }
        if !released.is_empty() {
            events.push(StoreEvent::Poll);
        }
        events.extend(timed_out.iter().chain(&crashed).chain(&requeued).map(|id| task_event(id)));
        notify(&mut tx, &events).await?;
        tx.commit().await?;
        let full = |n: usize| n as i64 >= batch;
        Ok(ReapReport {
            requeued: requeued.len() as u64,
            released: released.len() as u64,
            timed_out: timed_out.len() as u64,
            purged_claims: purged.rows_affected(),
            crashed: crashed.len() as u64,
            more: full(timed_out.len())
                || full(crashed.len())
                || full(requeued.len())
                || full(released.len())
                || purged.rows_affected() as i64 >= batch,
        })
    }

    async fn queue_stats(&self, pool: &str) -> Result<crate::QueueStats> {
        self.pool_stats(pool).await
    }

    async fn slots_in_use(&self, pool: &str) -> Result<Vec<(String, i64)>> {
        let rows = sqlx::query(
            "SELECT account, count(*) AS n FROM tasks WHERE pool = $1 AND state IN ('submitting', 'running')
             GROUP BY account ORDER BY account",
        )
        .bind(pool)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get::<Option<String>, _>("account")?.unwrap_or_default(),
                    r.try_get("n")?,
                ))
            })
            .collect()
    }
}
