//! Contract cases for API keys.

use super::T0;
use crate::{NewKey, Store, StoreError};

fn key(id: &str, name: &str, hash: &str) -> NewKey {
    NewKey {
        limits: Default::default(),
        role: Default::default(),
        id: id.into(),
        name: name.into(),
        key_hash: hash.into(),
        prefix: "vg_abc".into(),
        created_at: T0,
        webhook_secret: Some(format!("whsec_{id}")),
    }
}

pub async fn keys_are_created_listed_found_and_revoked(store: &dyn Store) {
    assert_eq!(store.count_active_keys().await.unwrap(), 0);
    let created = store.create_key(key("key_1", "ci", "h1")).await.unwrap();
    assert_eq!(created.name, "ci");
    assert_eq!(created.revoked_at, None);
    store.create_key(key("key_2", "dev", "h2")).await.unwrap();
    assert_eq!(store.count_active_keys().await.unwrap(), 2);
    assert_eq!(store.find_active_key("h1").await.unwrap().unwrap().id, "key_1");
    assert_eq!(
        store.active_key_hash(&vidgate_domain::KeyId::from("key_1")).await.unwrap().as_deref(),
        Some("h1")
    );
    assert!(store.find_active_key("nope").await.unwrap().is_none());
    assert!(store.revoke_key("ci", T0 + 1).await.unwrap());
    assert!(!store.revoke_key("ci", T0 + 2).await.unwrap(), "already revoked");
    assert!(!store.revoke_key("ghost", T0 + 2).await.unwrap());
    assert!(store.find_active_key("h1").await.unwrap().is_none());
    assert!(
        store.active_key_hash(&vidgate_domain::KeyId::from("key_1")).await.unwrap().is_none(),
        "a revoked key's tokens die with it"
    );
    let listed = store.list_keys().await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed.iter().find(|k| k.name == "ci").unwrap().revoked_at, Some(T0 + 1));
    assert_eq!(store.count_active_keys().await.unwrap(), 1);
}

pub async fn key_names_are_unique_among_active_keys_and_bootstrap_keys_retire(store: &dyn Store) {
    store.create_key(key("key_1", "ci", "h1")).await.unwrap();
    let dup = store.create_key(key("key_2", "ci", "h2")).await.unwrap_err();
    assert!(matches!(dup, StoreError::Conflict(_)), "{dup:?}");
    // A revoked key's name is free again.
    store.revoke_key("ci", T0).await.unwrap();
    store.create_key(key("key_3", "ci", "h3")).await.unwrap();
    assert_eq!(store.key_by_name("ci").await.unwrap().unwrap().id, "key_3");
    assert_eq!(
        store.key_by_id(&vidgate_domain::KeyId::from("key_3")).await.unwrap().unwrap().name,
        "ci"
    );
    assert_eq!(store.key_by_id(&vidgate_domain::KeyId::from("key_none")).await.unwrap(), None);
    let boot = |id: &str, hash: &str| key(id, "bootstrap", hash);
    store.set_bootstrap_key(Some(boot("key_bootstrap_1", "hb1")), T0).await.unwrap();
    store.set_bootstrap_key(Some(boot("key_bootstrap_1", "hb1")), T0).await.unwrap();
    assert_eq!(store.find_active_key("hb1").await.unwrap().unwrap().id, "key_bootstrap_1");
    // A new value retires the old one.
    store.set_bootstrap_key(Some(boot("key_bootstrap_2", "hb2")), T0).await.unwrap();
    assert!(store.find_active_key("hb1").await.unwrap().is_none());
    assert_eq!(store.find_active_key("hb2").await.unwrap().unwrap().id, "key_bootstrap_2");
    // Revoked stays revoked, even when the same value is set again.
    store.revoke_key("bootstrap", T0).await.unwrap();
    store.set_bootstrap_key(Some(boot("key_bootstrap_2", "hb2")), T0).await.unwrap();
    assert!(store.find_active_key("hb2").await.unwrap().is_none(), "no re-activation");
    // Unset: retired.
    store.set_bootstrap_key(Some(boot("key_bootstrap_3", "hb3")), T0).await.unwrap();
    store.set_bootstrap_key(None, T0).await.unwrap();
    assert!(store.find_active_key("hb3").await.unwrap().is_none());
    assert!(store.find_active_key("h3").await.unwrap().is_some(), "other keys stay");
}

pub async fn webhook_secrets_initialise_once_and_rotate_with_an_overlap(store: &dyn Store) {
    let mut k = key("key_1", "ci", "h1");
    k.webhook_secret = None;
    store.create_key(k).await.unwrap();
    assert_eq!(
        store.webhook_secrets(&vidgate_domain::KeyId::from("key_1"), T0).await.unwrap(),
        None
    );
    assert_eq!(
        store
            .init_webhook_secret(&vidgate_domain::KeyId::from("key_1"), "whsec_first")
            .await
            .unwrap()
            .as_deref(),
        Some("whsec_first")
    );
    assert_eq!(
        store
            .init_webhook_secret(&vidgate_domain::KeyId::from("key_1"), "whsec_other")
            .await
            .unwrap()
            .as_deref(),
        Some("whsec_first"),
        "only a key without one gets a secret"
    );
    assert!(store.rotate_webhook_secret("ci", "whsec_second", T0 + 100).await.unwrap());
    let s = store
        .webhook_secrets(&vidgate_domain::KeyId::from("key_1"), T0 + 99)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((s.current.as_str(), s.previous.as_deref()), ("whsec_second", Some("whsec_first")));
    let s = store
        .webhook_secrets(&vidgate_domain::KeyId::from("key_1"), T0 + 100)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s.previous, None, "the old secret stops signing at its deadline");
    assert!(!store.rotate_webhook_secret("ghost", "whsec_x", T0).await.unwrap());
    assert_eq!(store.key_by_name("ci").await.unwrap().unwrap().id, "key_1");
    // Setting the same bootstrap key again keeps its secret.
    let mut b = key("key_bootstrap_x", "bootstrap", "hb");
    b.webhook_secret = Some("whsec_boot1".into());
    store.set_bootstrap_key(Some(b.clone()), T0).await.unwrap();
    b.webhook_secret = Some("whsec_boot2".into());
    store.set_bootstrap_key(Some(b), T0).await.unwrap();
    assert_eq!(
        store
            .webhook_secrets(&vidgate_domain::KeyId::from("key_bootstrap_x"), T0)
            .await
            .unwrap()
            .unwrap()
            .current,
        "whsec_boot1"
    );
}

pub async fn replicas_are_counted_while_they_beat(store: &dyn Store) {
    const LIVE: i64 = 15_000;
    assert_eq!(store.beat("a", T0, LIVE).await.unwrap(), 1, "alone");
    assert_eq!(store.beat("b", T0 + 1_000, LIVE).await.unwrap(), 2);
    assert_eq!(store.beat("a", T0 + 5_000, LIVE).await.unwrap(), 2, "a beat again: still two");
    // b goes silent: past LIVE since its last beat it is not counted.
    assert_eq!(store.beat("a", T0 + 16_001, LIVE).await.unwrap(), 1);
    // It comes back, and then stops gracefully: off the count at once.
    assert_eq!(store.beat("b", T0 + 17_000, LIVE).await.unwrap(), 2);
    store.leave("b").await.unwrap();
    assert_eq!(store.beat("a", T0 + 17_500, LIVE).await.unwrap(), 1);
}
