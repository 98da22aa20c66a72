//! Row → record mapping (the column types line up on both backends: TEXT and 64-bit
//! integers, and a boolean that SQLite keeps as an integer), and the column lists the
//! queries select.

use vidgate_domain::pricing::Credits;
use vidgate_domain::{ErrorType, StoredResult, TaskState, VideoRequest};

use crate::db::Row;
use crate::phase::{CANCELLED_MESSAGE, End, Ended, Follow, Held, Phase, UpstreamJob};
use crate::{KeyRecord, Result, StoreError, TaskRecord};

/// The columns of `tasks` in the order `task_from_row` reads them (a macro so it can be
/// spliced into `&'static str` SQL with `concat!`).
macro_rules! task_columns {
    () => {
        "seq, id, key_id, pool, state, rank, request, created_at, updated_at, run_after, \
         deadline_at, dispatched_at, submitted_at, finished_at, fence, submit_attempts, \
         lease_owner, lease_until, account, upstream_task_id, next_poll_at, progress, \
         cancel_requested, result, error, error_type, webhook_url, public_base, quote, charge, \
         forgotten_at, reconcile_until"
    };
}
pub(crate) use task_columns;

/// A `tasks` row as stored, decoded by column name (`task_columns!`), before its values are
/// read into their types.
#[derive(sqlx::FromRow)]
struct TaskRow {
    seq: i64,
    id: String,
    key_id: String,
    pool: String,
    state: String,
    rank: i64,
    request: String,
    created_at: i64,
    updated_at: i64,
    run_after: i64,
    deadline_at: i64,
    dispatched_at: Option<i64>,
    submitted_at: Option<i64>,
    finished_at: Option<i64>,
    fence: i64,
    submit_attempts: i64,
    lease_owner: Option<String>,
    lease_until: Option<i64>,
    account: Option<String>,
    upstream_task_id: Option<String>,
    next_poll_at: Option<i64>,
    progress: i64,
    cancel_requested: bool,
    result: Option<String>,
    error: Option<String>,
    error_type: Option<String>,
    webhook_url: Option<String>,
    public_base: Option<String>,
    quote: Option<String>,
    charge: Option<String>,
    forgotten_at: Option<i64>,
    reconcile_until: Option<i64>,
}

impl TryFrom<TaskRow> for TaskRecord {
    type Error = StoreError;

    fn try_from(r: TaskRow) -> Result<TaskRecord> {
        let id = r.id;
        let corrupt = |what: &str, e: &dyn std::fmt::Display| {
            StoreError::corrupt(format!("task {id} {what}: {e}"))
        };
        let state: TaskState = r.state.parse().map_err(|e| corrupt("state", &e))?;
        let result = r
            .result
            .map(|t| crate::result_column::decode(&t))
            .transpose()
            .map_err(|e| corrupt("result", &e))?;
        let phase = PhaseColumns {
            lease_owner: r.lease_owner,
            lease_until: r.lease_until,
            upstream_task_id: r.upstream_task_id,
            submitted_at: r.submitted_at,
            next_poll_at: r.next_poll_at,
            finished_at: r.finished_at,
            result,
            error: r.error,
            error_type: r.error_type.map(|t| ErrorType::parse(&t)),
            reconcile_until: r.reconcile_until,
        }
        .phase(state)
        .map_err(|e| corrupt("phase", &e))?;
        Ok(TaskRecord {
            seq: r.seq,
            id: id.parse().map_err(|e| corrupt("id", &e))?,
            key_id: r.key_id.into(),
            pool: r.pool.parse().map_err(|e| corrupt("pool", &e))?,
            rank: r.rank,
            request: VideoRequest::from_stored(&r.request).map_err(|e| corrupt("request", &e))?,
            created_at: r.created_at,
            updated_at: r.updated_at,
            run_after: r.run_after,
            deadline_at: r.deadline_at,
            dispatched_at: r.dispatched_at,
            fence: r.fence,
            submit_attempts: r.submit_attempts,
            account: r.account,
            progress: r.progress,
            cancel_requested: r.cancel_requested,
            webhook_url: r.webhook_url,
            public_base: r.public_base,
            quote: json(r.quote).map_err(|e| corrupt("quote", &e))?,
            charge: json(r.charge).map_err(|e| corrupt("charge", &e))?,
            forgotten_at: r.forgotten_at,
            phase,
        })
    }
}

/// The columns a task's phase is read from.
struct PhaseColumns {
    lease_owner: Option<String>,
    lease_until: Option<i64>,
    upstream_task_id: Option<String>,
    submitted_at: Option<i64>,
    next_poll_at: Option<i64>,
    finished_at: Option<i64>,
    result: Option<StoredResult>,
    error: Option<String>,
    error_type: Option<ErrorType>,
    reconcile_until: Option<i64>,
}

impl PhaseColumns {
    /// What `state` says the row must have. An active task missing any of it is an error; an
    /// ended one missing its reason (rows from before reasons were always written) reads with
    /// the reason its state implies.
    fn phase(self, state: TaskState) -> std::result::Result<Phase, String> {
        let lease = match (self.lease_owner, self.lease_until) {
            (Some(owner), Some(until)) => Some(Held { owner, until }),
            _ => None,
        };
        let job = match (self.upstream_task_id, self.submitted_at) {
            (Some(upstream_task_id), Some(submitted_at)) => {
                Some(UpstreamJob { upstream_task_id, submitted_at })
            }
            (Some(_), None) => return Err("an upstream task id without submitted_at".into()),
            (None, _) => None,
        };
        let missing = |what: &str| format!("{state} without {what}");
        Ok(match state {
            TaskState::Queued => Phase::Queued,
            TaskState::Submitting => Phase::Submitting { lease: lease.ok_or(missing("a lease"))? },
            TaskState::Running => Phase::Running {
                job: job.ok_or(missing("an upstream job"))?,
                next_poll_at: self.next_poll_at.ok_or(missing("next_poll_at"))?,
                lease,
            },
            TaskState::Succeeded | TaskState::Failed | TaskState::Cancelled => {
                let cancelled = state == TaskState::Cancelled;
                let end = match (state, self.result) {
                    (TaskState::Succeeded, Some(result)) => End::Succeeded(Box::new(result)),
                    (TaskState::Succeeded, None) => return Err(missing("a result")),
                    _ => {
                        let (fallback_error, fallback_type) = if cancelled {
                            (CANCELLED_MESSAGE, ErrorType::Cancelled)
                        } else {
                            ("the request failed", ErrorType::UpstreamError)
                        };
                        let error = self.error.unwrap_or_else(|| fallback_error.into());
                        let error_type = self.error_type.unwrap_or(fallback_type);
                        if cancelled {
                            End::Cancelled { error, error_type }
                        } else {
                            End::Failed { error, error_type }
                        }
                    }
                };
                let follow = match self.reconcile_until {
                    Some(until) => Some(Follow {
                        until,
                        next_poll_at: self.next_poll_at.ok_or(missing("next_poll_at"))?,
                        lease,
                    }),
                    None => None,
                };
                let finished_at = self.finished_at.ok_or(missing("finished_at"))?;
                Phase::Ended(Box::new(Ended { finished_at, end, job, follow }))
            }
        })
    }
}

pub(crate) fn task_from_row(row: &Row) -> Result<TaskRecord> {
    row.decode::<TaskRow>()?.try_into()
}

/// A JSON column, `None` when NULL.
fn json<T: serde::de::DeserializeOwned>(text: Option<String>) -> serde_json::Result<Option<T>> {
    text.map(|t| serde_json::from_str(&t)).transpose()
}

/// An `api_keys` row as stored, decoded by column name (`key_columns!` in `sql/keys.rs`).
#[derive(sqlx::FromRow)]
struct KeyRow {
    id: String,
    name: String,
    prefix: String,
    created_at: i64,
    revoked_at: Option<i64>,
    create_rate: Option<f64>,
    create_burst: Option<i64>,
    max_queued: Option<i64>,
    max_body_bytes: Option<i64>,
    max_running: Option<i64>,
    media_retention: Option<i64>,
    role: String,
    /// An integer on SQLite, a boolean on PostgreSQL; `bool` reads both.
    prepaid: bool,
    day_limit: Option<i64>,
    month_limit: Option<i64>,
}

pub(crate) fn key_from_row(row: &Row) -> Result<KeyRecord> {
    let r: KeyRow = row.decode()?;
    Ok(KeyRecord {
        id: r.id.into(),
        name: r.name,
        prefix: r.prefix,
        created_at: r.created_at,
        revoked_at: r.revoked_at,
        limits: crate::KeyLimits {
            create_rate: r.create_rate,
            create_burst: r.create_burst,
            max_queued: r.max_queued,
            max_body_bytes: r.max_body_bytes,
            max_running: r.max_running,
            media_retention_secs: r.media_retention,
        },
        role: crate::KeyRole::parse(&r.role),
        budget: crate::KeyBudget {
            prepaid: r.prepaid,
            day_limit: r.day_limit.map(Credits::from_micros),
            month_limit: r.month_limit.map(Credits::from_micros),
        },
    })
}

macro_rules! delivery_columns {
    () => {
        "id, task_id, key_id, url, payload, state, attempts, next_attempt_at, created_at, \
         delivered_at, fence, last_status, last_error"
    };
}
pub(crate) use delivery_columns;

/// A `webhook_deliveries` row as stored (`delivery_columns!`).
#[derive(sqlx::FromRow)]
struct DeliveryRow {
    id: String,
    task_id: String,
    key_id: String,
    url: String,
    payload: Option<String>,
    state: String,
    attempts: i64,
    next_attempt_at: i64,
    created_at: i64,
    delivered_at: Option<i64>,
    fence: i64,
    last_status: Option<i64>,
    last_error: Option<String>,
}

pub(crate) fn delivery_from_row(row: &Row) -> Result<crate::Delivery> {
    let r: DeliveryRow = row.decode()?;
    let task_id = r.task_id.parse().map_err(|e| {
        StoreError::corrupt(format!("delivery {} task id {:?}: {e}", r.id, r.task_id))
    })?;
    Ok(crate::Delivery {
        id: r.id.into(),
        task_id,
        key_id: r.key_id.into(),
        url: r.url,
        payload: r.payload,
        state: crate::DeliveryState::parse(&r.state),
        attempts: r.attempts,
        next_attempt_at: r.next_attempt_at,
        created_at: r.created_at,
        delivered_at: r.delivered_at,
        fence: r.fence,
        last_status: r.last_status,
        last_error: r.last_error,
    })
}

pub(crate) fn attempt_from_row(row: &Row) -> Result<crate::Attempt> {
    Ok(crate::Attempt {
        at: row.int("at")?,
        status: row.opt_int("status")?,
        error: row.opt_text("error")?,
        duration_ms: row.int("duration_ms")?,
    })
}

pub(crate) fn secrets_from_row(
    row: &Row,
    now: vidgate_domain::Millis,
) -> Result<Option<crate::WebhookSecrets>> {
    let Some(current) = row.opt_text("webhook_secret")? else { return Ok(None) };
    let previous =
        match (row.opt_text("previous_webhook_secret")?, row.opt_int("previous_secret_until")?) {
            (Some(p), Some(until)) if until > now => Some(p),
            _ => None,
        };
    Ok(Some(crate::WebhookSecrets { current, previous }))
}
