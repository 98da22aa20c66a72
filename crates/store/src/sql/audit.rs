//! `AuditStore` over the SQL seam.

use async_trait::async_trait;

use super::SqlStore;
use crate::db::sql;
use crate::{AuditEntry, AuditStore, NewAudit, Result, StoreError};

/// An `audit_log` row as stored, decoded by column name.
#[derive(sqlx::FromRow)]
struct AuditRow {
    seq: i64,
    at: i64,
    actor_key_id: String,
    actor_name: String,
    action: String,
    target: String,
    /// JSON text.
    detail: Option<String>,
}

#[async_trait]
impl AuditStore for SqlStore {
    async fn record_audit(&self, e: NewAudit) -> Result<()> {
        let detail = e.detail.as_ref().map(serde_json::Value::to_string);
        let stmt =
            sql("INSERT INTO audit_log (at, actor_key_id, actor_name, action, target, detail)
                        VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(e.at)
            .bind(&e.actor_key_id)
            .bind(&e.actor_name)
            .bind(&e.action)
            .bind(&e.target)
            .bind(detail);
        self.db.execute(stmt).await.map(|_| ())
    }

    async fn audit_log(&self, after_seq: i64, limit: i64) -> Result<Vec<AuditEntry>> {
        let stmt = sql("SELECT seq, at, actor_key_id, actor_name, action, target, detail
                        FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2")
        .bind(after_seq)
        .bind(limit);
        let mut out = Vec::new();
        for row in self.db.read(stmt).await? {
            let r: AuditRow = row.decode()?;
            let detail = r
                .detail
                .map(|d| serde_json::from_str(&d))
                .transpose()
                .map_err(StoreError::corrupt)?;
            let entry = NewAudit {
                at: r.at,
                actor_key_id: r.actor_key_id.into(),
                actor_name: r.actor_name,
                action: r.action,
                target: r.target,
                detail,
            };
            out.push(AuditEntry { seq: r.seq, entry });
        }
        Ok(out)
    }
}
