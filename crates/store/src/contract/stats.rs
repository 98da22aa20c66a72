//! Contract case for the queue statistics metrics read.

use super::{HOUR, T0, insert, new_task};
use crate::{LogEntry, QueueStats, Slot, Store};
use vidgate_domain::Pool;

pub async fn queue_stats_count_states_and_find_the_oldest_queued(store: &dyn Store) {
    assert_eq!(store.queue_stats(Pool::Sandbox).await.unwrap(), QueueStats::default());
    let old_low = insert(store, new_task("k", -3, T0)).await;
    insert(store, new_task("k", 5, T0 + 10)).await;
    insert(store, new_task("k", 0, T0 + 20)).await;
    insert(store, new_task("k", 0, T0 + 30)).await;
    let slots = [Slot { account: "a".into(), limit: 10 }];
    // Claims take rank 5, then the first rank 0: one submitting, one running.
    let a = store
        .claim_next_queued(Pool::Sandbox, &slots, "w", T0 + 40, T0 + HOUR)
        .await
        .unwrap()
        .unwrap();
    store.claim_next_queued(Pool::Sandbox, &slots, "w", T0 + 40, T0 + HOUR).await.unwrap().unwrap();
    assert!(
        store
            .mark_running(a.lease(), "up", T0 + 50, T0 + 41, LogEntry::info(T0, "x"))
            .await
            .unwrap()
    );
    let stats = store.queue_stats(Pool::Sandbox).await.unwrap();
    assert_eq!(
        stats,
        QueueStats {
            queued: 2,
            submitting: 1,
            running: 1,
            oldest_queued_at: Some(old_low.created_at)
        }
    );
    assert_eq!(store.queue_stats(Pool::Tencent).await.unwrap(), QueueStats::default());
}
