//! `GET …/requests/{id}/status/stream`: Server-Sent Events, one `data:` status object (the
//! status route's shape) per change, a comment every 15 s, closed after `COMPLETED`. Changes
//! come from this process's workers and, through the store, from other replicas; a re-read
//! every half second catches the rest (queue positions move as others leave the queue), so a
//! change anywhere shows within a second. With `?logs=1` each event carries the log entries
//! new since the previous event (fal's JavaScript client accumulates them). A browser
//! `EventSource` can authenticate with the `token` the status route hands out.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use serde::Deserialize;
use tokio::sync::broadcast;
use utoipa::IntoParams;
use vidgate_domain::RequestId;
use vidgate_store::{LogEntry, TaskChange};

use super::status::status_of;
use crate::auth::{authenticate, client_address, has_authorization};
use crate::base_url::BaseUrl;
use crate::extract::{QueryParams, logs_flag, parse_request_id};
use crate::limits::Bucket;
use crate::stream_limit::StreamSlot;
use crate::views::LogLine;
use crate::{ApiError, AppState};
use vidgate_wire::token::Grant;

const RECHECK: Duration = Duration::from_millis(500);
const KEEP_ALIVE: Duration = Duration::from_secs(15);

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamParams {
    /// `1`/`true`: each event carries the log entries new since the previous one.
    #[param(value_type = Option<crate::openapi::LogsParam>)]
    pub logs: Option<String>,
    /// The `stream_url` token from the status route, instead of an `Authorization` header.
    pub token: Option<String>,
}

/// How often a stream checks that its key still works (a revoked key's streams end).
const KEY_RECHECK: Duration = Duration::from_secs(2);

struct Follow {
    /// Holds this stream's place in the key's open-stream count until the stream ends.
    _slot: StreamSlot,
    key_checked: tokio::time::Instant,
    state: AppState,
    id: RequestId,
    key_id: vidgate_domain::KeyId,
    base: BaseUrl,
    logs: bool,
    changes: broadcast::Receiver<TaskChange>,
    last: Option<String>,
    logs_sent: usize,
    done: bool,
}

impl Follow {
    /// The next event: waits until something about the request changed.
    async fn next(&mut self) -> Option<Event> {
        if self.done || self.state.streams_closed.is_cancelled() {
            return None;
        }
        loop {
            if self.key_checked.elapsed() >= KEY_RECHECK {
                match self.state.store.active_key_hash(&self.key_id).await {
                    Ok(Some(_)) => self.key_checked = tokio::time::Instant::now(),
                    // Revoked (or the store cannot say): the stream ends.
                    _ => return None,
                }
            }
            let task = match self.state.store.get_task(&self.key_id, self.id).await {
                Ok(Some(t)) => t,
                _ => return None,
            };
            let mut body = status_of(&self.state, &task, &self.base, false).await.ok()?;
            let fingerprint = serde_json::to_string(&body).unwrap_or_default();
            let mut new_logs: Vec<LogEntry> = Vec::new();
            if self.logs {
                let all = self.state.store.task_logs(self.id).await.ok()?;
                new_logs = all.into_iter().skip(self.logs_sent).collect();
            }
            if self.last.as_deref() != Some(&fingerprint) || !new_logs.is_empty() {
                self.last = Some(fingerprint);
                if self.logs {
                    self.logs_sent += new_logs.len();
                    body.logs = Some(new_logs.iter().map(LogLine::from).collect());
                }
                self.done = task.state().is_terminal();
                return Event::default().json_data(&body).ok();
            }
            self.wait_for_change().await;
            if self.state.streams_closed.is_cancelled() {
                return None;
            }
        }
    }

    async fn wait_for_change(&mut self) {
        let deadline = tokio::time::sleep(RECHECK);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                _ = &mut deadline => return,
                _ = self.state.streams_closed.cancelled() => return,
                got = self.changes.recv() => match got {
                    Ok(TaskChange::One(id)) if id == self.id => return,
                    Ok(TaskChange::All) => return,
                    Ok(TaskChange::One(_)) => {}
                    Err(broadcast::error::RecvError::Lagged(_)) => return,
                    Err(broadcast::error::RecvError::Closed) => { deadline.as_mut().await; return; }
                },
            }
        }
    }
}

/// A live status stream (Server-Sent Events) until the request completes.
#[utoipa::path(
    get, path = "/tencent-vod/v1/aigc-video/requests/{request_id}/status/stream", tag = "queue",
    params(("request_id" = String, Path, description = "The request id."), StreamParams),
    responses(
        (status = 200, description = "`text/event-stream`: one `data:` status object per change; closed after COMPLETED.", content_type = "text/event-stream", body = crate::openapi::StatusEvent),
        (status = 401, description = "Missing, unknown or revoked API key, or a bad or expired token (also for a request id that does not exist, when a token is used).", body = crate::openapi::ErrorBody),
        (status = 404, description = "No such request for this key.", body = crate::openapi::ErrorBody),
        (status = 422, description = "Invalid `logs` value.", body = crate::openapi::ValidationErrorBody),
        (status = 429, description = "Rate limit reached for this key or client address, or too many open streams for this key; see `Retry-After`.", body = crate::openapi::ErrorBody),
    ),
    security(("bearer" = []), ("key" = []), ())
)]
pub async fn stream_status(
    State(state): State<AppState>,
    base: BaseUrl,
    headers: HeaderMap,
    extensions: axum::http::Extensions,
    Path(id): Path<String>,
    QueryParams(params): QueryParams<StreamParams>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let logs = logs_flag(params.logs.as_deref())?;
    let id = parse_request_id(&id)?;
    let key_id = match params.token.as_deref() {
        Some(token) if !has_authorization(&headers) => {
            let client = client_address(&extensions);
            crate::auth::by_token(&state, &client, Grant::Stream(id), token).await?.key_id
        }
        _ => authenticate(&headers, &extensions, &state).await?.0.id,
    };
    // Opening a stream is a call like any other: it draws on the key's read bucket.
    let limits = vidgate_store::KeyLimits::default();
    state.rates.take(&key_id, &limits, Bucket::Read, &state.config.limits, state.clock.now_ms())?;
    if state.store.get_task(&key_id, id).await?.is_none() {
        return Err(ApiError::request_not_found());
    }
    let slot = state.streams.open(&key_id, state.config.limits.max_streams_per_key)?;
    let follow = Follow {
        _slot: slot,
        key_checked: tokio::time::Instant::now(),
        changes: state.changes.follow(),
        state,
        id,
        key_id,
        base,
        logs,
        last: None,
        logs_sent: 0,
        done: false,
    };
    let stream =
        futures::stream::unfold(follow, |mut f| async move { f.next().await.map(|e| (Ok(e), f)) });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEP_ALIVE).text("keep-alive")))
}
