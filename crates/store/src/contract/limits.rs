//! Contract cases for queue limits, per-key limit settings, and many creates at once (which
//! SQLite commits as a group).

use futures::future::join_all;
use vidgate_domain::Pool;

use super::{HOUR, T0, insert, new_task};
use crate::{
    CancelOutcome, DedupClaim, IdempotencyClaim, InsertOutcome, KeyLimits, LimitScope, NewKey,
    QueueLimits, Slot, Store,
};

fn limited(key: &str, at: i64, per_key: Option<i64>, total: Option<i64>) -> crate::NewTask {
    let mut t = new_task(key, 0, at);
    t.limits = QueueLimits { per_key, total };
    t
}

pub async fn queue_limits_refuse_inserts_past_them_and_free_up_as_tasks_leave(store: &dyn Store) {
    let a: Vec<_> = [0, 1, 2].iter().map(|i| limited("k1", T0 + i, Some(3), None)).collect();
    let mut first = Vec::new();
    for t in a {
        first.push(insert(store, t).await);
    }
    match store.insert_task(limited("k1", T0 + 3, Some(3), None)).await.unwrap() {
        InsertOutcome::QueueFull { scope: LimitScope::Key, limit: 3 } => {}
        other => panic!("a fourth queued task of k1 must be refused, got {other:?}"),
    }
    // Another key has its own count.
    insert(store, limited("k2", T0 + 4, Some(3), None)).await;
    // A replay of an accepted request is not a new one: it is answered even when full.
    let mut original = limited("k1", T0 + 5, None, None);
    original.idempotency =
        Some(IdempotencyClaim { key: "i".into(), body_hash: "b".into(), expires_at: T0 + HOUR });
    let original = insert(store, original).await;
    let mut again = limited("k1", T0 + 6, Some(3), None);
    again.idempotency =
        Some(IdempotencyClaim { key: "i".into(), body_hash: "b".into(), expires_at: T0 + HOUR });
    match store.insert_task(again).await.unwrap() {
        InsertOutcome::Replayed(t) => assert_eq!(t.id, original.id),
        other => panic!("expected the replay, got {other:?}"),
    }
    // Leaving the queue (cancelled, or dispatched) makes room.
    assert_eq!(
        store.cancel_task(&vidgate_domain::KeyId::from("k1"), first[0].id, T0 + 7).await.unwrap(),
        CancelOutcome::Cancelled
    );
    assert_eq!(
        store.cancel_task(&vidgate_domain::KeyId::from("k1"), original.id, T0 + 7).await.unwrap(),
        CancelOutcome::Cancelled
    );
    insert(store, limited("k1", T0 + 8, Some(3), None)).await;
    let slots = [Slot { account: "a".into(), limit: 5 }];
    store.claim_next_queued(Pool::Sandbox, &slots, "w", T0 + 9, T0 + HOUR).await.unwrap().unwrap();
    insert(store, limited("k1", T0 + 10, Some(3), None)).await;

    // The whole queue: 4 queued now (3 of k1, 1 of k2).
    match store.insert_task(limited("k3", T0 + 11, None, Some(4))).await.unwrap() {
        InsertOutcome::QueueFull { scope: LimitScope::Total, limit: 4 } => {}
        other => panic!("the queue holds 4; expected a refusal, got {other:?}"),
    }
    insert(store, limited("k3", T0 + 12, None, Some(5))).await;
}

pub async fn many_concurrent_creates_each_commit_once_in_order(store: &dyn Store) {
    let tasks: Vec<_> = (0..300)
        .map(|i| {
            let mut t = limited("k1", T0 + i, Some(250), None);
            if i % 50 == 7 {
                // Two creates racing for one session id: exactly one wins.
                t.session = Some(DedupClaim { value: "s".into(), expires_at: T0 + HOUR });
            }
            t
        })
        .collect();
    let ids: Vec<_> = tasks.iter().map(|t| t.id).collect();
    let outcomes = join_all(tasks.into_iter().map(|t| store.insert_task(t))).await;
    let (mut inserted, mut sessions_refused, mut full) = (Vec::new(), 0, 0);
    let mut positions = Vec::new();
    for (id, outcome) in ids.iter().zip(outcomes) {
        match outcome.unwrap() {
            InsertOutcome::Inserted { task: t, position } => {
                assert_eq!(t.id, *id);
                positions.extend(position.map(|p| (t.clone(), p)));
                inserted.push(t);
            }
            InsertOutcome::SessionConflict { .. } => sessions_refused += 1,
            InsertOutcome::QueueFull { scope: LimitScope::Key, .. } => full += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(sessions_refused, 5, "six creates named the session; one holds it");
    assert_eq!(inserted.len(), 250, "the per-key limit holds under concurrency");
    assert_eq!(full, 45);
    // Each its own seq. (Not in the order of `tasks`: one task polling 300 sends runs out of
    // tokio's cooperative budget after 128, and the rest reach the committer in another order.)
    let mut seqs: Vec<i64> = inserted.iter().map(|t| t.seq).collect();
    seqs.sort_unstable();
    seqs.dedup();
    assert_eq!(seqs.len(), 250, "every insert has its own seq");
    // Positions read in a grouped insert's transaction (one rank: later creates queue behind,
    // so each stays true) are the ones a read gives now.
    for (t, position) in &positions {
        assert_eq!(store.queue_position(t).await.unwrap(), *position, "position of {}", t.id);
    }
    for t in inserted.iter().take(20) {
        assert_eq!(
            store.get_task(&vidgate_domain::KeyId::from("k1"), t.id).await.unwrap().as_ref(),
            Some(t)
        );
        assert_eq!(store.task_logs(t.id).await.unwrap().len(), 1, "one first log line each");
    }
}

pub async fn key_limits_are_stored_per_key(store: &dyn Store) {
    let limits = KeyLimits {
        create_rate: Some(2.5),
        create_burst: Some(5),
        max_queued: Some(10),
        max_body_bytes: Some(4096),
        max_running: Some(2),
        media_retention_secs: Some(86_400),
    };
    let key = NewKey {
        id: "key_l".into(),
        name: "limited".into(),
        key_hash: "hl".into(),
        prefix: "vg_l".into(),
        created_at: T0,
        webhook_secret: None,
        limits,
        role: Default::default(),
    };
    assert_eq!(store.create_key(key).await.unwrap().limits, limits);
    assert_eq!(store.find_active_key("hl").await.unwrap().unwrap().limits, limits);
    let cleared = KeyLimits { max_queued: Some(0), ..KeyLimits::default() };
    assert!(store.set_key_limits("limited", cleared).await.unwrap());
    assert_eq!(store.key_by_name("limited").await.unwrap().unwrap().limits, cleared);
    assert!(!store.set_key_limits("nobody", cleared).await.unwrap());
}
