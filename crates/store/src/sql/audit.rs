//! `AuditStore` over the SQL seam.

use async_trait::async_trait;

use super::SqlStore;
use crate::db::sql;
use crate::{AuditEntry, AuditStore, NewAudit, Result, StoreError};

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
            let detail = row
                .opt_text("detail")?
                .map(|d| serde_json::from_str(&d))
                .transpose()
                .map_err(StoreError::corrupt)?;
            let entry = NewAudit {
                at: row.int("at")?,
                actor_key_id: row.text("actor_key_id")?.into(),
                actor_name: row.text("actor_name")?,
                action: row.text("action")?,
                target: row.text("target")?,
                detail,
            };
            out.push(AuditEntry { seq: row.int("seq")?, entry });
        }
        Ok(out)
    }
}
