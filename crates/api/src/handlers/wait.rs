//! `Prefer: wait[=N]` on a create (Replicate's convention, RFC 7240): the call is held until
//! the request ends or N seconds (at most 60, the default) pass, following the store's
//! change feed, so a finish on another replica ends the wait as promptly as one here.

use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue};
use tokio::sync::broadcast::error::RecvError;
use vidgate_store::{TaskChange, TaskRecord};

use crate::{ApiError, AppState};

/// The longest a create may be held.
pub const MAX_WAIT: Duration = Duration::from_secs(60);

/// A missed change (a lagging follower, a dropped notice) is caught by reading again this
/// often.
const RECHECK: Duration = Duration::from_secs(1);

/// The wait asked for by `Prefer`, if any. Other preferences are ignored, as RFC 7240 asks;
/// a `wait` that is not a whole number of seconds from 1 to 60 is refused.
pub fn prefer_wait(headers: &HeaderMap) -> Result<Option<Duration>, ApiError> {
    let mut wait = None;
    for value in headers.get_all("prefer") {
        let bad = || {
            ApiError::invalid(
                &["header", "prefer"],
                "value_error",
                "Prefer: wait takes a whole number of seconds from 1 to 60 (wait=30), or none (wait: 60 s)",
            )
        };
        let value = value.to_str().map_err(|_| bad())?;
        for preference in value.split(',') {
            let preference = preference.split(';').next().unwrap_or("").trim();
            let (name, arg) = match preference.split_once('=') {
                Some((n, a)) => (n.trim(), Some(a.trim().trim_matches('"'))),
                None => (preference, None),
            };
            if !name.eq_ignore_ascii_case("wait") {
                continue;
            }
            wait = Some(match arg {
                None => MAX_WAIT,
                Some(a) => a
                    .parse::<u64>()
                    .ok()
                    .filter(|n| (1..=MAX_WAIT.as_secs()).contains(n))
                    .map(Duration::from_secs)
                    .ok_or_else(bad)?,
            });
        }
    }
    Ok(wait)
}

/// `Preference-Applied` for the wait that was honoured.
pub fn preference_applied(wait: Duration) -> (&'static str, HeaderValue) {
    let value = HeaderValue::from_str(&format!("wait={}", wait.as_secs()))
        .unwrap_or(HeaderValue::from_static("wait"));
    ("preference-applied", value)
}

/// The request once it has ended, or as it stands when `wait` has passed or the process
/// begins to shut down (a held call must not hold the shutdown; the caller polls on). A store
/// error while waiting ends the wait with what is known (the create is committed).
pub async fn until_done(
    state: &AppState,
    key_id: &vidgate_domain::KeyId,
    task: TaskRecord,
    wait: Duration,
) -> TaskRecord {
    let id = task.id;
    let until = tokio::time::Instant::now() + wait;
    let mut changes = state.changes.follow();
    let mut latest = task;
    loop {
        // Read after subscribing: a change between the two is not lost.
        match state.store.get_task(key_id, id).await {
            Ok(Some(t)) => latest = t,
            Ok(None) => return latest,
            Err(e) => {
                tracing::warn!(error = %e, "reading a waited-for request failed; answering what is known");
                return latest;
            }
        }
        if latest.state().is_terminal() {
            return latest;
        }
        let now = tokio::time::Instant::now();
        if now >= until {
            return latest;
        }
        let next_look = until.min(now + RECHECK);
        loop {
            let change = tokio::select! {
                _ = state.streams_closed.cancelled() => return latest,
                change = tokio::time::timeout_at(next_look, changes.recv()) => change,
            };
            match change {
                Ok(Ok(TaskChange::One(changed))) if changed != id => continue,
                Ok(Ok(_)) | Ok(Err(RecvError::Lagged(_))) | Err(_) => break,
                // The feed is gone (shutting down): stop holding the call.
                Ok(Err(RecvError::Closed)) => return latest,
            }
        }
    }
}
