//! Contract cases for queue positions: what `queue_position` and the status read count, kept
//! true through inserts, claims, requeues, cancels and the reaper, for current and stale
//! records, across the counters' bucket boundary.

use futures::future::join_all;

use super::queue::slots;
use super::{HOUR, T0, insert, new_task};
use crate::{InsertOutcome, LogEntry, NewTask, ReapLimits, Slot, Store};
use vidgate_domain::Pool;

pub async fn queue_position_counts_only_tasks_ahead_in_the_same_pool(store: &dyn Store) {
    let a = insert(store, new_task("k", 0, T0)).await;
    let b = insert(store, new_task("other-key", 0, T0 + 1)).await;
    let c = insert(store, new_task("k", 5, T0 + 2)).await;
    let mut elsewhere = new_task("k", 9, T0 + 3);
    elsewhere.pool = Pool::Tencent;
    let elsewhere = insert(store, elsewhere).await;
    let pos = |t| async move {
        let task = store.get_task_any(t).await.expect("read a task").expect("an inserted task");
        store.queue_position(&task).await.expect("read a position")
    };
    assert_eq!(pos(c.id).await, 0);
    assert_eq!(pos(a.id).await, 1);
    assert_eq!(pos(b.id).await, 2, "positions count every key's tasks: the queue is shared");
    assert_eq!(pos(elsewhere.id).await, 0, "another pool's queue is separate");
    store
        .cancel_task(&vidgate_domain::KeyId::from("k"), a.id, T0 + 5)
        .await
        .expect("cancel a queued task");
    assert_eq!(pos(b.id).await, 1);
    let claim = store.claim_next_queued(Pool::Sandbox, &slots(1), "w", T0 + 6, T0 + HOUR).await;
    claim.expect("claim").expect("a queued task and a free slot");
    assert_eq!(pos(b.id).await, 0);
}

struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % below
    }
}

pub async fn queue_positions_stay_true_through_every_transition(store: &dyn Store) {
    use std::collections::BTreeMap;
    let mut rng = Lcg(42);
    // Enough tasks to cross a counter bucket (4096 seqs) boundary.
    let mut queued: BTreeMap<(i64, i64), vidgate_domain::RequestId> = BTreeMap::new(); // (-rank, seq) → id
    let mut all = Vec::new();
    let mut batch = Vec::new();
    for i in 0..4200 {
        let rank = [0, 0, 0, 5, -3, 10, -100][rng.next(7) as usize];
        batch.push(new_task("k", rank, T0 + i));
    }
    for t in batch {
        let t = insert(store, t).await;
        queued.insert((-t.rank, t.seq), t.id);
        all.push(t);
    }
    let many = vec![Slot { account: "acct".into(), limit: 1_000_000 }];
    let check = |queued: &BTreeMap<(i64, i64), vidgate_domain::RequestId>, rng: &mut Lcg| {
        let picks: Vec<usize> =
            (0..25).map(|_| rng.next(queued.len().max(1) as u64) as usize).collect();
        let entries: Vec<_> = queued.iter().map(|(k, v)| (*k, *v)).collect();
        picks
            .into_iter()
            .filter(|p| *p < entries.len())
            .map(|p| (entries[p].1, p as i64))
            .collect::<Vec<_>>()
    };
    for round in 0..6 {
        // Dispatch a few from the head, cancel a few anywhere, requeue some claimed ones.
        let mut claimed = Vec::new();
        for _ in 0..40 {
            let c = store
                .claim_next_queued(Pool::Sandbox, &many, "w", T0 + 10_000, T0 + 10 * HOUR)
                .await
                .expect("claim")
                .expect("the queue holds more than it dispatches");
            assert_eq!(
                queued.pop_first().map(|(_, id)| id),
                Some(c.id),
                "claims take the head of the queue"
            );
            claimed.push(c);
        }
        for c in claimed.iter().take(15) {
            assert!(
                store
                    .requeue(c.lease(), T0, T0 + 10_001, LogEntry::warn(T0, "retry"))
                    .await
                    .expect("requeue a claim still held")
            );
            queued.insert((-c.rank, c.seq), c.id);
        }
        for _ in 0..30 {
            let victim = all[rng.next(all.len() as u64) as usize].clone();
            if store
                .cancel_task(&vidgate_domain::KeyId::from("k"), victim.id, T0 + 10_002)
                .await
                .expect("cancel")
                == crate::CancelOutcome::Cancelled
            {
                queued.remove(&(-victim.rank, victim.seq));
            }
            // `victim` is a stale record now (queued when read, cancelled since).
            let ahead = queued.range(..(-victim.rank, victim.seq)).count() as i64;
            assert_eq!(
                store.queue_position(&victim).await.expect("position of a cancelled task"),
                ahead,
                "round {round}: stale position of {} (seq {})",
                victim.id,
                victim.seq
            );
        }
        for (id, expected) in check(&queued, &mut rng) {
            let t = store.get_task_any(id).await.expect("read").expect("a queued task");
            assert_eq!(
                store.queue_position(&t).await.expect("read a position"),
                expected,
                "round {round}: position of {id}"
            );
            // The status poll's one-read form agrees, and only for the owner.
            let (same, position) = store
                .task_status(&vidgate_domain::KeyId::from("k"), id)
                .await
                .expect("read")
                .expect("the owner sees it");
            assert_eq!((same.id, position), (id, Some(expected)), "round {round}: status of {id}");
            assert!(
                store
                    .task_status(&vidgate_domain::KeyId::from("other"), id)
                    .await
                    .expect("read")
                    .is_none()
            );
        }
        for c in claimed.iter().skip(15).take(3) {
            let (t, position) = store
                .task_status(&vidgate_domain::KeyId::from("k"), c.id)
                .await
                .expect("read")
                .expect("the owner sees it");
            assert_eq!((t.state(), position), (vidgate_domain::TaskState::Submitting, None));
        }
        // A caller holding a stale record (queued when read, claimed since) still gets the
        // count of queued tasks ahead of its place, whichever end of its bucket is counted.
        for c in claimed.iter().skip(15) {
            let stale = all.iter().find(|t| t.id == c.id).expect("claims take inserted tasks");
            let ahead = queued.range(..(-c.rank, c.seq)).count() as i64;
            assert_eq!(
                store.queue_position(stale).await.expect("position of a claimed task"),
                ahead,
                "round {round}: stale position of {} (seq {})",
                c.id,
                c.seq
            );
        }
    }
    // Deadlines empty the queue; every counter must come back to zero.
    while store.reap(T0 + 1000 * HOUR, ReapLimits::default()).await.expect("reap").more {}
    let late = insert(store, new_task("k", -100, T0 + 1000 * HOUR)).await;
    assert_eq!(store.queue_position(&late).await.expect("read a position"), 0);
}

/// A grouped insert spanning both pools and several ranks answers each create the position a
/// read gives after every commit. Ranks fall in arrival order, so no later create gets ahead
/// of an earlier one: each answer stays true however the creates were grouped. Within a
/// batch a create counts the batch's creates at a higher rank of its pool, and those before
/// it in its lane (PostgreSQL answers them from its insert statement: `lane_positions`).
pub async fn a_grouped_insert_answers_positions_across_pools_and_ranks(store: &dyn Store) {
    // Already queued: some ahead of every create below, some behind them all.
    for (rank, at) in [(9, 0), (0, 1), (9, 2)] {
        insert(store, new_task("k0", rank, T0 + at)).await;
    }
    let tasks: Vec<NewTask> = (0..120)
        .map(|i| {
            let mut t = new_task(&format!("k{}", i % 5), 5 - i / 30, T0 + 10 + i);
            if i % 3 == 0 {
                t.pool = Pool::Tencent;
            }
            t
        })
        .collect();
    let outcomes = join_all(tasks.into_iter().map(|t| store.insert_task(t))).await;
    let mut answered = 0;
    for outcome in outcomes {
        match outcome.expect("insert") {
            InsertOutcome::Inserted { task, position: Some(p) } => {
                answered += 1;
                assert_eq!(store.queue_position(&task).await.unwrap(), p, "rank {}", task.rank);
            }
            other => panic!("expected an insert with its position, got {other:?}"),
        }
    }
    assert_eq!(answered, 120);
}
