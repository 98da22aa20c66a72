//! Keys at startup: `VIDGATE_BOOTSTRAP_KEY` is registered (for automation), and a store with
//! no key at all gets one, which `serve` prints once.

use vidgate_domain::Millis;
use vidgate_store::{KeyStore, NewKey};

use crate::config::Config;

pub const BOOTSTRAP_KEY_ID: &str = vidgate_store::BOOTSTRAP_ID_PREFIX;
/// How much of a bootstrap value `keys list` shows (the value itself is chosen by an operator
/// and may carry no random prefix of its own).
const BOOTSTRAP_PREFIX_CHARS: usize = 4;
/// The shortest bootstrap value accepted.
pub const BOOTSTRAP_MIN_CHARS: usize = 24;

pub fn new_key_record(name: &str, now: Millis) -> (String, NewKey) {
    let (key, prefix) = vidgate_api::generate_key();
    let record = NewKey {
        id: vidgate_domain::KeyId::new(),
        name: name.to_owned(),
        key_hash: vidgate_api::hash_key(&key),
        prefix,
        created_at: now,
        webhook_secret: Some(vidgate_workers::webhooks::new_secret()),
        limits: Default::default(),
        role: Default::default(),
    };
    (key, record)
}

/// Returns the first key if this call created it.
pub async fn ensure_keys(
    store: &dyn KeyStore,
    config: &Config,
    now: Millis,
) -> anyhow::Result<Option<String>> {
    let bootstrap = config.auth.bootstrap_key.expose();
    if !bootstrap.is_empty() {
        let hash = vidgate_api::hash_key(bootstrap);
        store
            .set_bootstrap_key(
                Some(NewKey {
                    // One id per value: a value once revoked (or replaced) never comes back.
                    id: format!("{BOOTSTRAP_KEY_ID}_{}", &hash[..16]).into(),
                    name: "bootstrap".into(),
                    key_hash: hash,
                    prefix: bootstrap.chars().take(BOOTSTRAP_PREFIX_CHARS).collect(),
                    created_at: now,
                    webhook_secret: Some(vidgate_workers::webhooks::new_secret()),
                    limits: Default::default(),
                    // Automation manages the deployment with it.
                    role: vidgate_store::KeyRole::Admin,
                }),
                now,
            )
            .await?;
        return Ok(None);
    }
    // Unset: a bootstrap key an earlier start registered stops working.
    store.set_bootstrap_key(None, now).await?;
    if store.count_active_keys().await? > 0 {
        return Ok(None);
    }
    // The operator's first key: it may manage the others over HTTP (`/admin/`).
    let (key, record) = new_key_record("default", now);
    let record = NewKey { role: vidgate_store::KeyRole::Admin, ..record };
    store.create_key(record).await?;
    tracing::info!("created the first API key \"default\"");
    Ok(Some(key))
}
