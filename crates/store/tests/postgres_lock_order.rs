//! The order PostgreSQL writers of creates take their locks in, and what a create does when
//! another writer's order closes a cycle anyway (`sql/group_commit.rs`): a batch takes its
//! keys' queue locks in key order, then the whole queue's, and only then (the rerun) its
//! balance rows, so a rerun never holds a balance row while it waits for a queue lock that a
//! batch waiting for that row holds; and a batch's transaction that PostgreSQL fails to break a
//! deadlock runs again, so its create is stored, not answered with the error; and the reaper's
//! sweep takes its keys' balance rows in key order, as batches do. Each test plays
//! the other writer by hand on its own connection and waits for the store's backend to block
//! on it (`pg_stat_activity`), so the interleaving is forced, not hoped for. Advisory locks
//! are the database's, not the schema's: no other case that takes the whole queue's lock may
//! run beside this binary (`cargo test` runs test binaries one at a time). Skipped without
//! `VIDGATE_TEST_PG_URL` (a failure under CI).

#![allow(clippy::unwrap_used)] // a test: a panic is how it reports failure

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusBuilder;
use sqlx::postgres::PgConnectOptions;

use sqlx::Row;
use vidgate_domain::KeyId;
use vidgate_domain::pricing::Credits;
use vidgate_store::contract::{
    HOUR, T0, assert_balance_is_its_ledger, new_task, prepaid_key, priced,
};
use vidgate_store::postgres::lock_waits::{
    backend_pid, blocked_by, deadlocks, hold_balance_row, waits_for_a_lock,
};
use vidgate_store::postgres::testing::TestPgStore;
use vidgate_store::{
    AccountStore, BudgetRefusal, CREATE_BATCH_LOCK_CONFLICTS_METRIC, IdempotencyClaim,
    InsertOutcome, NewTask, QueueLimits, ReapLimits, SqlStore, TaskStore,
};

/// A queue limit every count in these tests is near (within 1,024 of it), so each batch takes
/// the transaction and its queue locks (`insert::near_limit`).
const NEAR: QueueLimits = QueueLimits { per_key: Some(10), total: None };

/// The advisory lock a key's queue count is taken under (`insert::key_queue_lock`).
fn queue_lock(name: &str) -> String {
    format!("hashtextextended('{name}', 0)")
}

/// Rows of `table` for `key` (`key_id` column).
async fn count(pool: &sqlx::PgPool, table: &str, key: &str) -> i64 {
    let text = format!("SELECT count(*) FROM {table} WHERE key_id = $1");
    sqlx::query(sqlx::AssertSqlSafe(text)).bind(key).fetch_one(pool).await.unwrap().get(0)
}

/// The batch's upsert of its holds onto the balance rows, the last statement of its
/// transaction (`ledger::apply_balances_if_they_fit`).
const BALANCE_UPSERT: &str = "INSERT INTO key_balances AS b";

/// The lock cycle this order removes: a batch near a queue limit holds the key's queue lock
/// until its commit and, at its end, waits for the key's balance row; a rerun (a batch whose
/// budget moved, run again with its balance rows locked) used to lock that row first and then
/// ask for the same queue lock. Here the rerun is real: the first try's balance upsert waits
/// for another replica's transaction on the row, that transaction spends the credits, the
/// batch no longer fits and runs again locked, while a third session takes the queue lock the
/// first try let go. The rerun then waits for that queue lock holding no balance row: the third
/// session can lock the row without waiting (`NOWAIT`), which with the old order failed.
// A current-thread runtime: the two creates reach the committer's queue before it runs, so
// they are one batch.
#[tokio::test(flavor = "current_thread")]
async fn a_rerun_waits_for_its_queue_lock_before_it_locks_its_balance_row() {
    let Some(test) = TestPgStore::create().await else { return };
    let store = test.store();
    let pool = sqlx::PgPool::connect(&test.url()).await.unwrap();
    prepaid_key(store.as_ref(), "k", 5.0).await;
    let mut other = pool.begin().await.unwrap();
    let other_pid = hold_balance_row(&mut other, "k").await;
    let creates = tokio::spawn({
        let store = store.clone();
        async move {
            let two = [T0 + 1, T0 + 2].map(|at| NewTask { limits: NEAR, ..priced("k", at, 2.0) });
            futures::future::join_all(two.map(|t| store.insert_task(t))).await
        }
    });
    // The first try read 5 credits left, admitted both, and holds the queue lock.
    blocked_by(&pool, other_pid, BALANCE_UPSERT, "the first try's balance upsert").await;
    let mut queue = pool.begin().await.unwrap();
    let queue_pid = backend_pid(&mut queue).await;
    let take_queue_lock =
        format!("SELECT pg_advisory_xact_lock({})", queue_lock("vidgate:key-queue:k"));
    let queue = tokio::spawn(async move {
        sqlx::query(sqlx::AssertSqlSafe(take_queue_lock)).execute(&mut *queue).await.unwrap();
        queue
    });
    waits_for_a_lock(&pool, queue_pid, "the third session's queue lock").await;
    // The other replica spends 2 of the 5 credits and commits: 3 left for 4 held, so the
    // first try rolls back (letting the queue lock go to the third session) and runs again.
    sqlx::query("UPDATE key_balances SET spent = spent + 2000000 WHERE key_id = 'k'")
        .execute(&mut *other)
        .await
        .unwrap();
    other.commit().await.unwrap();
    let mut queue = queue.await.unwrap();
    blocked_by(&pool, queue_pid, "SELECT pg_advisory_xact_lock", "the rerun's queue lock").await;
    let row = sqlx::query("SELECT spent FROM key_balances WHERE key_id = 'k' FOR UPDATE NOWAIT")
        .execute(&mut *queue)
        .await;
    assert!(
        row.is_ok(),
        "the rerun holds the key's balance row while it waits for the queue lock, which a \
         batch waiting for that row could hold: {row:?}"
    );
    queue.rollback().await.unwrap();
    let outcomes: Vec<InsertOutcome> =
        creates.await.unwrap().into_iter().map(|o| o.unwrap()).collect();
    assert!(matches!(outcomes[0], InsertOutcome::Inserted { .. }), "{outcomes:?}");
    assert!(
        matches!(outcomes[1], InsertOutcome::BudgetExceeded(BudgetRefusal::Balance { .. })),
        "{outcomes:?}"
    );
    assert_eq!(store.batches_rerun_locked(), 1, "the batch ran again locked");
    assert_eq!(store.batch_lock_conflicts(), 0, "no deadlock on the way");
    assert_eq!(count(&pool, "tasks", "k").await, 1, "the rerun's task alone");
    assert_eq!(count(&pool, "ledger", "k").await, 2, "the top-up and the rerun's hold");
}

/// Two writers that each take two queue locks in their own arrival order can each hold one
/// the other waits for; in key order (then the whole queue's), the batch that waits for the
/// first holds none of the others. Another session holds key `a`'s queue lock; a batch whose
/// creates came for `b` first, then `a` (both near their limits and the whole queue's), waits
/// for `a` holding neither `b`'s lock nor the whole queue's.
#[tokio::test(flavor = "current_thread")]
async fn a_batch_takes_its_keys_queue_locks_in_key_order_then_the_whole_queues() {
    let Some(test) = TestPgStore::create().await else { return };
    let store = test.store();
    let pool = sqlx::PgPool::connect(&test.url()).await.unwrap();
    let mut other = pool.begin().await.unwrap();
    let hold_a = format!("SELECT pg_advisory_xact_lock({})", queue_lock("vidgate:key-queue:a"));
    sqlx::query(sqlx::AssertSqlSafe(hold_a)).execute(&mut *other).await.unwrap();
    let other_pid = backend_pid(&mut other).await;
    let limits = QueueLimits { total: Some(1_000), ..NEAR };
    let creates = tokio::spawn({
        let store = store.clone();
        async move {
            let two = [("b", T0 + 1), ("a", T0 + 2)]
                .map(|(k, at)| NewTask { limits, ..new_task(k, 0, at) });
            futures::future::join_all(two.map(|t| store.insert_task(t))).await
        }
    });
    blocked_by(&pool, other_pid, "SELECT pg_advisory_xact_lock", "the batch's lock on `a`").await;
    for name in ["vidgate:key-queue:b", "vidgate:queue-total"] {
        let try_lock = format!("SELECT pg_try_advisory_xact_lock({})", queue_lock(name));
        let free: bool =
            sqlx::query(sqlx::AssertSqlSafe(try_lock)).fetch_one(&mut *other).await.unwrap().get(0);
        assert!(free, "the batch took {name} before the lock on `a` it waits for");
    }
    other.commit().await.unwrap();
    for outcome in creates.await.unwrap() {
        assert!(matches!(outcome.unwrap(), InsertOutcome::Inserted { .. }));
    }
    assert_eq!(count(&pool, "tasks", "a").await + count(&pool, "tasks", "b").await, 2);
}

/// A cycle the lock order cannot remove: a batch with an idempotency key holds that key's
/// dedup row from its claim to its commit and waits, at its end, for its key's balance row;
/// a rerun holds the balance row from its start and then claims its creates' dedup rows. Here
/// another session plays that rerun with the same idempotency key. PostgreSQL fails the
/// batch's transaction to break the cycle (its backend, waiting first, looks for one after
/// its `deadlock_timeout`, 3 s here so the other session's wait surely comes first; the
/// other's is a minute); the batch runs again once the other session is done, so its one
/// create is stored and answered `Inserted`, not with the deadlock's error, with one hold, the
/// dedup row its own, the balance its ledger, and the retry counted in `/metrics`.
// Only this case of the binary installs the global recorder.
#[tokio::test(flavor = "current_thread")]
async fn a_create_whose_transaction_was_failed_to_break_a_deadlock_runs_again_and_is_stored() {
    let Some(test) = TestPgStore::create().await else { return };
    let metrics = PrometheusBuilder::new().install_recorder().unwrap();
    // The test's schema through connections that wait 3 s before they look for a cycle
    // (setting `deadlock_timeout` takes a superuser: the test server's `postgres`).
    let options =
        PgConnectOptions::from_str(&test.url()).unwrap().options([("deadlock_timeout", "3s")]);
    let store = Arc::new(SqlStore::connect_postgres_with(options, 8).await.unwrap());
    let pool = sqlx::PgPool::connect(&test.url()).await.unwrap();
    prepaid_key(store.as_ref(), "k", 10.0).await;
    let deadlocks_before = deadlocks(&pool).await;
    let mut other = pool.begin().await.unwrap();
    // The other session never looks for the cycle within the test; `lock_timeout` ends the
    // test in 30 s, not a minute, if the batch's one look came before the cycle closed.
    sqlx::query("SET LOCAL deadlock_timeout = '60s'").execute(&mut *other).await.unwrap();
    sqlx::query("SET LOCAL lock_timeout = '30s'").execute(&mut *other).await.unwrap();
    let other_pid = hold_balance_row(&mut other, "k").await;
    let claim =
        IdempotencyClaim { key: "same".into(), body_hash: "h".into(), expires_at: T0 + HOUR };
    let task = NewTask { idempotency: Some(claim), ..priced("k", T0 + 1, 2.0) };
    let id = task.id.to_string();
    let create = tokio::spawn({
        let store = store.clone();
        async move { store.insert_task(task).await }
    });
    blocked_by(&pool, other_pid, BALANCE_UPSERT, "the batch's balance upsert").await;
    // The cycle: this waits for the batch's dedup row until PostgreSQL fails the batch's
    // transaction; then it claims the key itself, and lets it go.
    sqlx::query(
        "INSERT INTO dedup (key_id, kind, value, task_id, body_hash, expires_at)
         VALUES ('k', 'idem', 'same', 'the-other', 'h', $1) ON CONFLICT DO NOTHING",
    )
    .bind(T0 + HOUR)
    .execute(&mut *other)
    .await
    .expect("PostgreSQL broke the cycle by failing the batch's transaction, within 30 s");
    other.rollback().await.unwrap();
    let outcome = create.await.unwrap().expect("the create ran again and was stored");
    assert!(matches!(outcome, InsertOutcome::Inserted { .. }), "{outcome:?}");
    // (Once, unless the retry's claim met the other session's insert again: very unlikely.)
    assert!(store.batch_lock_conflicts() >= 1, "the batch's transaction ran again");
    let exported = metrics.render();
    assert!(
        exported
            .lines()
            .any(|l| l.starts_with(CREATE_BATCH_LOCK_CONFLICTS_METRIC) && !l.ends_with(" 0")),
        "the retry is in /metrics:\n{exported}"
    );
    // Counted for the whole database, which other tests share, and flushed to the statistics
    // within a second or so: the tally above says it was this batch's.
    let mut found = false;
    for _ in 0..100 {
        found = deadlocks(&pool).await > deadlocks_before;
        if found {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(found, "PostgreSQL counted a deadlock");
    assert_eq!(count(&pool, "tasks", "k").await, 1);
    assert_eq!(count(&pool, "ledger", "k").await, 2, "the top-up and one hold");
    let holder: String = sqlx::query("SELECT task_id FROM dedup WHERE key_id = 'k'")
        .fetch_one(&pool)
        .await
        .unwrap()
        .get(0);
    assert_eq!(holder, id, "the idempotency key is the stored create's");
    let balance = store.balance(&KeyId::from("k"), T0 + 10).await.unwrap().unwrap();
    assert_eq!(balance.balance, Credits::from_micros(8_000_000));
    assert_balance_is_its_ledger(store.as_ref(), "k", T0 + 10).await;
    store.close().await;
}

/// The reaper's sweep applies its balance changes in key order, as a batch's upsert does: a
/// sweep that released the holds of two keys' requests past their deadlines, waiting for key
/// `a`'s row (another writer holds it), holds no lock on `b`'s, so a writer that takes `b`
/// after `a` never waits for it. (Its counter rows, taken by the state change's triggers row
/// by row, follow no such order: README, "Not yet built".)
#[tokio::test(flavor = "current_thread")]
async fn the_reapers_sweep_takes_its_keys_balance_rows_in_key_order() {
    let Some(test) = TestPgStore::create().await else { return };
    let store = test.store();
    let pool = sqlx::PgPool::connect(&test.url()).await.unwrap();
    // `b` is made first and its request comes first: only the order of keys is key order.
    for k in ["b", "a"] {
        prepaid_key(store.as_ref(), k, 10.0).await;
        let task = NewTask { deadline_at: T0 + 1_000, ..priced(k, T0 + 1, 2.0) };
        let outcome = store.insert_task(task).await.unwrap();
        assert!(matches!(outcome, InsertOutcome::Inserted { .. }), "{outcome:?}");
    }
    let mut other = pool.begin().await.unwrap();
    let other_pid = hold_balance_row(&mut other, "a").await;
    let sweep = tokio::spawn({
        let store = store.clone();
        async move { store.reap(T0 + 2_000, ReapLimits::default()).await }
    });
    blocked_by(&pool, other_pid, BALANCE_UPSERT, "the sweep's balance changes").await;
    let row = sqlx::query("SELECT spent FROM key_balances WHERE key_id = 'b' FOR UPDATE NOWAIT")
        .execute(&mut *other)
        .await;
    assert!(row.is_ok(), "the sweep locked `b`'s row before `a`'s: {row:?}");
    other.commit().await.unwrap();
    let report = sweep.await.unwrap().unwrap();
    assert_eq!(report.timed_out, 2, "{report:?}");
    for k in ["a", "b"] {
        let balance = store.balance(&KeyId::from(k), T0 + 3_000).await.unwrap().unwrap();
        assert_eq!(balance.balance, Credits::from_micros(10_000_000), "{k}: the hold released");
        assert_balance_is_its_ledger(store.as_ref(), k, T0 + 3_000).await;
    }
}
