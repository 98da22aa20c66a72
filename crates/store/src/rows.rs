//! Row → record mapping (the column types line up on both backends: TEXT and 64-bit
//! integers, and a boolean that SQLite keeps as an integer), and the column lists the
//! queries select.

use vidgate_domain::pricing::Credits;
use vidgate_domain::{ErrorType, VideoRequest};

use crate::db::Row;
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

pub(crate) fn task_from_row(row: &Row) -> Result<TaskRecord> {
    let id = row.text("id")?;
    let state = row.text("state")?;
    let request = row.text("request")?;
    let result = row.opt_text("result")?;
    Ok(TaskRecord {
        seq: row.int("seq")?,
        id: id.parse().map_err(|e| StoreError::corrupt(format!("task id {id:?}: {e}")))?,
        key_id: row.text("key_id")?,
        pool: row.text("pool")?,
        state: state.parse().map_err(StoreError::corrupt)?,
        rank: row.int("rank")?,
        request: VideoRequest::from_stored(&request)
            .map_err(|e| StoreError::corrupt(format!("task {id} request: {e}")))?,
        created_at: row.int("created_at")?,
        updated_at: row.int("updated_at")?,
        run_after: row.int("run_after")?,
        deadline_at: row.int("deadline_at")?,
        dispatched_at: row.opt_int("dispatched_at")?,
        submitted_at: row.opt_int("submitted_at")?,
        finished_at: row.opt_int("finished_at")?,
        fence: row.int("fence")?,
        submit_attempts: row.int("submit_attempts")?,
        lease_owner: row.opt_text("lease_owner")?,
        lease_until: row.opt_int("lease_until")?,
        account: row.opt_text("account")?,
        upstream_task_id: row.opt_text("upstream_task_id")?,
        next_poll_at: row.opt_int("next_poll_at")?,
        progress: row.int("progress")?,
        cancel_requested: row.flag("cancel_requested")?,
        result: result
            .map(|r| serde_json::from_str(&r))
            .transpose()
            .map_err(|e| StoreError::corrupt(format!("task {id} result: {e}")))?,
        error: row.opt_text("error")?,
        error_type: row.opt_text("error_type")?.map(|t| ErrorType::parse(&t)),
        webhook_url: row.opt_text("webhook_url")?,
        public_base: row.opt_text("public_base")?,
        quote: json_column(row, "quote", &id)?,
        charge: json_column(row, "charge", &id)?,
        forgotten_at: row.opt_int("forgotten_at")?,
        following_until: row.opt_int("reconcile_until")?,
    })
}

/// A JSON column of a task, `None` when NULL.
fn json_column<T: serde::de::DeserializeOwned>(row: &Row, c: &str, id: &str) -> Result<Option<T>> {
    row.opt_text(c)?
        .map(|t| serde_json::from_str(&t))
        .transpose()
        .map_err(|e| StoreError::corrupt(format!("task {id} {c}: {e}")))
}

pub(crate) fn key_from_row(row: &Row) -> Result<KeyRecord> {
    Ok(KeyRecord {
        id: row.text("id")?,
        name: row.text("name")?,
        prefix: row.text("prefix")?,
        created_at: row.int("created_at")?,
        revoked_at: row.opt_int("revoked_at")?,
        limits: crate::KeyLimits {
            create_rate: row.opt_float("create_rate")?,
            create_burst: row.opt_int("create_burst")?,
            max_queued: row.opt_int("max_queued")?,
            max_body_bytes: row.opt_int("max_body_bytes")?,
            max_running: row.opt_int("max_running")?,
            media_retention_secs: row.opt_int("media_retention")?,
        },
        role: crate::KeyRole::parse(&row.text("role")?),
        budget: crate::KeyBudget {
            prepaid: row.flag("prepaid")?,
            day_limit: row.opt_int("day_limit")?.map(Credits::from_micros),
            month_limit: row.opt_int("month_limit")?.map(Credits::from_micros),
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

pub(crate) fn delivery_from_row(row: &Row) -> Result<crate::Delivery> {
    let task_id = row.text("task_id")?;
    Ok(crate::Delivery {
        id: row.text("id")?,
        task_id: task_id
            .parse()
            .map_err(|e| StoreError::corrupt(format!("delivery task id {task_id:?}: {e}")))?,
        key_id: row.text("key_id")?,
        url: row.text("url")?,
        payload: row.opt_text("payload")?,
        state: crate::DeliveryState::parse(&row.text("state")?),
        attempts: row.int("attempts")?,
        next_attempt_at: row.int("next_attempt_at")?,
        created_at: row.int("created_at")?,
        delivered_at: row.opt_int("delivered_at")?,
        fence: row.int("fence")?,
        last_status: row.opt_int("last_status")?,
        last_error: row.opt_text("last_error")?,
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
