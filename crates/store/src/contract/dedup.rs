//! Contract cases for session-id and idempotency-key claims.

use std::sync::Arc;

use super::{HOUR, T0, insert, join_all, new_task};
use crate::{DedupClaim, IdempotencyClaim, InsertOutcome, Store};

pub async fn session_ids_conflict_per_key_until_they_expire(store: &dyn Store) {
    let claim = |at| Some(DedupClaim { value: "sess-1".into(), expires_at: at + 72 * HOUR });
    let mut first = new_task("k1", 0, T0);
    first.session = claim(T0);
    let first = insert(store, first).await;

    let mut again = new_task("k1", 0, T0 + HOUR);
    again.session = claim(T0 + HOUR);
    match store.insert_task(again.clone()).await.unwrap() {
        InsertOutcome::SessionConflict { task_id } => assert_eq!(task_id, first.id.to_string()),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert!(store.get_task_any(again.id).await.unwrap().is_none(), "nothing was inserted");

    let mut other_key = new_task("k2", 0, T0 + HOUR);
    other_key.session = claim(T0 + HOUR);
    insert(store, other_key).await;

    let mut later = new_task("k1", 0, T0 + 72 * HOUR);
    later.session = claim(T0 + 72 * HOUR);
    insert(store, later).await;
}

pub async fn idempotency_keys_replay_the_same_body_and_refuse_another(store: &dyn Store) {
    let claim = |hash: &str, at| {
        Some(IdempotencyClaim {
            key: "idem-1".into(),
            body_hash: hash.into(),
            expires_at: at + 24 * HOUR,
        })
    };
    let mut first = new_task("k1", 0, T0);
    first.idempotency = claim("h1", T0);
    let first = insert(store, first).await;

    let mut same = new_task("k1", 0, T0 + 1);
    same.idempotency = claim("h1", T0 + 1);
    match store.insert_task(same).await.unwrap() {
        InsertOutcome::Replayed(t) => assert_eq!(t.id, first.id),
        other => panic!("expected a replay, got {other:?}"),
    }
    let mut different = new_task("k1", 0, T0 + 2);
    different.idempotency = claim("h2", T0 + 2);
    assert!(matches!(
        store.insert_task(different).await.unwrap(),
        InsertOutcome::IdempotencyMismatch { .. }
    ));

    let mut expired = new_task("k1", 0, T0 + 24 * HOUR);
    expired.idempotency = claim("h2", T0 + 24 * HOUR);
    let fresh = insert(store, expired).await;
    assert_ne!(fresh.id, first.id);
}

pub async fn a_forgotten_request_frees_its_idempotency_key(store: &dyn Store) {
    let claim = |at| {
        Some(IdempotencyClaim {
            key: "idem-f".into(),
            body_hash: "h".into(),
            expires_at: at + HOUR,
        })
    };
    let mut first = new_task("k1", 0, T0);
    first.idempotency = claim(T0);
    let first = insert(store, first).await;
    assert!(
        store
            .forget_task(&vidgate_domain::KeyId::from("k1"), first.id, T0 + 1)
            .await
            .expect("forget its own request")
    );
    let mut again = new_task("k1", 0, T0 + 2);
    again.idempotency = claim(T0 + 2);
    let again = insert(store, again).await;
    assert_ne!(again.id, first.id, "a new request, not the forgotten one replayed");
    let mut replay = new_task("k1", 0, T0 + 3);
    replay.idempotency = claim(T0 + 3);
    match store.insert_task(replay).await.expect("insert") {
        InsertOutcome::Replayed(t) => assert_eq!(t.id, again.id, "the key now names the new one"),
        other => panic!("expected a replay, got {other:?}"),
    }
}

pub async fn concurrent_inserts_with_one_idempotency_key_insert_once(store: &dyn Store) {
    let store: &dyn Store = store;
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let mut t = new_task("k1", 0, T0 + i);
            t.idempotency = Some(IdempotencyClaim {
                key: "race".into(),
                body_hash: "same".into(),
                expires_at: T0 + HOUR,
            });
            t
        })
        .collect();
    let outcomes = Arc::new(std::sync::Mutex::new(Vec::new()));
    let futures: Vec<_> = tasks
        .into_iter()
        .map(|t| {
            let outcomes = outcomes.clone();
            async move {
                let o = store.insert_task(t).await.unwrap();
                outcomes.lock().unwrap().push(o);
            }
        })
        .collect();
    join_all(futures).await;
    let outcomes = outcomes.lock().unwrap();
    let inserted: Vec<_> = outcomes
        .iter()
        .filter_map(
            |o| if let InsertOutcome::Inserted { task: t, .. } = o { Some(t.id) } else { None },
        )
        .collect();
    assert_eq!(inserted.len(), 1);
    for o in outcomes.iter() {
        match o {
            InsertOutcome::Inserted { task: t, .. } | InsertOutcome::Replayed(t) => {
                assert_eq!(t.id, inserted[0])
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
