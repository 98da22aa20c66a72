//! `TaskStore`, once for both backends. Claims are one `UPDATE … RETURNING` of the queue's
//! head (atomic in SQLite, which has one writer; `SKIP LOCKED` and a per-account advisory lock
//! on PostgreSQL, so replicas together never exceed an account's slot limit); every other
//! transition is a fenced update in a write transaction with its log line, and emits the
//! change events that wake workers and status streams.

use crate::states::st;
use async_trait::async_trait;
use vidgate_domain::KeyId;
use vidgate_domain::{ErrorType, Millis, Pool, RequestId, TaskState};

use super::SqlStore;
use super::cancel::{cancel_unsent, flag_cancel};
use super::insert::first_log_message;
use super::ledger::{self, Close};
use super::positions::position_of_t;
use super::steps::{commit_if_one, insert_log};
use crate::db::{Row, Stmt, built_sql, shared_sql, sql};
use crate::phase::CANCELLED_MESSAGE;
use crate::rows::{task_columns, task_from_row};
use crate::{
    CancelOutcome, Claimed, Completion, FollowClaim, FollowEnd, InsertOutcome, Lease, ListQuery,
    LogEntry, NewTask, PollClaim, ReapLimits, ReapReport, Result, Slot, StoreError, StoreEvent,
    SubmitClaim, TaskRecord, TaskStore,
};

/// When an upstream event makes a running task's next poll due (`$1` now, `$4` the least time
/// between two polls): at once, or `$4` after its last poll began (`last_poll_at`, written by
/// the poll's claim) if that is later, or as scheduled if sooner still. A `next_poll_at` not
/// after `last_poll_at` belonged to that poll, which consumed it.
macro_rules! event_due {
    () => {
        "CASE WHEN last_poll_at IS NULL OR last_poll_at + $4 <= $1 THEN $1
              WHEN next_poll_at > last_poll_at AND next_poll_at < last_poll_at + $4
                  THEN next_poll_at
              ELSE last_poll_at + $4 END"
    };
}

impl SqlStore {
    /// Runs a claim of a due task (`$1` owner, `$2` lease until, `$3` now, `$4` pool): the
    /// poll and the follow claims differ only in their statement.
    async fn claim_due(
        &self,
        text: &std::sync::Arc<str>,
        pool: Pool,
        owner: &str,
        now: Millis,
        lease_until: Millis,
    ) -> Result<Option<TaskRecord>> {
        let stmt = shared_sql(text).bind(owner).bind(lease_until).bind(now).bind(pool.as_str());
        one(self.db.write(stmt).await?)
    }
}

fn one(rows: Vec<Row>) -> Result<Option<TaskRecord>> {
    rows.first().map(task_from_row).transpose()
}

impl SqlStore {
    /// A fenced single-row transition, its log line and its events, in one transaction.
    async fn transition(
        &self,
        stmt: Stmt<'_>,
        id: &str,
        log: Option<&LogEntry>,
        events: &[StoreEvent],
    ) -> Result<bool> {
        let mut tx = self.db.begin().await?;
        let done = tx.execute(stmt).await?;
        commit_if_one(tx, done, id, log, events).await
    }

    pub(crate) async fn fetch_by_id(&self, id: &str) -> Result<Option<TaskRecord>> {
        let rows = self
            .db
            .read(sql(concat!("SELECT ", task_columns!(), " FROM tasks WHERE id = $1")).bind(id))
            .await?;
        one(rows)
    }
}

#[async_trait]
impl TaskStore for SqlStore {
    async fn insert_task(&self, task: NewTask) -> Result<InsertOutcome> {
        self.insert(task).await
    }

    async fn get_task(&self, key_id: &KeyId, id: RequestId) -> Result<Option<TaskRecord>> {
        let stmt = sql(concat!(
            "SELECT ",
            task_columns!(),
            " FROM tasks WHERE id = $1 AND key_id = $2 AND forgotten_at IS NULL"
        ))
        .bind(id.to_string())
        .bind(key_id);
        one(self.db.read(stmt).await?)
    }

    async fn get_task_any(&self, id: RequestId) -> Result<Option<TaskRecord>> {
        self.fetch_by_id(&id.to_string()).await
    }

    async fn list_tasks(&self, key_id: &KeyId, query: &ListQuery) -> Result<Vec<TaskRecord>> {
        let mut text = String::from(concat!(
            "SELECT ",
            task_columns!(),
            " FROM tasks WHERE key_id = $1 AND forgotten_at IS NULL"
        ));
        let mut n = 1;
        let mut next = || {
            n += 1;
            format!("${n}")
        };
        if query.before_seq.is_some() {
            text.push_str(&format!(" AND seq < {}", next()));
        }
        if query.after_seq.is_some() {
            text.push_str(&format!(" AND seq > {}", next()));
        }
        if let Some(states) = &query.states {
            let marks: Vec<String> = (0..states.len().max(1)).map(|_| next()).collect();
            text.push_str(&format!(" AND state IN ({})", marks.join(", ")));
        }
        let order = if query.ascending { "ASC" } else { "DESC" };
        text.push_str(&format!(" ORDER BY seq {order} LIMIT {}", next()));
        let mut stmt = built_sql(text).bind(key_id);
        for seq in [query.before_seq, query.after_seq].into_iter().flatten() {
            stmt = stmt.bind(seq);
        }
        if let Some(states) = &query.states {
            if states.is_empty() {
                stmt = stmt.bind("none");
            }
            for s in states {
                stmt = stmt.bind(s.as_str());
            }
        }
        let rows = self.db.read(stmt.bind(query.limit)).await?;
        rows.iter().map(task_from_row).collect()
    }

    async fn queue_position(&self, task: &TaskRecord) -> Result<i64> {
        if task.state() != TaskState::Queued {
            return Ok(0);
        }
        let stmt = sql(concat!("SELECT ", position_of_t!(), " AS n FROM tasks t WHERE t.seq = $1"))
            .bind(task.seq);
        match self.db.read_one(stmt).await? {
            Some(row) => row.int("n"),
            None => Ok(0),
        }
    }

    async fn task_status(
        &self,
        key_id: &KeyId,
        id: RequestId,
    ) -> Result<Option<(TaskRecord, Option<i64>)>> {
        let stmt = sql(concat!(
            "SELECT ",
            task_columns!(),
            concat!(", CASE WHEN t.state = ", st!(queued), " THEN "),
            position_of_t!(),
            " END AS queue_position FROM tasks t
              WHERE t.id = $1 AND t.key_id = $2 AND t.forgotten_at IS NULL"
        ))
        .bind(id.to_string())
        .bind(key_id);
        let Some(row) = self.db.read_one(stmt).await? else { return Ok(None) };
        Ok(Some((task_from_row(&row)?, row.opt_int("queue_position")?)))
    }

    async fn task_logs(&self, id: RequestId) -> Result<Vec<LogEntry>> {
        // The first line is the task row's own (`first_log_message`); the rest are stored.
        // Earlier builds stored it too: such a copy (written before an upgrade, or by an older
        // replica during a rolling one) is skipped, not shown twice. No migration deletes
        // them: that would scan the whole log table at startup for a few bytes a request.
        let stmt = sql(concat!(
            "SELECT at, level, message FROM (
               SELECT CAST(0 AS BIGINT) AS o, created_at AS at, 'info' AS level, ",
            first_log_message!("pool"),
            " AS message FROM tasks WHERE id = $1
               UNION ALL
               SELECT seq AS o, at, level, message FROM task_logs
                WHERE task_id = $1 AND message NOT LIKE 'accepted and queued (pool %') l
             ORDER BY o"
        ))
        .bind(id.to_string());
        let rows = self.db.read(stmt).await?;
        rows.iter()
            .map(|r| {
                Ok(LogEntry {
                    at: r.int("at")?,
                    level: crate::LogLevel::parse(&r.text("level")?),
                    message: r.text("message")?,
                })
            })
            .collect()
    }

    async fn cancel_task(
        &self,
        key_id: &KeyId,
        id: RequestId,
        now: Millis,
    ) -> Result<CancelOutcome> {
        let id = id.to_string();
        let mut tx = self.db.begin().await?;
        if cancel_unsent(&mut tx, key_id, &id, now).await? {
            let log = LogEntry::info(now, "cancelled by the caller while queued; never dispatched");
            return commit_if_one(tx, 1, &id, Some(&log), &[StoreEvent::Webhook])
                .await
                .map(|_| CancelOutcome::Cancelled);
        }
        if let Some(log) = flag_cancel(&mut tx, key_id, &id, now).await? {
            return commit_if_one(tx, 1, &id, Some(&log), &[StoreEvent::Dispatch])
                .await
                .map(|_| CancelOutcome::Requested);
        }
        let state = tx
            .fetch_one(
                sql("SELECT state FROM tasks WHERE id = $1 AND key_id = $2 AND forgotten_at IS NULL")
                    .bind(&id)
                    .bind(key_id),
            )
            .await?
            .map(|r| r.text("state"))
            .transpose()?;
        tx.rollback().await?;
        Ok(match state.as_deref().map(str::parse::<TaskState>) {
            None => CancelOutcome::NotFound,
            Some(Ok(s)) if s.is_terminal() => CancelOutcome::AlreadyCompleted,
            Some(Ok(_)) => CancelOutcome::Requested,
            Some(Err(e)) => return Err(StoreError::corrupt(e)),
        })
    }

    async fn forget_task(&self, key_id: &KeyId, id: RequestId, now: Millis) -> Result<bool> {
        let id = id.to_string();
        let stmt = sql("UPDATE tasks SET forgotten_at = $1, updated_at = $1
                 WHERE id = $2 AND key_id = $3 AND forgotten_at IS NULL")
        .bind(now)
        .bind(&id)
        .bind(key_id);
        let log = LogEntry::info(now, "deleted by its owner: gone from its key's reads and lists");
        let mut tx = self.db.begin().await?;
        let done = tx.execute(stmt).await?;
        if done == 1 {
            // Its Idempotency-Key goes with it: a replay would otherwise answer a request its
            // key can no longer read. (Its session id stays claimed: the upstream dedupes
            // session ids for three days whatever vidgate forgets.)
            tx.execute(sql("DELETE FROM dedup WHERE task_id = $1 AND kind = 'idem'").bind(&id))
                .await?;
        }
        commit_if_one(tx, done, &id, Some(&log), &[]).await
    }

    async fn claim_next_queued(
        &self,
        pool: Pool,
        slots: &[Slot],
        owner: &str,
        now: Millis,
        lease_until: Millis,
    ) -> Result<Option<Claimed<SubmitClaim>>> {
        // Claims in one pool take turns across replicas, so each account's slot count and each
        // key's running count (`max_running`, which spans accounts) are exact. A claim is one
        // short statement; the upstream's slots, not this lock, bound how fast jobs start.
        let lock = format!("vidgate-slots/{pool}");
        for slot in slots {
            let stmt = shared_sql(&self.claims.queued)
                .bind(&slot.account)
                .bind(owner)
                .bind(lease_until)
                .bind(now)
                .bind(pool.as_str())
                .bind(slot.limit)
                .bind(self.max_running_per_key);
            if let Some(task) = one(self.db.write_exclusive(&lock, stmt).await?)? {
                self.db.announce(&[StoreEvent::Task(task.id)]).await?;
                return Claimed::submit(task).map(Some);
            }
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
        let stmt = sql(concat!(
            "UPDATE tasks SET state = ",
            st!(running),
            ", upstream_task_id = $1, submitted_at = $2,
                     updated_at = $2, next_poll_at = $3, lease_owner = NULL, lease_until = NULL,
                     crashes = 0
                 WHERE id = $4 AND fence = $5 AND state = ",
            st!(submitting),
            " AND lease_until IS NOT NULL"
        ))
        .bind(upstream_task_id)
        .bind(now)
        .bind(next_poll_at)
        .bind(&id)
        .bind(lease.fence);
        self.transition(stmt, &id, Some(&log), &[StoreEvent::Poll]).await
    }

    async fn requeue(
        &self,
        lease: Lease,
        run_after: Millis,
        now: Millis,
        log: LogEntry,
    ) -> Result<bool> {
        let id = lease.id.to_string();
        let stmt = sql(concat!(
            "UPDATE tasks SET state = ",
            st!(queued),
            ", run_after = $1, updated_at = $2,
                     lease_owner = NULL, lease_until = NULL
                 WHERE id = $3 AND fence = $4 AND state = ",
            st!(submitting),
            " AND lease_until IS NOT NULL"
        ))
        .bind(run_after)
        .bind(now)
        .bind(&id)
        .bind(lease.fence);
        self.transition(stmt, &id, Some(&log), &[StoreEvent::Dispatch]).await
    }

    async fn claim_next_poll(
        &self,
        pool: Pool,
        owner: &str,
        now: Millis,
        lease_until: Millis,
    ) -> Result<Option<Claimed<PollClaim>>> {
        let claim = self.claim_due(&self.claims.poll, pool, owner, now, lease_until).await?;
        claim.map(Claimed::poll).transpose()
    }

    async fn claim_next_reconcile(
        &self,
        pool: Pool,
        owner: &str,
        now: Millis,
        lease_until: Millis,
    ) -> Result<Option<Claimed<FollowClaim>>> {
        let claim = self.claim_due(&self.claims.reconcile, pool, owner, now, lease_until).await?;
        claim.map(Claimed::reconcile).transpose()
    }

    async fn defer_reconcile(
        &self,
        lease: Lease,
        next_poll_at: Millis,
        now: Millis,
    ) -> Result<bool> {
        self.reconcile_later(lease, next_poll_at, now).await
    }

    async fn end_reconcile(
        &self,
        lease: Lease,
        end: FollowEnd,
        now: Millis,
        log: LogEntry,
    ) -> Result<bool> {
        self.reconcile_done(lease, end, now, log).await
    }

    async fn attach_upstream(
        &self,
        id: RequestId,
        upstream_task_id: &str,
        now: Millis,
    ) -> Result<bool> {
        self.follow_job(id, upstream_task_id, now).await
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
        let stmt = sql(concat!(
            "UPDATE tasks SET progress = CASE WHEN progress > $1 THEN progress ELSE $1 END,
                     updated_at = $3,
                     next_poll_at = CASE WHEN poll_event = 1 AND next_poll_at < $2
                                         THEN next_poll_at ELSE $2 END, poll_event = 0,
                     crashes = 0, lease_owner = NULL, lease_until = NULL
                 WHERE id = $4 AND fence = $5 AND state = ",
            st!(running),
            " AND lease_until IS NOT NULL"
        ))
        .bind(progress.clamp(0, 100))
        .bind(next_poll_at)
        .bind(now)
        .bind(&id)
        .bind(lease.fence);
        self.transition(stmt, &id, log.as_ref(), &[]).await
    }

    async fn complete(
        &self,
        lease: Lease,
        completion: Completion,
        now: Millis,
        log: LogEntry,
    ) -> Result<bool> {
        let id = lease.id.to_string();
        let (result, error, error_type) = end_columns(&completion);
        let progress = if matches!(completion, Completion::Succeeded { .. }) { 100 } else { -1 };
        let (cost, charge) = match &completion {
            Completion::Succeeded { charge, .. } => (
                charge.cost.as_ref().map(|c| c.amount),
                Some(serde_json::to_string(charge).map_err(StoreError::corrupt)?),
            ),
            _ => (None, None),
        };
        // A detached job is followed from now: it keeps its slot (the account's count below
        // includes it) and its hold.
        let follow_until = match &completion {
            Completion::Detached { follow_until, .. } => Some(*follow_until),
            _ => None,
        };
        let stmt = sql(concat!(
            "UPDATE tasks SET state = $1, result = $2, error = $3, error_type = $4,
                     finished_at = $5, updated_at = $5, cost = $9, charge = $10,
                     progress = CASE WHEN $6 >= 0 THEN $6 ELSE progress END,
                     lease_owner = NULL, lease_until = NULL, reconcile_until = $11,
                     next_poll_at = CASE WHEN $11 IS NULL THEN NULL ELSE $5 END
                 WHERE id = $7 AND fence = $8 AND state IN (",
            st!(submitting),
            ", ",
            st!(running),
            ")
                   AND lease_until IS NOT NULL"
        ))
        .bind(completion.state().as_str())
        .bind(result)
        .bind(error)
        .bind(error_type)
        .bind(now)
        .bind(progress)
        .bind(&id)
        .bind(lease.fence)
        .bind(cost)
        .bind(charge)
        .bind(follow_until);
        let mut tx = self.db.begin().await?;
        if tx.execute(stmt).await? != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        match &completion {
            Completion::Succeeded { charge, .. } => {
                let how = Close::Settle {
                    cost: charge.cost.as_ref(),
                    usage: charge.usage.as_ref(),
                    note: None,
                };
                ledger::close(&mut tx, &id, now, how).await?;
            }
            Completion::Failed { .. } | Completion::Cancelled => {
                ledger::close(&mut tx, &id, now, Close::Release { note: None }).await?;
            }
            Completion::Detached { .. } => {}
        }
        super::webhooks::enqueue(&mut tx, &id, now).await?;
        // A freed slot (unless detached): dispatchers look; the webhook sender too; a
        // detached job is due for the follower.
        let events = [StoreEvent::Dispatch, StoreEvent::Webhook, StoreEvent::Poll];
        commit_if_one(tx, 1, &id, Some(&log), &events).await
    }

    async fn make_due(
        &self,
        id: Option<RequestId>,
        upstream_task_id: &str,
        now: Millis,
        min_gap: Millis,
    ) -> Result<bool> {
        // The upstream task id must match, and the request id too when the event names one:
        // an event can only hurry the poll of the task it is about, and never to less than
        // `min_gap` after the last poll began. An event that would change nothing (one is
        // already recorded for that time) writes nothing: replays cost no writes either.
        let done = self
            .db
            .execute(
                sql(concat!(
                    "UPDATE tasks SET poll_event = 1, updated_at = $1, next_poll_at = ",
                    event_due!(),
                    " WHERE state = ",
                    st!(running),
                    " AND upstream_task_id = $3
                       AND ($2 IS NULL OR id = $2)
                       AND (poll_event = 0 OR next_poll_at IS NULL OR next_poll_at > ",
                    event_due!(),
                    ")"
                ))
                .bind(now)
                .bind(id.map(|i| i.to_string()))
                .bind(upstream_task_id)
                .bind(min_gap.max(0)),
            )
            .await?;
        if done > 0 {
            self.db.announce(&[StoreEvent::Poll]).await?;
        }
        Ok(done > 0)
    }

    async fn extend_lease(&self, lease: Lease, until: Millis) -> Result<bool> {
        let done = self
            .db
            .execute(
                sql(concat!(
                    "UPDATE tasks SET lease_until = $1
                     WHERE id = $2 AND fence = $3 AND state IN (",
                    st!(submitting),
                    ", ",
                    st!(running),
                    ")
                       AND lease_until IS NOT NULL"
                ))
                .bind(until)
                .bind(lease.id.to_string())
                .bind(lease.fence),
            )
            .await?;
        Ok(done == 1)
    }

    async fn append_log(&self, id: RequestId, entry: LogEntry) -> Result<()> {
        let mut tx = self.db.begin().await?;
        insert_log(&mut tx, &id.to_string(), &entry).await?;
        tx.commit().await
    }

    async fn reap(&self, now: Millis, limits: ReapLimits) -> Result<ReapReport> {
        super::reap::reap(self, now, limits).await
    }

    async fn queue_stats(&self, pool: Pool) -> Result<crate::QueueStats> {
        self.pool_stats(pool).await
    }

    async fn slots_in_use(&self, pool: Pool) -> Result<Vec<(String, i64)>> {
        let rows = self
            .db
            .read(
                sql(concat!(
                    "SELECT account, count(*) AS n FROM tasks
                     WHERE pool = $1 AND (state IN (",
                    st!(submitting),
                    ", ",
                    st!(running),
                    ") OR reconcile_until IS NOT NULL)
                     GROUP BY account ORDER BY account"
                ))
                .bind(pool.as_str()),
            )
            .await?;
        rows.iter().map(|r| Ok((r.opt_text("account")?.unwrap_or_default(), r.int("n")?))).collect()
    }
}

/// The `result`, `error` and `error_type` a completion writes.
fn end_columns(completion: &Completion) -> (Option<String>, Option<&str>, Option<ErrorType>) {
    match completion {
        Completion::Succeeded { result, .. } => {
            (Some(crate::result_column::encode(result)), None, None)
        }
        Completion::Failed { error, error_type }
        | Completion::Detached { error, error_type, .. } => {
            (None, Some(error.as_str()), Some(error_type.clone()))
        }
        Completion::Cancelled => (None, Some(CANCELLED_MESSAGE), Some(ErrorType::Cancelled)),
    }
}
