//! `/admin/`: what admin keys (role `admin`) may do over HTTP, so operators of a replicated
//! deployment need no shell on the database host: manage keys (create, revoke, limits,
//! budgets, top-ups), add or correct model-catalog entries, read anyone's usage, ledger and
//! requests, cancel any request, and read the audit log every one of these changes writes to.

pub mod keys;
pub mod models;
pub mod reconcile;
pub mod reports;
pub mod requests;

use serde::de::DeserializeOwned;
use serde_json::Value;
use vidgate_store::{KeyRecord, NewAudit};

use crate::{ApiError, AppState};

/// A JSON body read into `T`; a wrong field answers 422 naming it (`["body", "budget",
/// "day_limit"]`).
pub(crate) fn typed<T: DeserializeOwned>(body: Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(body).map_err(|e| {
        let mut loc = vec!["body".to_owned()];
        loc.extend(
            e.path()
                .to_string()
                .split('.')
                .filter(|s| !s.is_empty() && *s != "?")
                .map(str::to_owned),
        );
        let loc: Vec<&str> = loc.iter().map(String::as_str).collect();
        ApiError::invalid(&loc, "value_error", e.inner().to_string())
    })
}

/// Writes what `actor` did. The action already happened: a failure here is answered as the
/// store's failure (503), so the caller retries and the retry is recorded.
pub(crate) async fn audit(
    state: &AppState,
    actor: &KeyRecord,
    action: &str,
    target: &str,
    detail: Option<Value>,
) -> Result<(), ApiError> {
    tracing::info!(actor = %actor.name, action, target, "admin action");
    state
        .store
        .record_audit(NewAudit {
            at: state.clock.now_ms(),
            actor_key_id: actor.id.clone(),
            actor_name: actor.name.clone(),
            action: action.into(),
            target: target.into(),
            detail,
        })
        .await
        .map_err(ApiError::from)
}

/// The active key named `name`, or 404.
pub(crate) async fn key_named(state: &AppState, name: &str) -> Result<KeyRecord, ApiError> {
    state
        .store
        .key_by_name(name)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no active key is named {name:?}")))
}
