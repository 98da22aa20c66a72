//! API keys. Only a SHA-256 of each key is stored (keys are long random strings, so a fast
//! hash is enough; a slow KDF would only slow down every request).

use async_trait::async_trait;
use vidgate_domain::Millis;

use crate::Result;

/// Ids of bootstrap keys begin with this (one id per bootstrap value).
pub const BOOTSTRAP_ID_PREFIX: &str = "key_bootstrap";

#[derive(Debug, Clone, PartialEq)]
pub struct NewKey {
    pub id: String,
    pub name: String,
    pub key_hash: String,
    /// The first characters of the key, to recognise it in listings.
    pub prefix: String,
    pub created_at: Millis,
    /// The key's webhook signing secret (`whsec_…`).
    pub webhook_secret: Option<String>,
    pub limits: KeyLimits,
}

/// A key's own limits; `None` in a field: the configured default applies.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct KeyLimits {
    /// Create calls per second (the token bucket's refill rate; 0: unlimited).
    pub create_rate: Option<f64>,
    /// The token bucket's size: creates allowed in a burst.
    pub create_burst: Option<i64>,
    /// Requests this key may have waiting in the queue (0: unlimited).
    pub max_queued: Option<i64>,
    /// Largest create body this key may send (the server's own limit still caps it).
    pub max_body_bytes: Option<i64>,
}

/// A key's webhook signing secrets: the current one, and during a rotation the one it replaced
/// (both sign, so receivers can switch over without missing a delivery).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSecrets {
    pub current: String,
    pub previous: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct KeyRecord {
    pub id: String,
    pub name: String,
    pub prefix: String,
    pub created_at: Millis,
    pub revoked_at: Option<Millis>,
    pub limits: KeyLimits,
}

#[async_trait]
pub trait KeyStore: Send + Sync {
    /// `Conflict` when the name is taken.
    async fn create_key(&self, key: NewKey) -> Result<KeyRecord>;

    /// Makes `key` the one bootstrap key (`VIDGATE_BOOTSTRAP_KEY`), or with `None` retires it:
    /// every other active key whose id starts with `BOOTSTRAP_ID_PREFIX` is revoked, and `key`
    /// is added unless its id exists. An existing one is left as it is: a revoked bootstrap
    /// key stays revoked across restarts.
    async fn set_bootstrap_key(&self, key: Option<NewKey>, now: Millis) -> Result<()>;

    async fn list_keys(&self) -> Result<Vec<KeyRecord>>;

    /// `false` when no active key has that name.
    async fn revoke_key(&self, name: &str, now: Millis) -> Result<bool>;

    /// The active (not revoked) key with this hash.
    async fn find_active_key(&self, key_hash: &str) -> Result<Option<KeyRecord>>;

    async fn count_active_keys(&self) -> Result<i64>;

    /// The stored hash of an active key (the key of its short-lived stream tokens).
    async fn active_key_hash(&self, key_id: &str) -> Result<Option<String>>;

    /// The active key with this name.
    async fn key_by_name(&self, name: &str) -> Result<Option<KeyRecord>>;

    /// Replaces an active key's own limits; `false` when no active key has that name.
    async fn set_key_limits(&self, name: &str, limits: KeyLimits) -> Result<bool>;

    /// The key's signing secrets; the previous one only until its deadline.
    async fn webhook_secrets(&self, key_id: &str, now: Millis) -> Result<Option<WebhookSecrets>>;

    /// Gives a key without a secret this one (no-op when it has one); returns the current secret.
    async fn init_webhook_secret(&self, key_id: &str, secret: &str) -> Result<Option<String>>;

    /// Rotates a key's secret: the old one keeps signing until `previous_until`.
    async fn rotate_webhook_secret(
        &self,
        name: &str,
        secret: &str,
        previous_until: Millis,
    ) -> Result<bool>;
}
