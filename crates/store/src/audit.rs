//! The audit log: one row per admin action (who, what, to what, when, the change made). It is
//! written after the action succeeded; it never holds a secret (keys, webhook secrets).

use async_trait::async_trait;
use serde::Serialize;
use vidgate_domain::{KeyId, Millis};

use crate::Result;

/// An admin action to record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewAudit {
    pub at: Millis,
    pub actor_key_id: KeyId,
    pub actor_name: String,
    /// `key.create`, `key.revoke`, `key.limits`, `key.budget`, `key.top_up`,
    /// `request.cancel`.
    pub action: String,
    /// The key name or request id acted on.
    pub target: String,
    /// The change, as JSON.
    pub detail: Option<serde_json::Value>,
}

/// A recorded admin action: its place in the log, and the action (its fields side by side
/// with `seq` on the wire).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    pub seq: i64,
    #[serde(flatten)]
    pub entry: NewAudit,
}

#[async_trait]
pub trait AuditStore: Send + Sync {
    async fn record_audit(&self, entry: NewAudit) -> Result<()>;

    /// Entries after `after_seq`, oldest first.
    async fn audit_log(&self, after_seq: i64, limit: i64) -> Result<Vec<AuditEntry>>;
}
