//! PostgreSQL's batch of plain creates as one autocommit statement (`sql/autocommit_batch.rs`):
//! it answers what the transaction would (positions, refusals, one hold each, the balance row
//! its ledger); a batch with a dedup claim, or near a queue limit, still takes the
//! transaction, and the limit holds exactly across both; and a batch whose key's balance row
//! moved under it (another replica spent the credits) leaves nothing of itself and runs again
//! locked; one caught in a deadlock with another writer keeps nothing and commits as a
//! transaction. Skipped without `VIDGATE_TEST_PG_URL` (a failure under CI).

#![allow(clippy::unwrap_used)] // a test: a panic is how it reports failure

use std::sync::Arc;

use sqlx::Row;
use vidgate_domain::KeyId;
use vidgate_domain::pricing::Credits;
use vidgate_store::contract::{
    HOUR, T0, assert_balance_is_its_ledger, new_task, prepaid_key, priced,
};
use vidgate_store::postgres::lock_waits::{blocked_by, deadlocks, hold_balance_row};
use vidgate_store::postgres::testing::TestPgStore;
use vidgate_store::{
    AccountStore, BudgetRefusal, DedupClaim, InsertOutcome, LimitScope, NewTask, QueueLimits,
    SqlStore, TaskStore,
};

/// Rows of `table` for `key` (`key_id` column).
async fn count(pool: &sqlx::PgPool, table: &str, key: &str) -> i64 {
    let text = format!("SELECT count(*) FROM {table} WHERE key_id = $1");
    sqlx::query(sqlx::AssertSqlSafe(text)).bind(key).fetch_one(pool).await.unwrap().get(0)
}

/// `other` takes key `k`'s balance row; then two creates of 2 on `k` are sent as one batch,
/// and this returns once the batch's statement waits for that row (their outcomes to come).
async fn two_creates_blocked_on_the_balance_row(
    store: &Arc<SqlStore>,
    pool: &sqlx::PgPool,
    other: &mut sqlx::PgConnection,
) -> tokio::task::JoinHandle<Vec<vidgate_store::Result<InsertOutcome>>> {
    let blocker = hold_balance_row(other, "k").await;
    let creates = tokio::spawn({
        let store = store.clone();
        async move {
            let two = [priced("k", T0 + 1, 2.0), priced("k", T0 + 2, 2.0)];
            futures::future::join_all(two.map(|t| store.insert_task(t))).await
        }
    });
    blocked_by(pool, blocker, "WITH u AS (", "the batch's statement, on the balance row").await;
    creates
}

// A current-thread runtime: every create reaches the committer's queue before it runs, so
// they are one batch.
#[tokio::test(flavor = "current_thread")]
async fn a_batch_of_plain_creates_is_one_statement_answering_as_a_transaction_would() {
    let Some(test) = TestPgStore::create().await else { return };
    let store = test.store();
    let pool = sqlx::PgPool::connect(&test.url()).await.unwrap();
    prepaid_key(store.as_ref(), "rich", 100.0).await;
    prepaid_key(store.as_ref(), "poor", 5.0).await;
    // Mixed ranks on one key, and a key whose budget covers two of its three creates.
    let batch: Vec<NewTask> = vec![
        NewTask { rank: 0, ..priced("rich", T0, 2.0) },
        NewTask { rank: 5, ..priced("rich", T0 + 1, 2.0) },
        priced("poor", T0 + 2, 2.0),
        NewTask { rank: 0, ..priced("rich", T0 + 3, 2.0) },
        priced("poor", T0 + 4, 2.0),
        priced("poor", T0 + 5, 2.0),
        NewTask { rank: 7, ..priced("rich", T0 + 6, 2.0) },
        new_task("free", 0, T0 + 7),
    ];
    let outcomes = futures::future::join_all(batch.into_iter().map(|t| store.insert_task(t))).await;
    assert_eq!(store.batches_in_one_statement(), 1, "the eight creates were one statement");
    assert_eq!(store.batches_rerun_locked(), 0);
    for (i, outcome) in outcomes.into_iter().enumerate() {
        match outcome.unwrap() {
            InsertOutcome::Inserted { task, position } => {
                assert_ne!(i, 5, "the third create of 2 on a budget of 5 was accepted");
                let read = store.queue_position(&task).await.unwrap();
                assert_eq!(position, Some(read), "create {i} (rank {})", task.rank);
            }
            InsertOutcome::BudgetExceeded(BudgetRefusal::Balance { .. }) => assert_eq!(i, 5),
            other => panic!("create {i}: {other:?}"),
        }
    }
    assert_eq!(count(&pool, "tasks", "rich").await, 4);
    assert_eq!(count(&pool, "tasks", "poor").await, 2);
    assert_eq!(count(&pool, "tasks", "free").await, 1);
    assert_eq!(count(&pool, "ledger", "rich").await, 5, "a top-up and four holds");
    assert_eq!(count(&pool, "ledger", "poor").await, 3, "a top-up and two holds");
    for (k, left) in [("rich", 92.0), ("poor", 1.0)] {
        let balance = store.balance(&KeyId::from(k), T0 + 10).await.unwrap().unwrap();
        assert_eq!(balance.balance, Credits::from_micros((left * 1e6) as i64), "{k}");
        assert_balance_is_its_ledger(store.as_ref(), k, T0 + 10).await;
    }
    let queued: i64 = sqlx::query("SELECT CAST(sum(n) AS BIGINT) FROM queue_rank_counts")
        .fetch_one(&pool)
        .await
        .unwrap()
        .get(0);
    assert_eq!(queued, 7, "the counters count the statement's tasks once");

    // A batch with a session id takes the transaction.
    let mut claimed = priced("rich", T0 + 20, 2.0);
    claimed.session = Some(DedupClaim { value: "s".into(), expires_at: T0 + HOUR });
    let both = [claimed, priced("rich", T0 + 21, 2.0)];
    let outcomes = futures::future::join_all(both.into_iter().map(|t| store.insert_task(t))).await;
    for o in outcomes {
        assert!(matches!(o.unwrap(), InsertOutcome::Inserted { .. }));
    }
    assert_eq!(store.batches_in_one_statement(), 1, "the dedup batch was a transaction");
    assert_balance_is_its_ledger(store.as_ref(), "rich", T0 + 30).await;
}

/// A key's queue limit 1,100: far from it (more than 1,024 away) batches are one statement,
/// near it they take the transaction and its lock; the limit admits exactly 1,100.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_limit_holds_exactly_across_one_statement_and_transaction_batches() {
    let Some(test) = TestPgStore::create().await else { return };
    let store = test.store();
    let pool = sqlx::PgPool::connect(&test.url()).await.unwrap();
    let limits = QueueLimits { per_key: Some(1_100), total: Some(1_000_000) };
    let mut accepted = 0;
    let mut refused = 0;
    for round in 0..6 {
        let calls = (0..200).map(|i| {
            let store = store.clone();
            let task = NewTask { limits, ..new_task("k", 0, T0 + round * 1_000 + i) };
            tokio::spawn(async move { store.insert_task(task).await.unwrap() })
        });
        for outcome in futures::future::join_all(calls).await {
            match outcome.unwrap() {
                InsertOutcome::Inserted { .. } => accepted += 1,
                InsertOutcome::QueueFull { scope: LimitScope::Key, limit: 1_100 } => refused += 1,
                other => panic!("round {round}: {other:?}"),
            }
        }
        if round == 0 {
            assert!(store.batches_in_one_statement() > 0, "far from the limit: one statement");
        }
    }
    assert_eq!((accepted, refused), (1_100, 100));
    assert_eq!(count(&pool, "tasks", "k").await, 1_100);
    let counted: i64 =
        sqlx::query("SELECT CAST(sum(n) AS BIGINT) FROM key_queue_counts WHERE key_id = 'k'")
            .fetch_one(&pool)
            .await
            .unwrap()
            .get(0);
    assert_eq!(counted, 1_100, "the counters are the table");
}

/// The balance row moves between the batch's read and its statement: the statement finds its
/// holds no longer fit, fails whole (its tasks and holds, inserted before it reached the
/// balance row, are not kept), and the batch runs again with the row locked, which admits
/// what the row now covers, counting on the locked rerun's own counter shards.
// A current-thread runtime: the two creates reach the committer's queue before it runs, so
// they are one batch.
#[tokio::test(flavor = "current_thread")]
async fn a_batch_whose_balance_moved_keeps_nothing_and_runs_again_locked() {
    let Some(test) = TestPgStore::create().await else { return };
    let store = test.store();
    let pool = sqlx::PgPool::connect(&test.url()).await.unwrap();
    prepaid_key(store.as_ref(), "k", 5.0).await;
    // Another replica, as far as the store can tell: a transaction holding the key's row.
    let mut other = pool.begin().await.unwrap();
    // Two creates of 2: the batch reads 5 credits left and admits both.
    let creates = two_creates_blocked_on_the_balance_row(&store, &pool, &mut other).await;
    // The other replica spends 2 of the 5 credits (its ledger row left out: this test looks
    // at what the batch keeps, not at the books) and commits: 3 left, for 4 held.
    sqlx::query("UPDATE key_balances SET spent = spent + 2000000 WHERE key_id = 'k'")
        .execute(&mut *other)
        .await
        .unwrap();
    other.commit().await.unwrap();
    let outcomes: Vec<InsertOutcome> =
        creates.await.unwrap().into_iter().map(|o| o.unwrap()).collect();
    assert!(matches!(outcomes[0], InsertOutcome::Inserted { .. }), "{outcomes:?}");
    assert!(
        matches!(outcomes[1], InsertOutcome::BudgetExceeded(BudgetRefusal::Balance { .. })),
        "{outcomes:?}"
    );
    assert_eq!(store.batches_rerun_locked(), 1);
    assert_eq!(store.batches_in_one_statement(), 0);
    assert_eq!(count(&pool, "tasks", "k").await, 1, "the rerun's task alone");
    assert_eq!(count(&pool, "ledger", "k").await, 2, "the top-up and the rerun's hold");
    let spent: i64 = sqlx::query("SELECT spent FROM key_balances WHERE key_id = 'k'")
        .fetch_one(&pool)
        .await
        .unwrap()
        .get(0);
    assert_eq!(spent, 4_000_000, "the other replica's 2 and the rerun's hold of 2");
    let shards: Vec<i32> = sqlx::query("SELECT shard FROM key_queue_counts WHERE key_id = 'k'")
        .fetch_all(&pool)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        shards.len() == 1 && (8..16).contains(&shards[0]),
        "the locked rerun counts on shards 8 to 15, apart from batches that wait for balance \
         rows while holding counter rows: {shards:?}"
    );
}

/// A real deadlock between a batch's statement and another writer that takes the same rows in
/// the other order: the other transaction holds the key's balance row, the batch's statement
/// takes the key's queue counter row and waits for the balance row, then the other
/// transaction waits for that counter row. PostgreSQL breaks the cycle by failing the batch's
/// statement (its backend checks first: the server's `deadlock_timeout` against the other's
/// minute), which keeps nothing of it; the batch then commits as a transaction once the other
/// writer is done, every create answered and the balance row still its ledger.
// A current-thread runtime: the two creates reach the committer's queue before it runs, so
// they are one batch.
#[tokio::test(flavor = "current_thread")]
async fn a_batch_deadlocked_with_another_writer_commits_as_a_transaction_when_it_is_broken() {
    let Some(test) = TestPgStore::create().await else { return };
    let store = test.store();
    let pool = sqlx::PgPool::connect(&test.url()).await.unwrap();
    prepaid_key(store.as_ref(), "k", 10.0).await;
    // Every shard's counter row exists, so whichever the batch takes is one the other
    // transaction's `UPDATE` waits for.
    sqlx::query("INSERT INTO key_queue_counts (key_id, shard, n) SELECT 'k', s, 0 FROM generate_series(0, 15) s")
        .execute(&pool)
        .await
        .unwrap();
    let deadlocks_before = deadlocks(&pool).await;
    let mut other = pool.begin().await.unwrap();
    // The other writer never looks for the cycle itself within the test, so the batch does
    // (setting `deadlock_timeout` takes a superuser: the test server's `postgres`). Its
    // `lock_timeout` ends the test in 10 s, not a minute, if the batch's one check (at the
    // server's `deadlock_timeout`, 1 s, after it began to wait) came before the cycle closed.
    sqlx::query("SET LOCAL deadlock_timeout = '60s'").execute(&mut *other).await.unwrap();
    sqlx::query("SET LOCAL lock_timeout = '10s'").execute(&mut *other).await.unwrap();
    let creates = two_creates_blocked_on_the_balance_row(&store, &pool, &mut other).await;
    // The cycle: this waits for the counter row the batch holds, until PostgreSQL fails the
    // batch's statement; then it has the rows, and commits.
    sqlx::query("UPDATE key_queue_counts SET n = n WHERE key_id = 'k'")
        .execute(&mut *other)
        .await
        .expect("PostgreSQL broke the cycle by failing the batch's statement, within 10 s");
    other.commit().await.unwrap();
    let outcomes: Vec<InsertOutcome> =
        creates.await.unwrap().into_iter().map(|o| o.unwrap()).collect();
    for outcome in &outcomes {
        assert!(matches!(outcome, InsertOutcome::Inserted { .. }), "{outcomes:?}");
    }
    // (Counted for the whole database, which other tests share: the assertions after it say
    // that it was this batch's.)
    assert!(deadlocks(&pool).await > deadlocks_before, "PostgreSQL found a deadlock");
    assert_eq!(store.batches_in_one_statement(), 0, "the broken statement kept nothing");
    assert_eq!(store.batches_rerun_locked(), 0, "the batch went the transaction's way once");
    assert_eq!(count(&pool, "tasks", "k").await, 2);
    assert_eq!(count(&pool, "ledger", "k").await, 3, "the top-up and the two holds");
    let queued: i64 =
        sqlx::query("SELECT CAST(sum(n) AS BIGINT) FROM key_queue_counts WHERE key_id = 'k'")
            .fetch_one(&pool)
            .await
            .unwrap()
            .get(0);
    assert_eq!(queued, 2, "the counters count the two tasks once");
    let balance = store.balance(&KeyId::from("k"), T0 + 10).await.unwrap().unwrap();
    assert_eq!(balance.balance, Credits::from_micros(6_000_000));
    assert_balance_is_its_ledger(store.as_ref(), "k", T0 + 10).await;
}
