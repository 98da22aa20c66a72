//! Contract cases for the API side: insert, read, list, logs, cancel.

use vidgate_domain::Pool;
use vidgate_domain::{ErrorType, RequestId, TaskState};

use super::{HOUR, T0, insert, new_task};
use crate::{CancelOutcome, ListQuery, LogLevel, Slot, Store};

pub async fn inserted_tasks_read_back_exactly_as_written(store: &dyn Store) {
    let mut t = new_task("k1", 3, T0);
    t.request = super::request("héllo 世界 \"quoted\"");
    let inserted = insert(store, t.clone()).await;
    assert_eq!(inserted.id, t.id);
    assert_eq!(inserted.state(), TaskState::Queued);
    assert_eq!(inserted.rank, 3);
    assert_eq!(inserted.created_at, T0);
    assert_eq!(inserted.deadline_at, T0 + 24 * HOUR);
    assert_eq!(inserted.fence, 0);
    let read = store
        .get_task(&vidgate_domain::KeyId::from("k1"), t.id)
        .await
        .unwrap()
        .expect("task exists");
    assert_eq!(read, inserted);
    assert_eq!(read.request, t.request);
}

pub async fn another_keys_task_does_not_exist(store: &dyn Store) {
    let t = insert(store, new_task("k1", 0, T0)).await;
    assert!(store.get_task(&vidgate_domain::KeyId::from("k2"), t.id).await.unwrap().is_none());
    assert!(
        store
            .get_task(&vidgate_domain::KeyId::from("k1"), RequestId::new())
            .await
            .unwrap()
            .is_none()
    );
    let q = ListQuery { limit: 10, ..Default::default() };
    assert!(store.list_tasks(&vidgate_domain::KeyId::from("k2"), &q).await.unwrap().is_empty());
    assert_eq!(
        store.cancel_task(&vidgate_domain::KeyId::from("k2"), t.id, T0).await.unwrap(),
        CancelOutcome::NotFound
    );
    assert_eq!(
        store.get_task(&vidgate_domain::KeyId::from("k1"), t.id).await.unwrap().unwrap().state(),
        TaskState::Queued
    );
}

pub async fn listing_pages_newest_first_and_filters_by_state(store: &dyn Store) {
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(insert(store, new_task("k1", 0, T0 + i)).await.id);
    }
    insert(store, new_task("other", 0, T0)).await;
    let q =
        |before, states| ListQuery { states, before_seq: before, limit: 2, ..Default::default() };
    let page1 = store.list_tasks(&vidgate_domain::KeyId::from("k1"), &q(None, None)).await.unwrap();
    assert_eq!(page1.iter().map(|t| t.id).collect::<Vec<_>>(), vec![ids[4], ids[3]]);
    let page2 = store
        .list_tasks(&vidgate_domain::KeyId::from("k1"), &q(Some(page1[1].seq), None))
        .await
        .unwrap();
    assert_eq!(page2.iter().map(|t| t.id).collect::<Vec<_>>(), vec![ids[2], ids[1]]);

    store.cancel_task(&vidgate_domain::KeyId::from("k1"), ids[1], T0 + 10).await.unwrap();
    let cancelled = store
        .list_tasks(&vidgate_domain::KeyId::from("k1"), &q(None, Some(vec![TaskState::Cancelled])))
        .await
        .unwrap();
    assert_eq!(cancelled.iter().map(|t| t.id).collect::<Vec<_>>(), vec![ids[1]]);
    let none =
        store.list_tasks(&vidgate_domain::KeyId::from("k1"), &q(None, Some(vec![]))).await.unwrap();
    assert!(none.is_empty());
}

pub async fn listing_pages_oldest_first_after_a_cursor(store: &dyn Store) {
    let mut ids = Vec::new();
    for i in 0..4 {
        ids.push(insert(store, new_task("k1", 0, T0 + i)).await.id);
    }
    let q = |after| ListQuery { after_seq: after, ascending: true, limit: 2, ..Default::default() };
    let page1 = store.list_tasks(&vidgate_domain::KeyId::from("k1"), &q(None)).await.unwrap();
    assert_eq!(page1.iter().map(|t| t.id).collect::<Vec<_>>(), vec![ids[0], ids[1]]);
    let page2 =
        store.list_tasks(&vidgate_domain::KeyId::from("k1"), &q(Some(page1[1].seq))).await.unwrap();
    assert_eq!(page2.iter().map(|t| t.id).collect::<Vec<_>>(), vec![ids[2], ids[3]]);
    let newest_first_after =
        ListQuery { after_seq: Some(page1[0].seq), limit: 10, ..Default::default() };
    let rest =
        store.list_tasks(&vidgate_domain::KeyId::from("k1"), &newest_first_after).await.unwrap();
    assert_eq!(rest.iter().map(|t| t.id).collect::<Vec<_>>(), vec![ids[3], ids[2], ids[1]]);
}

pub async fn a_forgotten_task_is_gone_for_its_key_but_not_for_workers(store: &dyn Store) {
    let kept = insert(store, new_task("k1", 0, T0)).await;
    let t = insert(store, new_task("k1", 0, T0 + 1)).await;
    assert!(
        !store.forget_task(&vidgate_domain::KeyId::from("k2"), t.id, T0 + 2).await.unwrap(),
        "another key cannot forget it"
    );
    assert!(store.forget_task(&vidgate_domain::KeyId::from("k1"), t.id, T0 + 2).await.unwrap());
    assert!(
        !store.forget_task(&vidgate_domain::KeyId::from("k1"), t.id, T0 + 3).await.unwrap(),
        "forgotten once"
    );
    assert!(store.get_task(&vidgate_domain::KeyId::from("k1"), t.id).await.unwrap().is_none());
    assert!(store.task_status(&vidgate_domain::KeyId::from("k1"), t.id).await.unwrap().is_none());
    assert_eq!(
        store.cancel_task(&vidgate_domain::KeyId::from("k1"), t.id, T0 + 3).await.unwrap(),
        CancelOutcome::NotFound
    );
    let q = ListQuery { limit: 10, ..Default::default() };
    let listed = store.list_tasks(&vidgate_domain::KeyId::from("k1"), &q).await.unwrap();
    assert_eq!(listed.iter().map(|t| t.id).collect::<Vec<_>>(), vec![kept.id]);
    // The workers still see it (it may be with the upstream, or queued: it runs its course).
    let any = store.get_task_any(t.id).await.unwrap().expect("the row stays");
    assert_eq!(any.state(), TaskState::Queued);
    assert!(store.task_logs(t.id).await.unwrap().iter().any(|l| l.message.contains("deleted")));
}

pub async fn logs_accumulate_in_order(store: &dyn Store) {
    let t = insert(store, new_task("k1", 0, T0)).await;
    store.append_log(t.id, crate::LogEntry::warn(T0 + 5, "second")).await.unwrap();
    store.append_log(t.id, crate::LogEntry::info(T0 + 6, "third ✓")).await.unwrap();
    let logs = store.task_logs(t.id).await.unwrap();
    assert_eq!(logs.len(), 3);
    assert!(logs[0].message.contains("queued"), "{:?}", logs[0]);
    assert_eq!(logs[1].message, "second");
    assert_eq!(logs[1].level, LogLevel::Warn);
    assert_eq!(logs[2].message, "third ✓");
    assert_eq!(logs[2].at, T0 + 6);
}

/// Earlier builds stored the first log line; it is now read from the task row, and a stored
/// copy (an old row, or an older replica during a rolling upgrade) is not shown twice.
pub async fn a_first_log_line_stored_by_an_earlier_build_shows_once(store: &dyn Store) {
    let t = insert(store, new_task("k1", 0, T0)).await;
    let legacy = crate::LogEntry::info(T0, "accepted and queued (pool sandbox)");
    store.append_log(t.id, legacy).await.unwrap();
    store.append_log(t.id, crate::LogEntry::info(T0 + 1, "handed to the upstream")).await.unwrap();
    let logs = store.task_logs(t.id).await.unwrap();
    let messages: Vec<&str> = logs.iter().map(|l| l.message.as_str()).collect();
    assert_eq!(messages, ["accepted and queued (pool sandbox)", "handed to the upstream"]);
    assert_eq!(logs[0].at, T0);
}

pub async fn cancelling_a_queued_task_ends_it_without_dispatch(store: &dyn Store) {
    let t = insert(store, new_task("k1", 0, T0)).await;
    assert_eq!(
        store.cancel_task(&vidgate_domain::KeyId::from("k1"), t.id, T0 + 1).await.unwrap(),
        CancelOutcome::Cancelled
    );
    let after = store.get_task(&vidgate_domain::KeyId::from("k1"), t.id).await.unwrap().unwrap();
    assert_eq!(after.state(), TaskState::Cancelled);
    assert_eq!(after.error_type(), Some(&ErrorType::Cancelled));
    assert_eq!(after.finished_at(), Some(T0 + 1));
    assert_eq!(after.dispatched_at, None);
    let slots = [Slot { account: "a".into(), limit: 5 }];
    assert!(
        store
            .claim_next_queued(Pool::Sandbox, &slots, "w", T0 + 2, T0 + HOUR)
            .await
            .unwrap()
            .is_none()
    );
}

/// The upstream has no cancel call: a cancel after dispatch flags the request and it runs to
/// its end, keeping its slot. One back in the queue after an attempt (whose answer may have
/// been lost) is made due at once, for the dispatcher to ask the upstream first.
pub async fn a_cancel_after_dispatch_flags_the_request_and_it_runs_on(store: &dyn Store) {
    let t = insert(store, new_task("k1", 0, T0)).await;
    let slots = [Slot { account: "a".into(), limit: 1 }];
    let claimed =
        store.claim_next_queued(Pool::Sandbox, &slots, "w", T0, T0 + 1000).await.unwrap().unwrap();
    store
        .mark_running(
            claimed.lease(),
            "up-1",
            T0 + HOUR,
            T0 + 1,
            crate::LogEntry::info(T0 + 1, "sent"),
        )
        .await
        .unwrap();
    assert_eq!(
        store.cancel_task(&vidgate_domain::KeyId::from("k1"), t.id, T0 + 2).await.unwrap(),
        CancelOutcome::Requested
    );
    assert_eq!(
        store.cancel_task(&vidgate_domain::KeyId::from("k1"), t.id, T0 + 3).await.unwrap(),
        CancelOutcome::Requested
    );
    let after = store.get_task(&vidgate_domain::KeyId::from("k1"), t.id).await.unwrap().unwrap();
    assert!(after.cancel_requested);
    assert_eq!(after.state(), TaskState::Running);
    assert_eq!(after.next_poll_at(), Some(T0 + HOUR), "its polls keep their schedule");
    assert_eq!(store.slots_in_use(Pool::Sandbox).await.unwrap(), vec![("a".to_owned(), 1)]);
    let other = insert(store, new_task("k1", 0, T0 + 4)).await;
    assert!(
        store
            .claim_next_queued(Pool::Sandbox, &slots, "w", T0 + 5, T0 + HOUR)
            .await
            .unwrap()
            .is_none(),
        "the cancelled request still holds the account's one slot"
    );
    // Back in the queue after an attempt: flagged, queued, due now.
    let u = insert(store, new_task("k2", 0, T0 + 6)).await;
    let wide = [Slot { account: "b".into(), limit: 5 }];
    let c = store
        .claim_next_queued(Pool::Sandbox, &wide, "w", T0 + 7, T0 + HOUR)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.id, other.id);
    let c = store
        .claim_next_queued(Pool::Sandbox, &wide, "w", T0 + 7, T0 + HOUR)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.id, u.id);
    let log = crate::LogEntry::info(T0 + 8, "retry");
    assert!(store.requeue(c.lease(), T0 + HOUR, T0 + 8, log).await.unwrap());
    assert_eq!(
        store.cancel_task(&vidgate_domain::KeyId::from("k2"), u.id, T0 + 9).await.unwrap(),
        CancelOutcome::Requested
    );
    let after = store.get_task(&vidgate_domain::KeyId::from("k2"), u.id).await.unwrap().unwrap();
    assert_eq!((after.state(), after.cancel_requested), (TaskState::Queued, true));
    assert_eq!(after.run_after, T0 + 9, "due now, not at its backoff");
    assert!(
        store
            .claim_next_queued(Pool::Sandbox, &wide, "w", T0 + 9, T0 + HOUR)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(after.account.as_deref(), Some("b"), "where the lost attempt went");
}

pub async fn cancel_answers_already_completed_and_not_found(store: &dyn Store) {
    let t = insert(store, new_task("k1", 0, T0)).await;
    store.cancel_task(&vidgate_domain::KeyId::from("k1"), t.id, T0).await.unwrap();
    assert_eq!(
        store.cancel_task(&vidgate_domain::KeyId::from("k1"), t.id, T0 + 1).await.unwrap(),
        CancelOutcome::AlreadyCompleted
    );
    assert_eq!(
        store.cancel_task(&vidgate_domain::KeyId::from("k1"), RequestId::new(), T0).await.unwrap(),
        CancelOutcome::NotFound
    );
}
