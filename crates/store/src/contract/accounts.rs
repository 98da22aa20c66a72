//! Contract cases for accounting: holds, settlements and releases written exactly once by
//! whichever transition ends a task, budgets that hold under concurrency, and a ledger a
//! balance can be recomputed from.

use vidgate_domain::Pool;
use vidgate_domain::pricing::{Cost, CostBasis, Credits, Quote};
use vidgate_domain::{ErrorType, Usage};

use super::{HOUR, T0, insert, join_all, new_task, result};
use crate::{
    BudgetRefusal, CancelOutcome, Charge, Completion, GroupBy, InsertOutcome, KeyBudget, LogEntry,
    NewKey, NewTask, ReapLimits, Slot, Store, TopUp, UsageQuery,
};

pub(super) fn credits(c: f64) -> Credits {
    Credits::from_credits(c).unwrap()
}

pub(super) fn quote(amount: f64) -> Quote {
    Quote {
        specification: Some("Kling2.0&2.1std_720P".into()),
        model_name: "Kling".into(),
        model_version: "2.1".into(),
        resolution: Some("720P".into()),
        audio: false,
        seconds: Some(5.0),
        per_second: credits(amount / 5.0),
        per_request: Credits::ZERO,
        price_from: "2026-01-01".parse().unwrap(),
        amount: credits(amount),
    }
}

pub fn priced(key: &str, at: i64, amount: f64) -> NewTask {
    NewTask { quote: Some(quote(amount)), ..new_task(key, 0, at) }
}

pub async fn key(store: &dyn Store, id: &str, budget: KeyBudget) {
    let key = NewKey {
        id: id.into(),
        name: id.into(),
        key_hash: format!("hash-{id}"),
        prefix: "vg_x".into(),
        created_at: T0,
        webhook_secret: None,
        limits: Default::default(),
        role: Default::default(),
    };
    store.create_key(key).await.unwrap();
    assert!(store.set_key_budget(id, budget).await.unwrap());
}

pub(super) fn slots() -> Vec<Slot> {
    vec![Slot { account: "acct".into(), limit: 1_000 }]
}

pub(super) fn success(cost: f64, seconds: f64) -> Completion {
    Completion::Succeeded {
        result: Box::new(result()),
        charge: Charge {
            usage: Some(Usage { output_seconds: Some(seconds), ..Usage::default() }),
            cost: Some(Cost {
                amount: credits(cost),
                seconds: Some(seconds),
                basis: CostBasis::Usage,
                uncharged: None,
            }),
        },
    }
}

/// A key with a prepaid budget (and no day or month limit), topped up with `amount` credits.
pub async fn prepaid_key(store: &dyn Store, id: &str, amount: f64) {
    key(store, id, KeyBudget { prepaid: true, ..KeyBudget::default() }).await;
    top_up(store, id, amount).await;
}

pub async fn top_up(store: &dyn Store, key: &str, amount: f64) -> crate::Balance {
    match store
        .top_up(&vidgate_domain::KeyId::from(key), credits(amount), "test", T0)
        .await
        .unwrap()
    {
        TopUp::Done(balance) => balance,
        other => panic!("top-up of {key} refused: {other:?}"),
    }
}

/// The ledger's sum for a key: what its balance must be.
pub(super) async fn ledger_sum(store: &dyn Store, key: &str) -> Credits {
    store
        .ledger(Some(&vidgate_domain::KeyId::from(key)), 0, 100_000)
        .await
        .unwrap()
        .iter()
        .map(|e| e.amount)
        .sum()
}

/// Claims the head of the sandbox queue for worker `w` at `T0`, leased for an hour.
pub(super) async fn claim_first(
    store: &dyn Store,
    slots: &[Slot],
) -> crate::Claimed<crate::SubmitClaim> {
    store.claim_next_queued(Pool::Sandbox, slots, "w", T0, T0 + HOUR).await.unwrap().unwrap()
}

pub async fn holds_settle_and_release_exactly_once_whoever_ends_the_task(store: &dyn Store) {
    key(store, "acc", KeyBudget::default()).await;
    top_up(store, "acc", 10.0).await;
    // Succeeds: held 1, charged 0.6 for 3 s.
    let a = insert(store, priced("acc", T0, 1.0)).await;
    let c = claim_first(store, &slots()).await;
    assert_eq!(c.id, a.id);
    assert!(
        store
            .complete(c.lease(), success(0.6, 3.0), T0 + 5, LogEntry::info(T0, "ok"))
            .await
            .unwrap()
    );
    // A second completion changes nothing, in the task or in the ledger.
    assert!(
        !store
            .complete(c.lease(), success(0.9, 4.0), T0 + 6, LogEntry::info(T0, "x"))
            .await
            .unwrap()
    );
    // Cancelled while queued: released in full.
    let b = insert(store, priced("acc", T0 + 1, 2.0)).await;
    assert_eq!(
        store.cancel_task(&vidgate_domain::KeyId::from("acc"), b.id, T0 + 2).await.unwrap(),
        CancelOutcome::Cancelled
    );
    // Timed out by the reaper: released.
    let d = insert(store, NewTask { deadline_at: T0 + 10, ..priced("acc", T0 + 3, 3.0) }).await;
    store.reap(T0 + 11, ReapLimits::default()).await.unwrap();
    // Failed by a worker: released.
    let e = insert(store, priced("acc", T0 + 4, 0.5)).await;
    let c = store
        .claim_next_queued(Pool::Sandbox, &slots(), "w", T0 + 12, T0 + HOUR)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.id, e.id);
    let failed = Completion::Failed { error: "no".into(), error_type: ErrorType::upstream("X") };
    store.complete(c.lease(), failed, T0 + 12, LogEntry::info(T0, "no")).await.unwrap();
    // Still queued: held.
    let f = insert(store, priced("acc", T0 + 5, 0.25)).await;

    let rows = store.ledger(Some(&vidgate_domain::KeyId::from("acc")), 0, 100).await.unwrap();
    let of = |id: vidgate_domain::RequestId| -> Vec<(String, Credits)> {
        rows.iter()
            .filter(|r| r.request_id.as_deref() == Some(id.to_string().as_str()))
            .map(|r| (r.kind.clone(), r.amount))
            .collect()
    };
    assert_eq!(of(a.id), vec![("hold".into(), credits(-1.0)), ("settle".into(), credits(0.4))]);
    assert_eq!(of(b.id), vec![("hold".into(), credits(-2.0)), ("release".into(), credits(2.0))]);
    assert_eq!(of(d.id), vec![("hold".into(), credits(-3.0)), ("release".into(), credits(3.0))]);
    assert_eq!(of(e.id), vec![("hold".into(), credits(-0.5)), ("release".into(), credits(0.5))]);
    assert_eq!(of(f.id), vec![("hold".into(), credits(-0.25))]);
    // Each row of a request names the usage product it was priced as; the settlement also
    // keeps the seconds charged for and the upstream's usage figures.
    for r in rows.iter().filter(|r| r.request_id.is_some()) {
        assert_eq!(r.specification.as_deref(), Some("Kling2.0&2.1std_720P"), "{r:?}");
    }
    let settle = rows.iter().find(|r| r.kind == "settle").unwrap();
    assert_eq!(settle.seconds, Some(3.0));
    assert!(settle.usage.as_ref().is_some_and(|u| u["output_seconds"] == 3.0), "{settle:?}");
    let balance =
        store.balance(&vidgate_domain::KeyId::from("acc"), T0 + 20).await.unwrap().unwrap();
    assert_eq!(balance.balance, credits(10.0 - 0.6 - 0.25));
    assert_eq!(balance.spent_today, credits(0.85));
    assert_eq!(balance.balance, ledger_sum(store, "acc").await);
    let done = store.get_task_any(a.id).await.unwrap().unwrap();
    assert_eq!(done.charge.and_then(|c| c.cost).map(|c| c.amount), Some(credits(0.6)));
    assert_eq!(done.quote.map(|q| q.amount), Some(credits(1.0)));

    let day = vidgate_domain::pricing::day_of(T0).format("%Y-%m-%d").to_string();
    let query = UsageQuery {
        key_id: Some("acc".into()),
        from: day.clone(),
        to: day.clone(),
        group_by: GroupBy::Day,
    };
    let usage = store.usage(&query).await.unwrap();
    assert_eq!(usage.len(), 1);
    let u = &usage[0];
    assert_eq!(
        (u.group.as_str(), u.requests, u.succeeded, u.released, u.pending),
        (day.as_str(), 5, 1, 3, 1)
    );
    assert_eq!((u.seconds, u.spent), (3.0, credits(0.85)));
    let by_model = store.usage(&UsageQuery { group_by: GroupBy::Model, ..query }).await.unwrap();
    assert_eq!(by_model[0].group, "Kling");
}

pub async fn budgets_refuse_what_they_cannot_cover_and_store_nothing(store: &dyn Store) {
    key(store, "pre", KeyBudget { prepaid: true, ..KeyBudget::default() }).await;
    top_up(store, "pre", 2.0).await;
    insert(store, priced("pre", T0, 1.5)).await;
    let refused = priced("pre", T0, 1.0);
    let id = refused.id;
    match store.insert_task(refused).await.unwrap() {
        InsertOutcome::BudgetExceeded(BudgetRefusal::Balance { balance, needed }) => {
            assert_eq!((balance, needed), (credits(0.5), credits(1.0)));
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(store.get_task_any(id).await.unwrap(), None, "a refused create stores nothing");
    insert(store, priced("pre", T0, 0.5)).await;
    // A key with a budget cannot run an unpriced request.
    let unpriced = new_task("pre", 0, T0);
    assert!(matches!(
        store.insert_task(unpriced).await.unwrap(),
        InsertOutcome::BudgetExceeded(BudgetRefusal::Unpriced)
    ));

    let day_limit = KeyBudget { day_limit: Some(credits(1.0)), ..KeyBudget::default() };
    key(store, "daily", day_limit).await;
    insert(store, priced("daily", T0, 0.75)).await;
    assert!(matches!(
        store.insert_task(priced("daily", T0, 0.5)).await.unwrap(),
        InsertOutcome::BudgetExceeded(BudgetRefusal::DayLimit { .. })
    ));
    // The next UTC day starts afresh; the month limit (none here) would not.
    insert(store, priced("daily", T0 + 24 * HOUR, 0.5)).await;
}

pub async fn concurrent_creates_never_overspend_a_budget(store: &dyn Store) {
    key(store, "tight", KeyBudget { prepaid: true, ..KeyBudget::default() }).await;
    top_up(store, "tight", 50.0).await;
    let tasks: Vec<NewTask> = (0..200).map(|i| priced("tight", T0 + i, 1.0)).collect();
    let outcomes = join_all(tasks.into_iter().map(|t| store.insert_task(t)).collect()).await;
    let mut accepted = 0;
    for o in outcomes {
        match o.unwrap() {
            InsertOutcome::Inserted { .. } => accepted += 1,
            InsertOutcome::BudgetExceeded(BudgetRefusal::Balance { .. }) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(accepted, 50, "exactly what the budget allows");
    let balance = store.balance(&vidgate_domain::KeyId::from("tight"), T0).await.unwrap().unwrap();
    assert_eq!(balance.balance, Credits::ZERO, "never negative");
    assert_eq!(ledger_sum(store, "tight").await, Credits::ZERO);
}

pub async fn a_balance_is_the_sum_of_its_ledger_after_a_random_run(store: &dyn Store) {
    key(store, "rnd", KeyBudget { prepaid: true, ..KeyBudget::default() }).await;
    // A fixed-seed xorshift: the run is random in shape but the same every time.
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    for step in 0..300i64 {
        let now = T0 + step * 60_000;
        match next(6) {
            0 => {
                let amount = credits(next(300) as f64 / 100.0);
                store.top_up(&vidgate_domain::KeyId::from("rnd"), amount, "t", now).await.unwrap();
            }
            1 | 2 => {
                let _ = store
                    .insert_task(priced("rnd", now, (1 + next(200)) as f64 / 100.0))
                    .await
                    .unwrap();
            }
            3 => {
                if let Some(c) = store
                    .claim_next_queued(Pool::Sandbox, &slots(), "w", now, now + HOUR)
                    .await
                    .unwrap()
                {
                    let q = c.quote.clone().unwrap();
                    let used = q.amount.as_credits() * next(150) as f64 / 100.0;
                    store
                        .complete(c.lease(), success(used, 1.0), now, LogEntry::info(now, "ok"))
                        .await
                        .unwrap();
                }
            }
            4 => {
                if let Some(c) = store
                    .claim_next_queued(Pool::Sandbox, &slots(), "w", now, now + HOUR)
                    .await
                    .unwrap()
                {
                    let f =
                        Completion::Failed { error: "x".into(), error_type: ErrorType::Internal };
                    store.complete(c.lease(), f, now, LogEntry::info(now, "no")).await.unwrap();
                }
            }
            _ => {
                let page = store
                    .list_tasks(
                        &vidgate_domain::KeyId::from("rnd"),
                        &crate::ListQuery { limit: 5, ..Default::default() },
                    )
                    .await
                    .unwrap();
                if let Some(t) = page.get(next(5) as usize) {
                    store
                        .cancel_task(&vidgate_domain::KeyId::from("rnd"), t.id, now)
                        .await
                        .unwrap();
                }
            }
        }
    }
    let rows = store.ledger(Some(&vidgate_domain::KeyId::from("rnd")), 0, 100_000).await.unwrap();
    assert!(rows.len() > 100, "the run did something: {} rows", rows.len());
    let balance = store
        .balance(&vidgate_domain::KeyId::from("rnd"), T0 + 400 * 60_000)
        .await
        .unwrap()
        .unwrap();
    let sum: Credits = rows.iter().map(|r| r.amount).sum();
    assert_eq!(balance.balance, sum, "the balance is the ledger's sum");
    assert_balance_is_its_ledger(store, "rnd", T0 + 400 * 60_000).await;
    assert!(balance.balance >= Credits::ZERO, "a prepaid balance never goes below zero");
    super::assert_money_totals_are_the_ledgers(store, &rows).await;
    // Each request: one hold, at most one closing row, and what it spent is its charge.
    let mut by_request: std::collections::HashMap<String, Vec<&crate::LedgerEntry>> =
        Default::default();
    for r in rows.iter().filter(|r| r.request_id.is_some()) {
        by_request.entry(r.request_id.clone().unwrap()).or_default().push(r);
    }
    for (id, rs) in by_request {
        assert_eq!(rs[0].kind, "hold", "{id}");
        assert!(rs.iter().filter(|r| r.kind != "overage").count() <= 2, "{id}: {rs:?}");
        let t = store.get_task_any(id.parse().unwrap()).await.unwrap().unwrap();
        let spent: Credits = rs.iter().map(|r| r.spend).sum();
        let held = t.quote.clone().unwrap().amount;
        let expected = match t.state() {
            // Charged what the upstream reported, never more than the hold.
            vidgate_domain::TaskState::Succeeded => {
                t.charge.as_ref().unwrap().cost.as_ref().unwrap().amount.min(held)
            }
            s if s.is_terminal() => Credits::ZERO,
            _ => held,
        };
        assert_eq!(spent, expected, "{id} ({:?})", t.state());
    }
}

pub async fn a_key_at_its_max_running_is_passed_over_not_blocking_the_queue(store: &dyn Store) {
    key(store, "greedy", KeyBudget::default()).await;
    let limits = crate::KeyLimits { max_running: Some(1), ..Default::default() };
    assert!(store.set_key_limits("greedy", limits).await.unwrap());
    // The greedy key's requests rank first (tasks_priority 10), the other's last.
    let g1 = insert(store, new_task("greedy", 10, T0)).await;
    let g2 = insert(store, new_task("greedy", 10, T0 + 1)).await;
    let other = insert(store, new_task("other", 0, T0 + 2)).await;
    let slots = slots();
    let claim = || store.claim_next_queued(Pool::Sandbox, &slots, "w", T0 + 5, T0 + HOUR);
    let first = claim().await.unwrap().unwrap();
    assert_eq!(first.id, g1.id);
    assert_eq!(claim().await.unwrap().map(|t| t.id), Some(other.id), "greedy is at its limit");
    assert_eq!(claim().await.unwrap(), None, "only greedy's second request is left, and it waits");
    store
        .complete(first.lease(), success(0.1, 1.0), T0 + 6, LogEntry::info(T0, "ok"))
        .await
        .unwrap();
    assert_eq!(claim().await.unwrap().map(|t| t.id), Some(g2.id), "a slot of its own came free");
}

/// Runs a priced request of `key` (deadline at `T0 + 10`) up to the upstream as `up`.
pub(super) async fn sent(store: &dyn Store, key: &str, up: &str) -> crate::TaskRecord {
    let t = insert(store, NewTask { deadline_at: T0 + 10, ..priced(key, T0, 1.0) }).await;
    let c = claim_first(store, &slots()).await;
    assert_eq!(c.id, t.id);
    store.mark_running(c.lease(), up, T0 + 5, T0, LogEntry::info(T0, "sent")).await.unwrap();
    t
}

pub(super) fn kinds(
    rows: &[crate::LedgerEntry],
    id: vidgate_domain::RequestId,
) -> Vec<(String, Credits)> {
    rows.iter()
        .filter(|r| r.request_id.as_deref() == Some(id.to_string().as_str()))
        .map(|r| (r.kind.clone(), r.amount))
        .collect()
}

/// No path takes a prepaid balance below zero, an administrator's adjustment included.
pub async fn an_adjustment_cannot_overdraw_a_prepaid_balance(store: &dyn Store) {
    key(store, "adj", KeyBudget { prepaid: true, ..KeyBudget::default() }).await;
    top_up(store, "adj", 1.0).await;
    insert(store, priced("adj", T0, 0.75)).await;
    assert_eq!(
        store
            .top_up(&vidgate_domain::KeyId::from("adj"), credits(-0.5), "too much", T0)
            .await
            .unwrap(),
        TopUp::WouldOverdraw { balance: credits(0.25) }
    );
    assert!(matches!(
        store.top_up(&vidgate_domain::KeyId::from("adj"), credits(-0.25), "all of it", T0).await.unwrap(),
        TopUp::Done(b) if b.balance == Credits::ZERO
    ));
    assert_eq!(
        store.top_up(&vidgate_domain::KeyId::from("nobody"), credits(1.0), "x", T0).await.unwrap(),
        TopUp::NoSuchKey
    );
    // A key that is not prepaid may be adjusted below zero (it is billed, not prepaid).
    key(store, "post", KeyBudget::default()).await;
    assert!(matches!(
        store.top_up(&vidgate_domain::KeyId::from("post"), credits(-2.0), "credit note", T0).await.unwrap(),
        TopUp::Done(b) if b.balance == credits(-2.0)
    ));
}

pub(super) fn charge_of(cost: f64) -> Charge {
    match success(cost, 3.0) {
        Completion::Succeeded { charge, .. } => charge,
        _ => unreachable!(),
    }
}

/// What a key's balance must read at `at`, recomputed from its ledger alone: the balance row
/// (`key_balances`) is a counter derived from it, so the two must agree to the micro-credit.
pub async fn assert_balance_is_its_ledger(store: &dyn Store, key: &str, at: i64) {
    use vidgate_domain::pricing::day_of;
    let id = vidgate_domain::KeyId::from(key);
    let rows = store.ledger(Some(&id), 0, 100_000).await.unwrap();
    let held_at: std::collections::HashMap<&str, i64> = rows
        .iter()
        .filter(|r| r.kind == "hold")
        .filter_map(|r| r.request_id.as_deref().map(|q| (q, r.at)))
        .collect();
    let (day, month) = (day_of(at), day_of(at).format("%Y-%m").to_string());
    let mut want = (Credits::ZERO, Credits::ZERO, Credits::ZERO, Credits::ZERO);
    for r in &rows {
        match r.request_id.as_deref() {
            None => want.0 = want.0 + r.amount,
            Some(q) => {
                let hold_day = day_of(held_at[q]);
                want.1 = want.1 + r.spend;
                if hold_day == day {
                    want.2 = want.2 + r.spend;
                }
                if hold_day.format("%Y-%m").to_string() == month {
                    want.3 = want.3 + r.spend;
                }
            }
        }
    }
    let b = store.balance(&id, at).await.unwrap().unwrap();
    let got = (b.topped_up, b.spent_total, b.spent_today, b.spent_this_month);
    assert_eq!(got, want, "{key}: (topped up, spent, today, this month) against its ledger");
    assert_eq!(b.balance, rows.iter().map(|r| r.amount).sum(), "{key}: the balance");
}

/// 2026-09-30 23:00 UTC: an hour before a day and a month end.
const LAST_HOUR_OF_SEPTEMBER: i64 = 1_790_809_200_000;

pub async fn the_balance_row_is_its_ledger_across_days_and_months(store: &dyn Store) {
    let budget = KeyBudget {
        prepaid: true,
        day_limit: Some(credits(10.0)),
        month_limit: Some(credits(30.0)),
    };
    key(store, "rows", budget).await;
    let id = vidgate_domain::KeyId::from("rows");
    let sep = LAST_HOUR_OF_SEPTEMBER;
    let oct = sep + 90 * 60_000;
    store.top_up(&id, credits(100.0), "in", sep).await.unwrap();
    let first = insert(store, priced("rows", sep, 4.0)).await;
    let second = insert(store, priced("rows", sep + 30 * 60_000, 5.0)).await;
    assert_balance_is_its_ledger(store, "rows", sep + 31 * 60_000).await;
    // October: the day and the month start from nothing.
    insert(store, priced("rows", oct, 3.0)).await;
    // September's holds close in October: their change counts in September, not today.
    let c = store.claim_next_queued(Pool::Sandbox, &slots(), "w", oct, oct + HOUR).await.unwrap();
    let c = c.expect("the first request is claimed");
    assert_eq!(c.id, first.id);
    store.complete(c.lease(), success(2.0, 1.0), oct, LogEntry::info(oct, "ok")).await.unwrap();
    store.cancel_task(&id, second.id, oct).await.unwrap();
    store.top_up(&id, credits(-1.0), "adjust", oct).await.unwrap();
    let b = store.balance(&id, oct).await.unwrap().unwrap();
    assert_eq!(
        (b.topped_up, b.spent_total, b.spent_today, b.spent_this_month, b.balance),
        (credits(99.0), credits(5.0), credits(3.0), credits(3.0), credits(94.0))
    );
    assert_balance_is_its_ledger(store, "rows", oct).await;
    // The day's limit counts October's spend only: 3 spent, 8 more would pass 10, 7 fits.
    match store.insert_task(priced("rows", oct + 1, 8.0)).await.unwrap() {
        InsertOutcome::BudgetExceeded(BudgetRefusal::DayLimit { .. }) => {}
        other => panic!("8 more on a day with 3 of 10 spent: {other:?}"),
    }
    insert(store, priced("rows", oct + 2, 7.0)).await;
    assert_balance_is_its_ledger(store, "rows", oct + 3).await;
    // A create stamped in September (a replica whose clock is behind) after the row moved to
    // October counts in October, whose limit is spent: refused, not checked against nothing.
    match store
        .insert_task(priced("rows", sep + 45 * 60_000, 6.0))
        .await
        .expect("a late-stamped create is answered")
    {
        InsertOutcome::BudgetExceeded(BudgetRefusal::DayLimit { .. }) => {}
        other => panic!("a late-stamped create on a spent day: {other:?}"),
    }
}

/// One batch of creates across midnight: the committer checks all of it against the day and
/// month of its latest create and counts every hold there, once. A create stamped a
/// millisecond before midnight is neither checked against yesterday's spend nor lost from
/// today's: yesterday had 6 of a day's 10 spent, so alone it (5) would be refused, but in a
/// batch with one after midnight (4) both pass against today's 0, and today then has 9.
/// The hold rows keep their own times and days (reports count the first in yesterday), so
/// when that create is cancelled today its release refunds the balance but changes
/// yesterday's spend, which the row no longer holds: today's counter keeps the 5 (errs
/// toward refusing early; README, "Budgets"). The creates are one
/// batch because a contract case runs on one thread: all of them reach the committer before
/// it runs.
pub async fn a_batch_across_midnight_counts_every_hold_once_in_the_day_it_was_checked(
    store: &dyn Store,
) {
    let budget = KeyBudget { prepaid: true, day_limit: Some(credits(10.0)), month_limit: None };
    key(store, "night", budget).await;
    let id = vidgate_domain::KeyId::from("night");
    let midnight = LAST_HOUR_OF_SEPTEMBER + HOUR;
    store.top_up(&id, credits(100.0), "in", midnight - HOUR).await.expect("a top-up is stored");
    insert(store, priced("night", midnight - 30 * 60_000, 6.0)).await;
    let batch = vec![priced("night", midnight - 1, 5.0), priced("night", midnight + 1, 4.0)];
    let outcomes = join_all(batch.into_iter().map(|t| store.insert_task(t)).collect()).await;
    let mut ids = Vec::new();
    for outcome in outcomes {
        match outcome.expect("a create of the batch is answered") {
            InsertOutcome::Inserted { task, .. } => ids.push(task.id),
            other => panic!("a create of the batch across midnight: {other:?}"),
        }
    }
    let b = store
        .balance(&id, midnight + 2)
        .await
        .expect("a balance read")
        .expect("the key has a balance");
    assert_eq!(
        (b.spent_total, b.spent_today, b.spent_this_month, b.balance),
        (credits(15.0), credits(9.0), credits(9.0), credits(85.0)),
        "every hold counted once: 6 yesterday, the batch's 5 + 4 today"
    );
    let rows = store.ledger(Some(&id), 0, 100).await.expect("a ledger read");
    let holds: Vec<i64> = rows.iter().filter(|r| r.kind == "hold").map(|r| r.at).collect();
    assert_eq!(holds.len(), 3, "one hold per create: {rows:?}");
    assert!(holds.contains(&(midnight - 1)), "the hold row keeps its create's own time: {holds:?}");
    assert_eq!(b.balance, rows.iter().map(|r| r.amount).sum(), "the balance is its ledger");
    // Today's limit counts the batch: 9 of 10 spent, so 2 more is refused and 1 fits.
    match store.insert_task(priced("night", midnight + 3, 2.0)).await.expect("a create is answered")
    {
        InsertOutcome::BudgetExceeded(BudgetRefusal::DayLimit { .. }) => {}
        other => panic!("2 more on a day with 9 of 10 spent: {other:?}"),
    }
    // The pre-midnight create, cancelled today before dispatch: its 5 come back to the
    // balance and to the total spent; today's counter keeps them (the residue above).
    store.cancel_task(&id, ids[0], midnight + 3).await.expect("a cancel is answered");
    let b = store
        .balance(&id, midnight + 4)
        .await
        .expect("a balance read")
        .expect("the key has a balance");
    assert_eq!(
        (b.spent_total, b.spent_today, b.balance),
        (credits(10.0), credits(9.0), credits(90.0)),
        "the release refunds the balance; today's spend is not lowered below what it checked"
    );
    let rows = store.ledger(Some(&id), 0, 100).await.expect("a ledger read");
    assert_eq!(b.balance, rows.iter().map(|r| r.amount).sum(), "the balance is its ledger");
    insert(store, priced("night", midnight + 5, 1.0)).await;
}
