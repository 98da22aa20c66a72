//! API keys. Only a SHA-256 of each key is stored (keys are long random strings, so a fast
//! hash is enough; a slow KDF would only slow down every request).

use async_trait::async_trait;
use vidgate_domain::pricing::Credits;
use vidgate_domain::{KeyId, Millis};

use crate::Result;

/// Ids of bootstrap keys begin with this (one id per bootstrap value).
pub const BOOTSTRAP_ID_PREFIX: &str = "key_bootstrap";

#[derive(Debug, Clone, PartialEq)]
pub struct NewKey {
    pub id: KeyId,
    pub name: String,
    pub key_hash: String,
    /// The first characters of the key, to recognise it in listings.
    pub prefix: String,
    pub created_at: Millis,
    /// The key's webhook signing secret (`whsec_…`).
    pub webhook_secret: Option<String>,
    pub limits: KeyLimits,
    pub role: KeyRole,
}

/// What a key may do: `User` keys use the API for themselves; `Admin` keys also manage keys,
/// budgets and anyone's requests under `/admin/`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyRole {
    #[default]
    User,
    Admin,
}

impl KeyRole {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyRole::User => "user",
            KeyRole::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> KeyRole {
        if s == "admin" { KeyRole::Admin } else { KeyRole::User }
    }
}

/// A key's spending rules. Spend is counted for every key; these only refuse creates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct KeyBudget {
    /// Refuse a create its balance (top-ups minus spend) cannot cover.
    pub prepaid: bool,
    /// Most credits the key may spend per UTC day / calendar month (UTC).
    pub day_limit: Option<Credits>,
    pub month_limit: Option<Credits>,
}

impl KeyBudget {
    pub fn is_limited(&self) -> bool {
        self.prepaid || self.day_limit.is_some() || self.month_limit.is_some()
    }

    /// Why `needed` more would break this budget, given the balance and what was spent in
    /// the current day and month; `None`: it fits (or there is no budget).
    pub fn refusal(
        &self,
        balance: Credits,
        spent_day: Credits,
        spent_month: Credits,
        needed: Option<Credits>,
    ) -> Option<crate::BudgetRefusal> {
        use crate::BudgetRefusal as R;
        if !self.is_limited() {
            return None;
        }
        let Some(needed) = needed else { return Some(R::Unpriced) };
        if self.prepaid && balance < needed {
            return Some(R::Balance { balance, needed });
        }
        if let Some(limit) = self.day_limit
            && spent_day + needed > limit
        {
            return Some(R::DayLimit { limit, spent: spent_day, needed });
        }
        if let Some(limit) = self.month_limit
            && spent_month + needed > limit
        {
            return Some(R::MonthLimit { limit, spent: spent_month, needed });
        }
        None
    }
}

/// A key's own limits; `None` in a field: the configured default applies.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct KeyLimits {
    /// Create calls per second (the token bucket's refill rate; 0: unlimited).
    pub create_rate: Option<f64>,
    /// The token bucket's size: creates allowed in a burst.
    pub create_burst: Option<i64>,
    /// Requests this key may have waiting in the queue (0: unlimited).
    pub max_queued: Option<i64>,
    /// Largest create body this key may send (the server's own limit still caps it).
    pub max_body_bytes: Option<i64>,
    /// Upstream slots this key's requests may hold at once (0: unlimited).
    pub max_running: Option<i64>,
    /// Seconds this key's stored media is kept (0: until deleted); `None`: `media.retention`.
    pub media_retention_secs: Option<i64>,
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
    pub id: KeyId,
    pub name: String,
    pub prefix: String,
    pub created_at: Millis,
    pub revoked_at: Option<Millis>,
    pub limits: KeyLimits,
    pub role: KeyRole,
    pub budget: KeyBudget,
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
    async fn active_key_hash(&self, key_id: &KeyId) -> Result<Option<String>>;

    /// The key with this id, revoked or not.
    async fn key_by_id(&self, id: &KeyId) -> Result<Option<KeyRecord>>;

    /// The active key with this name.
    async fn key_by_name(&self, name: &str) -> Result<Option<KeyRecord>>;

    /// Replaces an active key's own limits; `false` when no active key has that name.
    async fn set_key_limits(&self, name: &str, limits: KeyLimits) -> Result<bool>;

    /// Replaces an active key's budget; `false` when no active key has that name.
    async fn set_key_budget(&self, name: &str, budget: KeyBudget) -> Result<bool>;

    /// The key's signing secrets; the previous one only until its deadline.
    async fn webhook_secrets(&self, key_id: &KeyId, now: Millis) -> Result<Option<WebhookSecrets>>;

    /// Gives a key without a secret this one (no-op when it has one); returns the current secret.
    async fn init_webhook_secret(&self, key_id: &KeyId, secret: &str) -> Result<Option<String>>;

    /// Rotates a key's secret: the old one keeps signing until `previous_until`.
    async fn rotate_webhook_secret(
        &self,
        name: &str,
        secret: &str,
        previous_until: Millis,
    ) -> Result<bool>;
}
