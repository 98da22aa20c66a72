//! How a hold ends when its request ends early or is billed oddly: a job that outlives its
//! deadline, a submit whose answer was lost, a charge above the hold, a cancel after
//! dispatch. Each keeps the money exact: charged what the upstream charged, never more than
//! the hold, never below a prepaid balance.

use vidgate_domain::pricing::{CostBasis, Credits};
use vidgate_domain::{ErrorType, Pool, Usage};

use super::accounts::{
    charge_of, claim_first, credits, key, kinds, ledger_sum, priced, quote, sent, slots, success,
    top_up,
};
use super::{HOUR, T0, insert, result};
use crate::{
    CancelOutcome, Charge, Completion, FollowEnd, InsertOutcome, KeyBudget, LogEntry, ReapLimits,
    Store,
};

/// A job that outlives its request's deadline keeps its hold (and its slot) while it is
/// followed, and is settled on how it ends: what the upstream reports when it finishes it,
/// nothing when it fails it, the hold when its window closes with nothing learnt.
pub async fn a_job_past_its_deadline_keeps_its_hold_until_its_end_is_known(store: &dyn Store) {
    key(store, "late", KeyBudget { prepaid: true, ..KeyBudget::default() }).await;
    top_up(store, "late", 3.0).await;
    let limits = ReapLimits { reconcile_for: HOUR, ..ReapLimits::default() };
    let (a, b, c) = (
        sent(store, "late", "up-1").await,
        sent(store, "late", "up-2").await,
        sent(store, "late", "up-3").await,
    );
    assert_eq!(store.reap(T0 + 11, limits).await.unwrap().timed_out, 3);
    for t in [&a, &b, &c] {
        let failed = store.get_task_any(t.id).await.unwrap().unwrap();
        assert_eq!(failed.error_type(), Some(&ErrorType::Timeout));
        assert_eq!(failed.following_until(), Some(T0 + 11 + HOUR));
    }
    let balance = store
        .balance(&vidgate_domain::KeyId::from("late"), T0 + 11)
        .await
        .unwrap()
        .unwrap()
        .balance;
    assert_eq!(balance, Credits::ZERO, "all three holds stay");
    // The balance is spent: nothing more is admitted while they are followed.
    assert!(matches!(
        store.insert_task(priced("late", T0 + 12, 0.5)).await.unwrap(),
        InsertOutcome::BudgetExceeded(_)
    ));
    assert_eq!(store.slots_in_use(Pool::Sandbox).await.unwrap(), vec![("acct".to_owned(), 3)]);
    // Only the follower takes them, one lease at a time.
    assert!(store.claim_next_poll(Pool::Sandbox, "w", T0 + 11, T0 + HOUR).await.unwrap().is_none());
    let r =
        store.claim_next_reconcile(Pool::Sandbox, "w", T0 + 11, T0 + 20).await.unwrap().unwrap();
    assert!(store.defer_reconcile(r.lease(), T0 + 100, T0 + 12).await.unwrap());
    let mut followed = vec![r.id];
    while let Some(r) =
        store.claim_next_reconcile(Pool::Sandbox, "w", T0 + 12, T0 + 20).await.unwrap()
    {
        assert!(store.defer_reconcile(r.lease(), T0 + 100, T0 + 12).await.unwrap());
        followed.push(r.id);
    }
    assert_eq!(followed.len(), 3);
    // a: the upstream finished it, reporting 0.7 worth: settled at 0.7.
    // b: the upstream failed it: released. c: nothing learnt: settled at the hold.
    let mut by_id = std::collections::HashMap::new();
    while let Some(r) =
        store.claim_next_reconcile(Pool::Sandbox, "w", T0 + 100, T0 + 200).await.unwrap()
    {
        by_id.insert(r.id, r);
    }
    let end = |id| by_id[&id].lease();
    let log = || LogEntry::info(T0, "end");
    let charged = FollowEnd::Succeeded(charge_of(0.7));
    assert!(store.end_reconcile(end(a.id), charged.clone(), T0 + 101, log()).await.unwrap());
    assert!(!store.end_reconcile(end(a.id), charged, T0 + 102, log()).await.unwrap(), "once");
    assert!(store.end_reconcile(end(b.id), FollowEnd::NoJob, T0 + 101, log()).await.unwrap());
    assert!(store.defer_reconcile(end(c.id), T0 + 2 * HOUR, T0 + 101).await.unwrap());
    assert_eq!(store.slots_in_use(Pool::Sandbox).await.unwrap(), vec![("acct".to_owned(), 1)]);
    let report = store.reap(T0 + 12 + HOUR, limits).await.unwrap();
    assert_eq!(report.settled_at_hold, 1);
    let settled = store.get_task_any(c.id).await.unwrap().unwrap();
    let cost = settled.charge.clone().and_then(|ch| ch.cost).unwrap();
    assert_eq!(
        (cost.amount, cost.basis),
        (credits(1.0), CostBasis::Estimate),
        "its charge says so"
    );
    assert_eq!(settled.following_until(), None);
    let logs = store.task_logs(c.id).await.unwrap();
    assert!(
        logs.iter().any(|l| l.message.contains("following window closed; charged its hold")),
        "the request's log says it was settled at its hold: {logs:?}"
    );
    assert!(store.slots_in_use(Pool::Sandbox).await.unwrap().is_empty());
    let rows = store.ledger(Some(&vidgate_domain::KeyId::from("late")), 0, 100).await.unwrap();
    assert_eq!(
        kinds(&rows, a.id),
        vec![("hold".into(), credits(-1.0)), ("settle".into(), credits(0.3))]
    );
    assert_eq!(
        kinds(&rows, b.id),
        vec![("hold".into(), credits(-1.0)), ("release".into(), credits(1.0))]
    );
    assert_eq!(
        kinds(&rows, c.id),
        vec![("hold".into(), credits(-1.0)), ("settle".into(), Credits::ZERO)]
    );
    let balance = store
        .balance(&vidgate_domain::KeyId::from("late"), T0 + 2 * HOUR)
        .await
        .unwrap()
        .unwrap()
        .balance;
    assert_eq!(balance, credits(3.0 - 0.7 - 1.0));
    assert_eq!(balance, ledger_sum(store, "late").await);
    let after = store.get_task_any(a.id).await.unwrap().unwrap();
    assert_eq!(
        (after.state(), after.error_type(), after.following_until()),
        (vidgate_domain::TaskState::Failed, Some(&ErrorType::Timeout), None),
        "still failed for its owner"
    );
    // Following off: a timed-out job is settled at its hold at once.
    let d = sent(store, "late", "up-4").await;
    let off = ReapLimits { reconcile_for: 0, ..ReapLimits::default() };
    assert_eq!(store.reap(T0 + 11, off).await.unwrap().settled_at_hold, 1);
    let rows = store.ledger(Some(&vidgate_domain::KeyId::from("late")), 0, 100).await.unwrap();
    assert_eq!(
        kinds(&rows, d.id),
        vec![("hold".into(), credits(-1.0)), ("settle".into(), Credits::ZERO)]
    );
    // Settled on time, late (with a note) and at the hold, released: the metrics' totals.
    super::assert_money_totals_are_the_ledgers(store, &rows).await;
}

/// A submit whose answer never came (its worker kept dying) ends for its owner but is
/// followed with no upstream job named; when the job turns up (a lookup, or the lost answer
/// arriving after all) it is named and followed like any other, keeping its hold meanwhile.
pub async fn a_detached_submit_is_given_its_job_when_it_turns_up(store: &dyn Store) {
    key(store, "lost", KeyBudget::default()).await;
    let limits = ReapLimits { max_step_attempts: 1, reconcile_for: HOUR, ..ReapLimits::default() };
    let t = insert(store, priced("lost", T0, 1.0)).await;
    let c =
        store.claim_next_queued(Pool::Sandbox, &slots(), "w", T0, T0 + 10).await.unwrap().unwrap();
    assert_eq!(c.id, t.id);
    // Its lease runs out mid-submit, once more than the step may crash.
    assert_eq!(store.reap(T0 + 11, limits).await.unwrap().crashed, 1);
    let detached = store.get_task_any(t.id).await.unwrap().unwrap();
    assert_eq!(
        (detached.following_until(), detached.upstream_task_id()),
        (Some(T0 + 11 + HOUR), None)
    );
    assert!(store.attach_upstream(t.id, "up-late", T0 + 12).await.unwrap());
    assert!(!store.attach_upstream(t.id, "up-other", T0 + 13).await.unwrap(), "named once");
    let other = insert(store, priced("lost", T0, 1.0)).await;
    assert!(!store.attach_upstream(other.id, "up-x", T0 + 13).await.unwrap(), "not followed");
    let f =
        store.claim_next_reconcile(Pool::Sandbox, "f", T0 + 14, T0 + 20).await.unwrap().unwrap();
    assert_eq!((f.id, f.upstream_task_id()), (t.id, Some("up-late")));
    let rows = store.ledger(Some(&vidgate_domain::KeyId::from("lost")), 0, 10).await.unwrap();
    assert_eq!(kinds(&rows, t.id), vec![("hold".into(), credits(-1.0))], "still held");
}

/// A success is charged what the upstream reports up to its hold; the rest is an overage row
/// (no effect on the balance) the operator sees.
pub async fn a_charge_above_the_hold_is_capped_and_the_excess_recorded(store: &dyn Store) {
    key(store, "over", KeyBudget { prepaid: true, ..KeyBudget::default() }).await;
    top_up(store, "over", 1.0).await;
    let t = insert(store, priced("over", T0, 1.0)).await;
    let c = claim_first(store, &slots()).await;
    assert_eq!(c.id, t.id);
    // Worth 1.6 at the quoted price (8 s of a 5 s quote): charged 1.0, 0.6 over.
    let q = quote(1.0);
    let usage = Usage { output_seconds: Some(8.0), ..Usage::default() };
    let cost = vidgate_domain::pricing::cost(&q, Some(&usage));
    assert_eq!((cost.amount, cost.uncharged), (credits(1.0), Some(credits(0.6))));
    let done = Completion::Succeeded {
        result: Box::new(result()),
        charge: Charge { usage: Some(usage), cost: Some(cost) },
    };
    assert!(store.complete(c.lease(), done, T0 + 5, LogEntry::info(T0, "ok")).await.unwrap());
    let rows = store.ledger(Some(&vidgate_domain::KeyId::from("over")), 0, 100).await.unwrap();
    assert_eq!(
        kinds(&rows, t.id),
        vec![
            ("hold".into(), credits(-1.0)),
            ("settle".into(), Credits::ZERO),
            ("overage".into(), Credits::ZERO)
        ]
    );
    let overage = rows.iter().find(|r| r.kind == "overage").unwrap();
    assert_eq!((overage.uncharged, overage.spend), (Some(credits(0.6)), Credits::ZERO));
    let balance =
        store.balance(&vidgate_domain::KeyId::from("over"), T0 + 6).await.unwrap().unwrap();
    assert_eq!((balance.balance, balance.spent_total), (Credits::ZERO, credits(1.0)));
}

/// A request of `key` for 1.0 credits, sent upstream and then cancelled by its owner.
async fn dispatched_then_cancelled(store: &dyn Store, key: &str) -> crate::TaskRecord {
    let t = insert(store, priced(key, T0, 1.0)).await;
    let c = claim_first(store, &slots()).await;
    assert_eq!(c.id, t.id);
    store.mark_running(c.lease(), "up-1", T0 + 5, T0, LogEntry::info(T0, "sent")).await.unwrap();
    assert_eq!(
        store.cancel_task(&vidgate_domain::KeyId::from(key), t.id, T0 + 1).await.unwrap(),
        CancelOutcome::Requested
    );
    t
}

/// A cancel after dispatch changes nothing about the money: the job runs on and is charged
/// when the upstream finishes it; one cancelled in the queue is released.
pub async fn a_cancel_after_dispatch_is_charged_when_the_job_succeeds(store: &dyn Store) {
    key(store, "cxl", KeyBudget { prepaid: true, ..KeyBudget::default() }).await;
    top_up(store, "cxl", 2.0).await;
    let t = dispatched_then_cancelled(store, "cxl").await;
    let q = insert(store, priced("cxl", T0 + 2, 1.0)).await;
    assert_eq!(
        store.cancel_task(&vidgate_domain::KeyId::from("cxl"), q.id, T0 + 3).await.unwrap(),
        CancelOutcome::Cancelled
    );
    let p = store.claim_next_poll(Pool::Sandbox, "p", T0 + 5, T0 + HOUR).await.unwrap().unwrap();
    assert!(p.cancel_requested);
    let log = LogEntry::info(T0 + 6, "ok");
    assert!(store.complete(p.lease(), success(0.8, 4.0), T0 + 6, log).await.unwrap());
    let rows = store.ledger(Some(&vidgate_domain::KeyId::from("cxl")), 0, 100).await.unwrap();
    assert_eq!(
        kinds(&rows, t.id),
        vec![("hold".into(), credits(-1.0)), ("settle".into(), credits(0.2))]
    );
    assert_eq!(
        kinds(&rows, q.id),
        vec![("hold".into(), credits(-1.0)), ("release".into(), credits(1.0))]
    );
    let done = store.get_task_any(t.id).await.unwrap().unwrap();
    assert_eq!(done.state(), vidgate_domain::TaskState::Succeeded, "delivered");
    assert_eq!(
        store.balance(&vidgate_domain::KeyId::from("cxl"), T0 + 7).await.unwrap().unwrap().balance,
        credits(1.2)
    );
}

/// A cancel after dispatch that the upstream then fails is released like any upstream
/// failure: the customer pays nothing, its slot is freed, the balance comes back whole.
pub async fn a_cancel_after_dispatch_is_released_when_the_upstream_fails_it(store: &dyn Store) {
    key(store, "cxf", KeyBudget { prepaid: true, ..KeyBudget::default() }).await;
    top_up(store, "cxf", 1.0).await;
    let t = dispatched_then_cancelled(store, "cxf").await;
    assert_eq!(
        store.balance(&vidgate_domain::KeyId::from("cxf"), T0 + 2).await.unwrap().unwrap().balance,
        Credits::ZERO
    );
    assert_eq!(store.slots_in_use(Pool::Sandbox).await.unwrap(), vec![("acct".into(), 1)]);
    let p = store.claim_next_poll(Pool::Sandbox, "p", T0 + 5, T0 + HOUR).await.unwrap().unwrap();
    assert!(p.cancel_requested);
    let failed = Completion::Failed { error: "no".into(), error_type: ErrorType::upstream("X") };
    assert!(store.complete(p.lease(), failed, T0 + 6, LogEntry::info(T0, "no")).await.unwrap());
    let rows = store.ledger(Some(&vidgate_domain::KeyId::from("cxf")), 0, 100).await.unwrap();
    assert_eq!(
        kinds(&rows, t.id),
        vec![("hold".into(), credits(-1.0)), ("release".into(), credits(1.0))]
    );
    let done = store.get_task_any(t.id).await.unwrap().unwrap();
    assert_eq!(done.state(), vidgate_domain::TaskState::Failed);
    assert!(store.slots_in_use(Pool::Sandbox).await.unwrap().iter().all(|(_, n)| *n == 0));
    let balance =
        store.balance(&vidgate_domain::KeyId::from("cxf"), T0 + 7).await.unwrap().unwrap();
    assert_eq!((balance.balance, balance.spent_total), (credits(1.0), Credits::ZERO));
}
