//! Contract cases for webhook deliveries.

use vidgate_domain::Pool;
use vidgate_domain::TaskState;

use super::{HOUR, T0, insert, new_task, result};
use crate::{Attempt, AttemptResult, Completion, DeliveryState, LogEntry, ReapLimits, Slot, Store};

fn with_hook(key: &str, at: i64) -> crate::NewTask {
    let mut t = new_task(key, 0, at);
    t.webhook_url = Some("https://hooks.example/vidgate".into());
    t.public_base = Some("https://gw.example".into());
    t
}

pub async fn a_delivery_is_enqueued_once_whenever_a_task_with_a_webhook_ends(store: &dyn Store) {
    let slots = [Slot { account: "a".into(), limit: 10 }];
    let done = insert(store, with_hook("k", T0)).await;
    assert_eq!(done.webhook_url.as_deref(), Some("https://hooks.example/vidgate"));
    assert_eq!(done.public_base.as_deref(), Some("https://gw.example"));
    let cancelled = insert(store, with_hook("k", T0)).await;
    let timed_out = insert(store, with_hook("k", T0)).await;
    let silent = insert(store, new_task("k", 0, T0)).await;
    assert!(
        store.delivery_for(&vidgate_domain::KeyId::from("k"), done.id).await.unwrap().is_none(),
        "nothing before the end"
    );
    let c = store
        .claim_next_queued(Pool::Sandbox, &slots, "w", T0 + 1, T0 + HOUR)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.id, done.id);
    store
        .complete(
            c.lease(),
            Completion::Succeeded { result: Box::new(result()), charge: Default::default() },
            T0 + 2,
            LogEntry::info(T0, "done"),
        )
        .await
        .unwrap();
    store.cancel_task(&vidgate_domain::KeyId::from("k"), cancelled.id, T0 + 3).await.unwrap();
    store.claim_next_queued(Pool::Sandbox, &slots, "w", T0 + 4, T0 + HOUR).await.unwrap();
    store.reap(T0 + 48 * HOUR, ReapLimits::default()).await.unwrap();
    assert_eq!(store.get_task_any(timed_out.id).await.unwrap().unwrap().state(), TaskState::Failed);
    for (id, at) in [(done.id, T0 + 2), (cancelled.id, T0 + 3), (timed_out.id, T0 + 48 * HOUR)] {
        let (d, attempts) = store
            .delivery_for(&vidgate_domain::KeyId::from("k"), id)
            .await
            .unwrap()
            .expect("a delivery");
        assert_eq!((d.state, d.attempts, d.next_attempt_at), (DeliveryState::Pending, 0, at));
        assert!(d.id.starts_with("msg_") && d.id.len() > 20, "{}", d.id);
        assert!(attempts.is_empty());
    }
    assert!(
        store.delivery_for(&vidgate_domain::KeyId::from("k"), silent.id).await.unwrap().is_none()
    );
    assert!(
        store
            .delivery_for(&vidgate_domain::KeyId::from("other-key"), done.id)
            .await
            .unwrap()
            .is_none(),
        "another key sees nothing"
    );
}

pub async fn deliveries_are_claimed_fenced_retried_and_redelivered(store: &dyn Store) {
    let t = insert(store, with_hook("k", T0)).await;
    store.cancel_task(&vidgate_domain::KeyId::from("k"), t.id, T0 + 10).await.unwrap();
    assert!(store.claim_due_delivery(T0 + 9, T0 + 100).await.unwrap().is_none(), "not due yet");
    let d = store.claim_due_delivery(T0 + 10, T0 + 1000).await.unwrap().unwrap();
    assert!(store.claim_due_delivery(T0 + 11, T0 + 1000).await.unwrap().is_none(), "leased");
    assert!(store.freeze_payload(&d, r#"{"x":1}"#).await.unwrap());
    assert!(!store.freeze_payload(&d, r#"{"x":2}"#).await.unwrap(), "frozen once");
    let failed =
        Attempt { at: T0 + 12, status: Some(503), error: Some("busy".into()), duration_ms: 7 };
    assert!(
        store
            .record_attempt(&d, &failed, AttemptResult::RetryAt(T0 + 5000), T0 + 12)
            .await
            .unwrap()
    );
    assert!(
        !store.record_attempt(&d, &failed, AttemptResult::Delivered, T0 + 13).await.unwrap(),
        "the lease is gone"
    );
    assert!(store.claim_due_delivery(T0 + 4999, T0 + 6000).await.unwrap().is_none());
    let d2 = store.claim_due_delivery(T0 + 5000, T0 + 6000).await.unwrap().unwrap();
    assert_eq!(
        (d2.id.as_str(), d2.attempts, d2.payload.as_deref()),
        (d.id.as_str(), 1, Some(r#"{"x":1}"#))
    );
    let ok = Attempt { at: T0 + 5001, status: Some(204), error: None, duration_ms: 3 };
    assert!(store.record_attempt(&d2, &ok, AttemptResult::Delivered, T0 + 5001).await.unwrap());
    let (view, attempts) =
        store.delivery_for(&vidgate_domain::KeyId::from("k"), t.id).await.unwrap().unwrap();
    assert_eq!(
        (view.state, view.attempts, view.delivered_at),
        (DeliveryState::Delivered, 2, Some(T0 + 5001))
    );
    assert_eq!(attempts, vec![failed, ok]);
    assert!(
        store.claim_due_delivery(T0 + 99_999, T0 + 100_000).await.unwrap().is_none(),
        "delivered is final"
    );
    // Redelivery: same webhook-id, a new round, due at once.
    assert!(store.redeliver(&vidgate_domain::KeyId::from("k"), t.id, T0 + 6000).await.unwrap());
    assert!(
        !store.redeliver(&vidgate_domain::KeyId::from("other"), t.id, T0 + 6000).await.unwrap()
    );
    let again = store.claim_due_delivery(T0 + 6000, T0 + 7000).await.unwrap().unwrap();
    assert_eq!(
        (again.id.as_str(), again.attempts, again.state),
        (d.id.as_str(), 0, DeliveryState::Pending)
    );
    assert!(
        store
            .record_attempt(
                &again,
                &Attempt { at: T0 + 6001, status: Some(400), error: None, duration_ms: 1 },
                AttemptResult::Failed,
                T0 + 6001
            )
            .await
            .unwrap()
    );
    assert_eq!(
        store.delivery_for(&vidgate_domain::KeyId::from("k"), t.id).await.unwrap().unwrap().0.state,
        DeliveryState::Failed
    );
}
