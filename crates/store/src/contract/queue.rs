//! Contract cases for the queue: order, positions, slots, leases, fencing, the reaper.

use std::collections::HashSet;
use std::sync::Arc;
use vidgate_domain::Pool;

use vidgate_domain::{ErrorType, Millis, TaskState};

use super::{HOUR, T0, insert, join_all, new_task, result};
use crate::{Completion, LogEntry, NewTask, ReapLimits, Slot, Store};

pub(super) fn slots(limit: i64) -> Vec<Slot> {
    vec![Slot { account: "acct".into(), limit }]
}

/// Claims the head of the sandbox queue for worker `w` at `T0`, leased for an hour.
async fn claim_first(store: &dyn Store, slots: &[Slot]) -> crate::Claimed<crate::SubmitClaim> {
    store.claim_next_queued(Pool::Sandbox, slots, "w", T0, T0 + HOUR).await.unwrap().unwrap()
}

pub async fn dispatch_order_is_rank_then_arrival(store: &dyn Store) {
    let low = insert(store, new_task("k", -5, T0)).await;
    let first_normal = insert(store, new_task("k", 0, T0 + 1)).await;
    let high = insert(store, new_task("k", 10, T0 + 2)).await;
    let second_normal = insert(store, new_task("k", 0, T0 + 3)).await;
    let lane_low = insert(store, new_task("k", -100, T0 + 4)).await;
    let mut order = Vec::new();
    while let Some(t) =
        store.claim_next_queued(Pool::Sandbox, &slots(100), "w", T0 + 10, T0 + HOUR).await.unwrap()
    {
        assert_eq!(t.state(), TaskState::Submitting);
        order.push(t.id);
    }
    assert_eq!(order, vec![high.id, first_normal.id, second_normal.id, low.id, lane_low.id]);
}

pub async fn claims_respect_each_accounts_slot_limit(store: &dyn Store) {
    for i in 0..5 {
        insert(store, new_task("k", 0, T0 + i)).await;
    }
    let two = vec![Slot { account: "a".into(), limit: 2 }, Slot { account: "b".into(), limit: 1 }];
    let mut accounts = Vec::new();
    while let Some(t) =
        store.claim_next_queued(Pool::Sandbox, &two, "w", T0 + 10, T0 + HOUR).await.unwrap()
    {
        accounts.push(t.account.clone().unwrap());
    }
    assert_eq!(accounts, vec!["a", "a", "b"]);
    assert_eq!(
        store.slots_in_use(Pool::Sandbox).await.unwrap(),
        vec![("a".into(), 2), ("b".into(), 1)]
    );
    // Finishing one frees its slot for the next queued task.
    let any = store
        .list_tasks(
            &vidgate_domain::KeyId::from("k"),
            &crate::ListQuery {
                states: Some(vec![TaskState::Submitting]),
                limit: 1,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let done = &any[0];
    assert!(
        store
            .complete(
                crate::Lease { id: done.id, fence: done.fence },
                Completion::Succeeded { result: Box::new(result()), charge: Default::default() },
                T0 + 11,
                LogEntry::info(T0 + 11, "done")
            )
            .await
            .unwrap()
    );
    let next = store
        .claim_next_queued(Pool::Sandbox, &two, "w", T0 + 12, T0 + HOUR)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(next.account, done.account);
    assert!(
        store
            .claim_next_queued(Pool::Sandbox, &two, "w", T0 + 12, T0 + HOUR)
            .await
            .unwrap()
            .is_none()
    );
}

pub async fn concurrent_claims_never_double_claim_or_exceed_the_limit(store: &dyn Store) {
    for i in 0..20 {
        insert(store, new_task("k", 0, T0 + i)).await;
    }
    // Raw pointer games are not needed: the futures borrow the store for the join's duration.
    let limit = 7;
    let claims = futures_like_join(store, limit).await;
    let unique: HashSet<_> = claims.iter().collect();
    assert_eq!(unique.len(), claims.len(), "a task was claimed twice");
    assert_eq!(claims.len() as i64, limit, "exactly the slot limit is claimed");
}

async fn futures_like_join(store: &dyn Store, limit: i64) -> Vec<vidgate_domain::RequestId> {
    let slots = Arc::new(slots(limit));
    let mut handles = Vec::new();
    for w in 0..8 {
        let slots = slots.clone();
        handles.push(async move {
            let mut mine = Vec::new();
            while let Some(t) = store
                .claim_next_queued(Pool::Sandbox, &slots, &format!("w{w}"), T0 + 100, T0 + HOUR)
                .await
                .unwrap()
            {
                mine.push(t.id);
                tokio::task::yield_now().await;
            }
            mine
        });
    }
    let mut all = Vec::new();
    for mine in join_all(handles).await {
        all.extend(mine);
    }
    all
}

pub async fn a_stale_lease_cannot_overwrite_a_newer_attempt(store: &dyn Store) {
    let t = insert(store, new_task("k", 0, T0)).await;
    let first = store
        .claim_next_queued(Pool::Sandbox, &slots(1), "w1", T0, T0 + 1000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.fence, 1);
    assert_eq!(first.submit_attempts, 1);
    // w1 stalls past its lease; the reaper puts the task back and w2 claims it.
    let report = store.reap(T0 + 1001, ReapLimits::default()).await.unwrap();
    assert_eq!(report.requeued, 1);
    let second = store
        .claim_next_queued(Pool::Sandbox, &slots(1), "w2", T0 + 1002, T0 + 5000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(second.id, t.id);
    assert!(second.fence > first.fence);
    assert_eq!(second.submit_attempts, 2);
    // w1 wakes up: none of its writes take.
    let log = || LogEntry::info(T0 + 1003, "stale");
    assert!(!store.mark_running(first.lease(), "up-stale", T0, T0 + 1003, log()).await.unwrap());
    assert!(!store.requeue(first.lease(), T0, T0 + 1003, log()).await.unwrap());
    assert!(!store.complete(first.lease(), Completion::Cancelled, T0 + 1003, log()).await.unwrap());
    // w2's write does.
    assert!(
        store
            .mark_running(
                second.lease(),
                "up-2",
                T0 + 2000,
                T0 + 1004,
                LogEntry::info(T0 + 1004, "sent")
            )
            .await
            .unwrap()
    );
    let now = store.get_task_any(t.id).await.unwrap().unwrap();
    assert_eq!(now.state(), TaskState::Running);
    assert_eq!(now.upstream_task_id(), Some("up-2"));
    assert_eq!(now.phase.job().map(|j| j.submitted_at), Some(T0 + 1004));
    assert_eq!(now.dispatched_at, Some(T0), "dispatched_at keeps the first dispatch");
}

/// A task back in the queue after an attempt is claimed again only for the account that
/// attempt went to: the upstream dedupes `SessionId` per account, and looks a lost attempt's
/// job up there.
pub async fn a_task_back_in_the_queue_goes_to_the_account_of_its_attempt(store: &dyn Store) {
    let t = insert(store, new_task("k", 0, T0)).await;
    let a = vec![Slot { account: "a".into(), limit: 5 }];
    let b = vec![Slot { account: "b".into(), limit: 5 }];
    let c = store.claim_next_queued(Pool::Sandbox, &a, "w", T0, T0 + HOUR).await.unwrap().unwrap();
    assert!(store.requeue(c.lease(), T0, T0 + 1, LogEntry::warn(T0, "lost")).await.unwrap());
    assert!(
        store.claim_next_queued(Pool::Sandbox, &b, "w", T0 + 2, T0 + HOUR).await.unwrap().is_none()
    );
    let both = [b, a].concat();
    let again =
        store.claim_next_queued(Pool::Sandbox, &both, "w", T0 + 3, T0 + HOUR).await.unwrap();
    assert_eq!(again.map(|c| (c.id, c.account.clone())), Some((t.id, Some("a".to_owned()))));
}

pub async fn a_requeued_task_waits_for_its_backoff(store: &dyn Store) {
    let t = insert(store, new_task("k", 0, T0)).await;
    let c = claim_first(store, &slots(1)).await;
    assert!(
        store.requeue(c.lease(), T0 + 5000, T0 + 1, LogEntry::warn(T0 + 1, "busy")).await.unwrap()
    );
    let back = store.get_task_any(t.id).await.unwrap().unwrap();
    assert_eq!(back.state(), TaskState::Queued);
    assert_eq!(back.account.as_deref(), Some("acct"), "where the attempt went stays known");
    assert!(
        store
            .claim_next_queued(Pool::Sandbox, &slots(1), "w", T0 + 4999, T0 + HOUR)
            .await
            .unwrap()
            .is_none()
    );
    let again = store
        .claim_next_queued(Pool::Sandbox, &slots(1), "w", T0 + 5000, T0 + HOUR)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.id, t.id);
    assert_eq!(again.submit_attempts, 2);
}

pub async fn poll_claims_take_only_due_unleased_running_tasks(store: &dyn Store) {
    let t = insert(store, new_task("k", 0, T0)).await;
    assert!(
        store.claim_next_poll(Pool::Sandbox, "p", T0, T0 + 100).await.unwrap().is_none(),
        "queued is not pollable"
    );
    let c = claim_first(store, &slots(1)).await;
    store
        .mark_running(c.lease(), "up", T0 + 500, T0 + 1, LogEntry::info(T0 + 1, "sent"))
        .await
        .unwrap();
    assert!(
        store.claim_next_poll(Pool::Sandbox, "p", T0 + 499, T0 + 600).await.unwrap().is_none(),
        "not due yet"
    );
    assert!(
        store.claim_next_poll(Pool::Tencent, "p", T0 + 500, T0 + 600).await.unwrap().is_none(),
        "other pool"
    );
    let p = store.claim_next_poll(Pool::Sandbox, "p", T0 + 500, T0 + 600).await.unwrap().unwrap();
    assert_eq!(p.id, t.id);
    assert!(
        store.claim_next_poll(Pool::Sandbox, "p2", T0 + 550, T0 + 650).await.unwrap().is_none(),
        "leased"
    );
    assert!(
        store
            .record_poll(
                p.lease(),
                40,
                T0 + 1000,
                T0 + 560,
                Some(LogEntry::info(T0 + 560, "progress 40%"))
            )
            .await
            .unwrap()
    );
    let after = store.get_task_any(t.id).await.unwrap().unwrap();
    assert_eq!(after.progress, 40);
    assert_eq!(after.lease_holder(), None);
    assert!(
        !store.record_poll(p.lease(), 90, T0 + 1000, T0 + 561, None).await.unwrap(),
        "lease already released"
    );
    let p2 =
        store.claim_next_poll(Pool::Sandbox, "p", T0 + 1000, T0 + 1100).await.unwrap().unwrap();
    assert!(store.record_poll(p2.lease(), 10, T0 + 2000, T0 + 1001, None).await.unwrap());
    assert_eq!(
        store.get_task_any(t.id).await.unwrap().unwrap().progress,
        40,
        "progress never goes backwards"
    );
}

pub async fn completion_is_fenced_and_final(store: &dyn Store) {
    let t = insert(store, new_task("k", 0, T0)).await;
    let c = claim_first(store, &slots(1)).await;
    let result = result();
    assert!(
        store
            .complete(
                c.lease(),
                Completion::Succeeded {
                    result: Box::new(result.clone()),
                    charge: Default::default()
                },
                T0 + 9,
                LogEntry::info(T0 + 9, "done")
            )
            .await
            .unwrap()
    );
    assert!(
        !store
            .complete(
                c.lease(),
                Completion::Failed { error: "x".into(), error_type: ErrorType::upstream("y") },
                T0 + 10,
                LogEntry::info(T0 + 10, "again")
            )
            .await
            .unwrap()
    );
    let done = store.get_task_any(t.id).await.unwrap().unwrap();
    assert_eq!(done.state(), TaskState::Succeeded);
    assert_eq!(done.result(), Some(&result));
    assert_eq!(done.progress, 100);
    assert_eq!(done.finished_at(), Some(T0 + 9));
    assert_eq!(done.error(), None);
    assert!(
        store.slots_in_use(Pool::Sandbox).await.unwrap().is_empty(),
        "a finished task frees its slot"
    );
}

pub async fn the_reaper_requeues_expired_submits_and_releases_polls(store: &dyn Store) {
    let a = insert(store, new_task("k", 0, T0)).await;
    let b = insert(store, new_task("k", 0, T0 + 1)).await;
    let ca = store
        .claim_next_queued(Pool::Sandbox, &slots(5), "w", T0 + 1, T0 + 100)
        .await
        .unwrap()
        .unwrap();
    let cb = store
        .claim_next_queued(Pool::Sandbox, &slots(5), "w", T0 + 1, T0 + 10_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((ca.id, cb.id), (a.id, b.id));
    store
        .mark_running(cb.lease(), "up-b", T0, T0 + 1, LogEntry::info(T0 + 1, "sent"))
        .await
        .unwrap();
    let pb = store.claim_next_poll(Pool::Sandbox, "p", T0 + 2, T0 + 200).await.unwrap().unwrap();
    assert!(
        store.reap(T0 + 99, ReapLimits::default()).await.unwrap().is_empty(),
        "nothing has expired yet"
    );
    let report = store.reap(T0 + 201, ReapLimits::default()).await.unwrap();
    assert_eq!((report.requeued, report.released, report.timed_out), (1, 1, 0));
    let a_now = store.get_task_any(a.id).await.unwrap().unwrap();
    assert_eq!(a_now.state(), TaskState::Queued);
    assert!(a_now.fence > ca.fence);
    assert!(
        store.task_logs(a.id).await.unwrap().iter().any(|l| l.message.contains("lease expired"))
    );
    let b_now = store.get_task_any(b.id).await.unwrap().unwrap();
    assert_eq!(b_now.state(), TaskState::Running);
    assert_eq!(b_now.lease_holder(), None);
    assert!(
        !store.record_poll(pb.lease(), 50, T0 + 300, T0 + 202, None).await.unwrap(),
        "the stale poller is fenced off"
    );
}

pub async fn the_reaper_fails_tasks_past_their_deadline(store: &dyn Store) {
    let queued = insert(store, new_task("k", 0, T0)).await;
    let running = insert(store, new_task("k", 0, T0)).await;
    let c = store
        .claim_next_queued(Pool::Sandbox, &slots(1), "w", T0, T0 + 48 * HOUR)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.id, queued.id);
    store.mark_running(c.lease(), "up", T0, T0, LogEntry::info(T0, "sent")).await.unwrap();
    let report = store.reap(T0 + 24 * HOUR, ReapLimits::default()).await.unwrap();
    assert_eq!(report.timed_out, 2);
    for id in [queued.id, running.id] {
        let t = store.get_task_any(id).await.unwrap().unwrap();
        assert_eq!(t.state(), TaskState::Failed);
        assert_eq!(t.error_type(), Some(&ErrorType::Timeout));
        assert_eq!(t.finished_at(), Some(T0 + 24 * HOUR));
    }
    // The one the upstream has is followed, and keeps its slot; the other is simply over.
    let followed = store.get_task_any(queued.id).await.unwrap().unwrap();
    assert_eq!(followed.following_until(), Some(T0 + 48 * HOUR));
    let never_sent = store.get_task_any(running.id).await.unwrap().unwrap();
    assert_eq!(never_sent.following_until(), None);
    assert_eq!(store.slots_in_use(Pool::Sandbox).await.unwrap(), vec![("acct".to_owned(), 1)]);
    // A submit in flight at its deadline is left to finish; its answer decides.
    let sending =
        insert(store, NewTask { deadline_at: T0 + 25 * HOUR, ..new_task("k", 0, T0) }).await;
    let c = store
        .claim_next_queued(Pool::Sandbox, &slots(5), "w", T0 + 25 * HOUR - 1, T0 + 26 * HOUR)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.id, sending.id);
    assert_eq!(store.reap(T0 + 25 * HOUR, ReapLimits::default()).await.unwrap().timed_out, 0);
    let log = LogEntry::info(T0, "sent");
    assert!(store.mark_running(c.lease(), "up-2", T0, T0 + 25 * HOUR, log).await.unwrap());
    assert_eq!(store.reap(T0 + 25 * HOUR, ReapLimits::default()).await.unwrap().timed_out, 1);
    let t = store.get_task_any(sending.id).await.unwrap().unwrap();
    assert_eq!((t.state(), t.following_until().is_some()), (TaskState::Failed, true));
    // A queued request past its deadline is never claimed, even before the reaper runs.
    let late = insert(store, NewTask { deadline_at: T0 + 30 * HOUR, ..new_task("k", 0, T0) }).await;
    assert!(
        store
            .claim_next_queued(Pool::Sandbox, &slots(5), "w", T0 + 30 * HOUR, T0 + 31 * HOUR)
            .await
            .unwrap()
            .is_none(),
        "{} is past its deadline",
        late.id
    );
}

pub async fn heartbeats_extend_only_a_lease_still_held(store: &dyn Store) {
    let t = insert(store, new_task("k", 0, T0)).await;
    let c = store
        .claim_next_queued(Pool::Sandbox, &slots(1), "w", T0, T0 + 100)
        .await
        .unwrap()
        .unwrap();
    assert!(store.extend_lease(c.lease(), T0 + 1000).await.unwrap());
    assert!(
        store.reap(T0 + 500, ReapLimits::default()).await.unwrap().is_empty(),
        "the extended lease has not expired"
    );
    let held = store.get_task_any(t.id).await.unwrap().unwrap().lease_holder().map(|h| h.until);
    assert_eq!(held, Some(T0 + 1000));
    store.reap(T0 + 1001, ReapLimits::default()).await.unwrap();
    assert!(
        !store.extend_lease(c.lease(), T0 + 5000).await.unwrap(),
        "a reclaimed lease cannot be revived"
    );
}

/// A tiny deterministic generator, so the case is the same on every backend and every run.
pub async fn events_make_a_running_task_due_by_request_or_upstream_id(store: &dyn Store) {
    let a = insert(store, new_task("k", 0, T0)).await;
    let b = insert(store, new_task("k", 0, T0)).await;
    for (t, up) in [(&a, "up-a"), (&b, "up-b")] {
        let c = store
            .claim_next_queued(Pool::Sandbox, &slots(5), "w", T0 + 1, T0 + HOUR)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(c.id, t.id);
        store
            .mark_running(c.lease(), up, T0 + HOUR, T0 + 2, LogEntry::info(T0, "sent"))
            .await
            .unwrap();
    }
    // An event must name the task's upstream id, and its request id when it names one.
    assert!(!store.make_due(Some(a.id), "up-b", T0 + 10, 0).await.unwrap(), "ids of two tasks");
    assert!(!store.make_due(Some(b.id), "up-a", T0 + 10, 0).await.unwrap(), "ids of two tasks");
    assert!(!store.make_due(Some(a.id), "ignored", T0 + 10, 0).await.unwrap(), "wrong upstream id");
    assert_eq!(store.get_task_any(a.id).await.unwrap().unwrap().next_poll_at(), Some(T0 + HOUR));
    assert!(store.make_due(Some(a.id), "up-a", T0 + 10, 0).await.unwrap());
    assert!(store.make_due(None, "up-b", T0 + 11, 0).await.unwrap());
    assert_eq!(store.get_task_any(a.id).await.unwrap().unwrap().next_poll_at(), Some(T0 + 10));
    assert_eq!(store.get_task_any(b.id).await.unwrap().unwrap().next_poll_at(), Some(T0 + 11));
    assert!(!store.make_due(None, "up-unknown", T0, 0).await.unwrap());
    let q = insert(store, new_task("k", 0, T0)).await;
    assert!(!store.make_due(Some(q.id), "", T0, 0).await.unwrap(), "only running tasks are polled");
}

/// A task of key `k` inserted, claimed and sent upstream as `up-1` at `sent_at`, its first
/// poll due at `poll_at`: running.
async fn running(store: &dyn Store, sent_at: Millis, poll_at: Millis) -> crate::TaskRecord {
    let t = insert(store, new_task("k", 0, T0)).await;
    let c = claim_first(store, &slots(1)).await;
    assert_eq!(c.id, t.id);
    store
        .mark_running(c.lease(), "up-1", poll_at, sent_at, LogEntry::info(T0, "sent"))
        .await
        .unwrap();
    t
}

pub async fn an_event_during_a_poll_is_not_deferred_by_it(store: &dyn Store) {
    let t = running(store, T0 + 1, T0 + 1).await;
    // A poll is in flight when the event arrives; the poll then asks for its next turn late.
    let p = store.claim_next_poll(Pool::Sandbox, "p", T0 + 2, T0 + HOUR).await.unwrap().unwrap();
    assert!(store.make_due(Some(t.id), "up-1", T0 + 3, 0).await.unwrap());
    assert!(store.record_poll(p.lease(), 10, T0 + 30_000, T0 + 4, None).await.unwrap());
    let after = store.get_task_any(t.id).await.unwrap().unwrap();
    assert_eq!(after.next_poll_at(), Some(T0 + 3), "the event's poll happens at once");
    // The next poll, with no event meanwhile, keeps its own schedule.
    let p = store.claim_next_poll(Pool::Sandbox, "p", T0 + 5, T0 + HOUR).await.unwrap().unwrap();
    assert!(store.record_poll(p.lease(), 20, T0 + 30_000, T0 + 6, None).await.unwrap());
    assert_eq!(store.get_task_any(t.id).await.unwrap().unwrap().next_poll_at(), Some(T0 + 30_000));
    // An event that came before the poll was claimed is consumed by that poll.
    assert!(store.make_due(Some(t.id), "up-1", T0 + 7, 0).await.unwrap());
    let p = store.claim_next_poll(Pool::Sandbox, "p", T0 + 8, T0 + HOUR).await.unwrap().unwrap();
    assert!(store.record_poll(p.lease(), 30, T0 + 40_000, T0 + 9, None).await.unwrap());
    assert_eq!(store.get_task_any(t.id).await.unwrap().unwrap().next_poll_at(), Some(T0 + 40_000));
}

/// A flood of events (replayed callbacks) brings a poll forward at most to `min_gap` after
/// the last one began: at most one upstream call per task per gap, whichever replica polls.
pub async fn events_bring_a_poll_no_closer_than_the_gap_after_the_last(store: &dyn Store) {
    const GAP: Millis = 2_000;
    let t = running(store, T0 + 1, T0 + 5).await;
    // Never polled: an event makes it due at once.
    assert!(store.make_due(Some(t.id), "up-1", T0 + 2, GAP).await.unwrap());
    assert_eq!(store.get_task_any(t.id).await.unwrap().unwrap().next_poll_at(), Some(T0 + 2));
    let p = store.claim_next_poll(Pool::Sandbox, "p", T0 + 10, T0 + HOUR).await.unwrap().unwrap();
    assert!(store.record_poll(p.lease(), 5, T0 + 60_000, T0 + 11, None).await.unwrap());
    // The first makes it due at the gap's end; the rest would change nothing and write nothing.
    assert!(store.make_due(Some(t.id), "up-1", T0 + 12, GAP).await.unwrap());
    for at in (T0 + 13..T0 + 1_000).step_by(7) {
        assert!(!store.make_due(Some(t.id), "up-1", at, GAP).await.unwrap(), "a replay at {at}");
    }
    let due = store.get_task_any(t.id).await.unwrap().unwrap().next_poll_at();
    assert_eq!(due, Some(T0 + 10 + GAP), "no sooner than the gap after the last poll");
    assert!(
        store
            .claim_next_poll(Pool::Sandbox, "p", T0 + 10 + GAP - 1, T0 + HOUR)
            .await
            .unwrap()
            .is_none()
    );
    let p =
        store.claim_next_poll(Pool::Sandbox, "q", T0 + 10 + GAP, T0 + HOUR).await.unwrap().unwrap();
    // Events during that poll: the next one still waits for the gap.
    assert!(store.make_due(Some(t.id), "up-1", T0 + 10 + GAP + 1, GAP).await.unwrap());
    assert!(store.record_poll(p.lease(), 6, T0 + 60_000, T0 + 10 + GAP + 2, None).await.unwrap());
    let due = store.get_task_any(t.id).await.unwrap().unwrap().next_poll_at();
    assert_eq!(due, Some(T0 + 10 + 2 * GAP));
    // An event never puts a poll later than it was.
    assert!(store.make_due(Some(t.id), "up-1", T0 + 10 + 2 * GAP + 5, 60 * GAP).await.unwrap());
    let due = store.get_task_any(t.id).await.unwrap().unwrap().next_poll_at();
    assert_eq!(due, Some(T0 + 10 + 2 * GAP));
}

pub async fn a_step_that_keeps_crashing_fails_after_the_limit(store: &dyn Store) {
    let limits = ReapLimits { batch: 100, max_step_attempts: 3, ..ReapLimits::default() };
    let t = insert(store, new_task("k", 0, T0)).await;
    let mut now = T0;
    // Two crashes mid-submit: back in the queue each time.
    for round in 1..=2 {
        let c = store
            .claim_next_queued(Pool::Sandbox, &slots(1), "w", now, now + 100)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(c.id, t.id);
        now += 101;
        let report = store.reap(now, limits).await.unwrap();
        assert_eq!((report.requeued, report.crashed), (1, 0), "round {round}");
    }
    // A finished step resets the count: the submit works, then polls crash twice.
    let c = store
        .claim_next_queued(Pool::Sandbox, &slots(1), "w", now, now + 100)
        .await
        .unwrap()
        .unwrap();
    store.mark_running(c.lease(), "up-1", now, now, LogEntry::info(now, "sent")).await.unwrap();
    for round in 1..=2 {
        store.claim_next_poll(Pool::Sandbox, "p", now, now + 100).await.unwrap().unwrap();
        now += 101;
        let report = store.reap(now, limits).await.unwrap();
        assert_eq!((report.released, report.crashed), (1, 0), "poll round {round}");
    }
    // The third crash in a row fails the request, with a clear error_type.
    store.claim_next_poll(Pool::Sandbox, "p", now, now + 100).await.unwrap().unwrap();
    now += 101;
    let report = store.reap(now, limits).await.unwrap();
    assert_eq!((report.released, report.crashed), (0, 1));
    let failed = store.get_task_any(t.id).await.unwrap().unwrap();
    assert_eq!(failed.state(), TaskState::Failed);
    assert_eq!(failed.error_type(), Some(&ErrorType::WorkerCrashed));
    assert!(failed.error().unwrap_or_default().contains("3 times"));
    // The upstream may still run its job: followed (by a step that does less), slot held.
    assert_eq!(failed.following_until(), Some(now + ReapLimits::default().reconcile_for));
    assert_eq!(store.slots_in_use(Pool::Sandbox).await.unwrap(), vec![("acct".to_owned(), 1)]);
    let f = store.claim_next_reconcile(Pool::Sandbox, "f", now, now + 100).await.unwrap().unwrap();
    let end = crate::FollowEnd::NoJob;
    assert!(
        store.end_reconcile(f.lease(), end, now + 1, LogEntry::info(now, "gone")).await.unwrap()
    );
    assert_eq!(store.slots_in_use(Pool::Sandbox).await.unwrap(), vec![], "the slot is free again");
}

pub async fn the_reaper_sweeps_in_bounded_batches(store: &dyn Store) {
    let limits = ReapLimits { batch: 4, max_step_attempts: 5, ..ReapLimits::default() };
    for _ in 0..10 {
        insert(store, new_task("k", 0, T0)).await;
    }
    let deadline_passed = T0 + 1000 * HOUR;
    let mut sweeps = Vec::new();
    loop {
        let report = store.reap(deadline_passed, limits).await.unwrap();
        sweeps.push(report.timed_out);
        if !report.more {
            break;
        }
        assert!(sweeps.len() < 10, "the sweeps end");
    }
    assert_eq!(sweeps, vec![4, 4, 2]);
    let stats = store.queue_stats(Pool::Sandbox).await.unwrap();
    assert_eq!(stats.queued, 0);
}
