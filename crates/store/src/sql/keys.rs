//! `KeyStore`, once for both backends.

use async_trait::async_trait;
use vidgate_domain::KeyId;
use vidgate_domain::Millis;

use super::SqlStore;
use crate::db::sql;
use crate::rows::{key_from_row, secrets_from_row};
use crate::{
    KeyBudget, KeyLimits, KeyRecord, KeyStore, NewKey, Result, StoreError, WebhookSecrets,
};

/// The columns `key_from_row` reads.
macro_rules! key_columns {
    () => {
        "id, name, prefix, created_at, revoked_at, create_rate, create_burst, max_queued, max_body_bytes, \
         max_running, role, prepaid, day_limit, month_limit, media_retention"
    };
}

fn is_unique_violation(e: &StoreError) -> bool {
    matches!(e, StoreError::Database(sqlx::Error::Database(d)) if d.is_unique_violation())
}

#[async_trait]
impl KeyStore for SqlStore {
    async fn create_key(&self, key: NewKey) -> Result<KeyRecord> {
        let stmt = sql(concat!(
            "INSERT INTO api_keys (id, name, key_hash, prefix, created_at, webhook_secret,
                                   create_rate, create_burst, max_queued, max_body_bytes,
                                   max_running, role, media_retention)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
             RETURNING ",
            key_columns!()
        ))
        .bind(&key.id)
        .bind(&key.name)
        .bind(&key.key_hash)
        .bind(&key.prefix)
        .bind(key.created_at)
        .bind(&key.webhook_secret)
        .bind(key.limits.create_rate)
        .bind(key.limits.create_burst)
        .bind(key.limits.max_queued)
        .bind(key.limits.max_body_bytes)
        .bind(key.limits.max_running)
        .bind(key.role.as_str())
        .bind(key.limits.media_retention_secs);
        match self.db.write(stmt).await {
            Ok(rows) => match rows.first() {
                Some(row) => key_from_row(row),
                None => Err(StoreError::corrupt("an inserted key returned no row")),
            },
            Err(e) if is_unique_violation(&e) => {
                Err(StoreError::Conflict(format!("a key named {:?} already exists", key.name)))
            }
            Err(e) => Err(e),
        }
    }

    async fn set_bootstrap_key(&self, key: Option<NewKey>, now: Millis) -> Result<()> {
        let mut tx = self.db.begin().await?;
        let keep = key.as_ref().map(|k| k.id.as_str()).unwrap_or_default();
        tx.execute(
            sql(
                "UPDATE api_keys SET revoked_at = $1
                 WHERE substr(id, 1, CAST($2 AS INTEGER)) = $3 AND id <> $4 AND revoked_at IS NULL",
            )
            .bind(now)
            .bind(crate::BOOTSTRAP_ID_PREFIX.len() as i64)
            .bind(crate::BOOTSTRAP_ID_PREFIX)
            .bind(keep),
        )
        .await?;
        if let Some(key) = &key {
            tx.execute(
                sql("INSERT INTO api_keys (id, name, key_hash, prefix, created_at, webhook_secret,
                                           role)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)
                     ON CONFLICT (id) DO NOTHING")
                .bind(&key.id)
                .bind(&key.name)
                .bind(&key.key_hash)
                .bind(&key.prefix)
                .bind(key.created_at)
                .bind(&key.webhook_secret)
                .bind(key.role.as_str()),
            )
            .await?;
        }
        tx.commit().await
    }

    async fn list_keys(&self) -> Result<Vec<KeyRecord>> {
        let stmt =
            sql(concat!("SELECT ", key_columns!(), " FROM api_keys ORDER BY created_at, name"));
        self.db.read(stmt).await?.iter().map(key_from_row).collect()
    }

    async fn revoke_key(&self, name: &str, now: Millis) -> Result<bool> {
        let stmt =
            sql("UPDATE api_keys SET revoked_at = $1 WHERE name = $2 AND revoked_at IS NULL")
                .bind(now)
                .bind(name);
        Ok(self.db.execute(stmt).await? == 1)
    }

    async fn find_active_key(&self, key_hash: &str) -> Result<Option<KeyRecord>> {
        let stmt = sql(concat!(
            "SELECT ",
            key_columns!(),
            " FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL"
        ))
        .bind(key_hash);
        self.db.read_one(stmt).await?.as_ref().map(key_from_row).transpose()
    }

    async fn count_active_keys(&self) -> Result<i64> {
        let stmt = sql("SELECT count(*) AS n FROM api_keys WHERE revoked_at IS NULL");
        match self.db.read_one(stmt).await? {
            Some(row) => row.int("n"),
            None => Ok(0),
        }
    }

    async fn key_by_id(&self, id: &KeyId) -> Result<Option<KeyRecord>> {
        let stmt = sql(concat!("SELECT ", key_columns!(), " FROM api_keys WHERE id = $1")).bind(id);
        self.db.read_one(stmt).await?.as_ref().map(key_from_row).transpose()
    }

    async fn key_by_name(&self, name: &str) -> Result<Option<KeyRecord>> {
        let stmt = sql(concat!(
            "SELECT ",
            key_columns!(),
            " FROM api_keys WHERE name = $1 AND revoked_at IS NULL"
        ))
        .bind(name);
        self.db.read_one(stmt).await?.as_ref().map(key_from_row).transpose()
    }

    async fn set_key_limits(&self, name: &str, limits: KeyLimits) -> Result<bool> {
        let stmt = sql("UPDATE api_keys SET create_rate = $1, create_burst = $2, max_queued = $3,
                            max_body_bytes = $4, max_running = $5, media_retention = $6
                        WHERE name = $7 AND revoked_at IS NULL")
        .bind(limits.create_rate)
        .bind(limits.create_burst)
        .bind(limits.max_queued)
        .bind(limits.max_body_bytes)
        .bind(limits.max_running)
        .bind(limits.media_retention_secs)
        .bind(name);
        Ok(self.db.execute(stmt).await? == 1)
    }

    async fn set_key_budget(&self, name: &str, budget: KeyBudget) -> Result<bool> {
        let stmt = sql("UPDATE api_keys SET prepaid = $1, day_limit = $2, month_limit = $3
                        WHERE name = $4 AND revoked_at IS NULL")
        .bind(budget.prepaid)
        .bind(budget.day_limit)
        .bind(budget.month_limit)
        .bind(name);
        Ok(self.db.execute(stmt).await? == 1)
    }

    async fn webhook_secrets(&self, key_id: &KeyId, now: Millis) -> Result<Option<WebhookSecrets>> {
        let stmt = sql("SELECT webhook_secret, previous_webhook_secret, previous_secret_until
                        FROM api_keys WHERE id = $1")
        .bind(key_id);
        match self.db.read_one(stmt).await? {
            Some(row) => secrets_from_row(&row, now),
            None => Ok(None),
        }
    }

    async fn init_webhook_secret(&self, key_id: &KeyId, secret: &str) -> Result<Option<String>> {
        // One statement: the secret is set only where none is, and the current one comes back.
        let stmt = sql("UPDATE api_keys SET webhook_secret = coalesce(webhook_secret, $1)
                        WHERE id = $2 RETURNING webhook_secret")
        .bind(secret)
        .bind(key_id);
        match self.db.write(stmt).await?.first() {
            Some(row) => row.opt_text("webhook_secret"),
            None => Ok(None),
        }
    }

    async fn rotate_webhook_secret(
        &self,
        name: &str,
        secret: &str,
        previous_until: Millis,
    ) -> Result<bool> {
        let stmt = sql("UPDATE api_keys SET previous_webhook_secret = webhook_secret,
                            previous_secret_until = $1, webhook_secret = $2
                        WHERE name = $3 AND revoked_at IS NULL")
        .bind(previous_until)
        .bind(secret)
        .bind(name);
        Ok(self.db.execute(stmt).await? == 1)
    }

    async fn active_key_hash(&self, key_id: &KeyId) -> Result<Option<String>> {
        let stmt =
            sql("SELECT key_hash FROM api_keys WHERE id = $1 AND revoked_at IS NULL").bind(key_id);
        self.db.read_one(stmt).await?.map(|r| r.text("key_hash")).transpose()
    }
}
