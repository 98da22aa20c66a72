//! `KeyStore` on PostgreSQL.

use async_trait::async_trait;
use vidgate_domain::Millis;

use super::PgStore;
use crate::rows::{key_from_row, secrets_from_row};
use crate::{KeyLimits, KeyRecord, KeyStore, NewKey, Result, StoreError, WebhookSecrets};

#[async_trait]
impl KeyStore for PgStore {
    async fn create_key(&self, key: NewKey) -> Result<KeyRecord> {
        let row = sqlx::query(
            "INSERT INTO api_keys (id, name, key_hash, prefix, created_at, webhook_secret,
                                   create_rate, create_burst, max_queued, max_body_bytes)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             RETURNING id, name, prefix, created_at, revoked_at, create_rate, create_burst, max_queued, max_body_bytes",
        )
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
        .fetch_one(&self.pool)
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(d) if d.is_unique_violation() => {
                StoreError::Conflict(format!("a key named {:?} already exists", key.name))
            }
            _ => e.into(),
        })?;
        key_from_row(&row)
    }

    async fn set_bootstrap_key(&self, key: Option<NewKey>, now: Millis) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let keep = key.as_ref().map(|k| k.id.as_str()).unwrap_or_default();
        sqlx::query(
            "UPDATE api_keys SET revoked_at = $1
             WHERE substr(id, 1, $2) = $3 AND id <> $4 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(crate::BOOTSTRAP_ID_PREFIX.len() as i32)
        .bind(crate::BOOTSTRAP_ID_PREFIX)
        .bind(keep)
        .execute(&mut *tx)
        .await?;
        if let Some(key) = key {
            sqlx::query(
                "INSERT INTO api_keys (id, name, key_hash, prefix, created_at, webhook_secret)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(&key.id)
            .bind(&key.name)
            .bind(&key.key_hash)
            .bind(&key.prefix)
            .bind(key.created_at)
            .bind(&key.webhook_secret)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn list_keys(&self) -> Result<Vec<KeyRecord>> {
        let rows = sqlx::query(
            "SELECT id, name, prefix, created_at, revoked_at, create_rate, create_burst, max_queued, max_body_bytes FROM api_keys ORDER BY created_at, name",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(key_from_row).collect()
    }

    async fn revoke_key(&self, name: &str, now: Millis) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE api_keys SET revoked_at = $1 WHERE name = $2 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(name)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn find_active_key(&self, key_hash: &str) -> Result<Option<KeyRecord>> {
        let row = sqlx::query(
            "SELECT id, name, prefix, created_at, revoked_at, create_rate, create_burst, max_queued, max_body_bytes FROM api_keys
             WHERE key_hash = $1 AND revoked_at IS NULL",
        )
        .bind(key_hash)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(key_from_row).transpose()
    }

    async fn count_active_keys(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT count(*) FROM api_keys WHERE revoked_at IS NULL")
            .fetch_one(&self.pool)
            .await?)
    }

    async fn key_by_name(&self, name: &str) -> Result<Option<KeyRecord>> {
        let row = sqlx::query(
            "SELECT id, name, prefix, created_at, revoked_at, create_rate, create_burst, max_queued, max_body_bytes FROM api_keys WHERE name = $1 AND revoked_at IS NULL",
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(key_from_row).transpose()
    }

    async fn set_key_limits(&self, name: &str, limits: KeyLimits) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE api_keys SET create_rate = $1, create_burst = $2, max_queued = $3,
                 max_body_bytes = $4 WHERE name = $5 AND revoked_at IS NULL",
        )
        .bind(limits.create_rate)
        .bind(limits.create_burst)
        .bind(limits.max_queued)
        .bind(limits.max_body_bytes)
        .bind(name)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn webhook_secrets(&self, key_id: &str, now: Millis) -> Result<Option<WebhookSecrets>> {
        let row = sqlx::query(
            "SELECT webhook_secret, previous_webhook_secret, previous_secret_until FROM api_keys WHERE id = $1",
        )
        .bind(key_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some(row) => secrets_from_row(&row, now)?,
            None => None,
        })
    }

    async fn init_webhook_secret(&self, key_id: &str, secret: &str) -> Result<Option<String>> {
        sqlx::query(
            "UPDATE api_keys SET webhook_secret = $1 WHERE id = $2 AND webhook_secret IS NULL",
        )
        .bind(secret)
        .bind(key_id)
        .execute(&self.pool)
        .await?;
        Ok(sqlx::query_scalar("SELECT webhook_secret FROM api_keys WHERE id = $1")
            .bind(key_id)
            .fetch_optional(&self.pool)
            .await?
            .flatten())
    }

    async fn rotate_webhook_secret(
        &self,
        name: &str,
        secret: &str,
        previous_until: Millis,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE api_keys SET previous_webhook_secret = webhook_secret, previous_secret_until = $1,
                 webhook_secret = $2
             WHERE name = $3 AND revoked_at IS NULL",
        )
        .bind(previous_until)
        .bind(secret)
        .bind(name)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn active_key_hash(&self, key_id: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar("SELECT key_hash FROM api_keys WHERE id = $1 AND revoked_at IS NULL")
            .bind(key_id)
            .fetch_optional(&self.pool)
            .await?)
    }
}
