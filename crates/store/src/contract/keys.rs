//! Contract cases for API keys.

use super::T0;
use crate::{NewKey, Store, StoreError};

fn key(id: &str, name: &str, hash: &str) -> NewKey {
    NewKey {
        id: id.into(),
        name: name.into(),
        key_hash: hash.into(),
        prefix: "vg_abc".into(),
        created_at: T0,
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
    assert!(store.find_active_key("nope").await.unwrap().is_none());
    assert!(store.revoke_key("ci", T0 + 1).await.unwrap());
    assert!(!store.revoke_key("ci", T0 + 2).await.unwrap(), "already revoked");
    assert!(!store.revoke_key("ghost", T0 + 2).await.unwrap());
    assert!(store.find_active_key("h1").await.unwrap().is_none());
    let listed = store.list_keys().await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed.iter().find(|k| k.name == "ci").unwrap().revoked_at, Some(T0 + 1));
    assert_eq!(store.count_active_keys().await.unwrap(), 1);
}

pub async fn key_names_are_unique_and_upserts_replace(store: &dyn Store) {
    store.create_key(key("key_1", "ci", "h1")).await.unwrap();
    let dup = store.create_key(key("key_2", "ci", "h2")).await.unwrap_err();
    assert!(matches!(dup, StoreError::Conflict(_)), "{dup:?}");
    store.upsert_key(key("key_boot", "bootstrap", "hb1")).await.unwrap();
    store.upsert_key(key("key_boot", "bootstrap", "hb2")).await.unwrap();
    assert!(store.find_active_key("hb1").await.unwrap().is_none());
    assert_eq!(store.find_active_key("hb2").await.unwrap().unwrap().id, "key_boot");
    store.revoke_key("bootstrap", T0).await.unwrap();
    store.upsert_key(key("key_boot", "bootstrap", "hb2")).await.unwrap();
    assert!(store.find_active_key("hb2").await.unwrap().is_some(), "an upsert re-activates");
}
