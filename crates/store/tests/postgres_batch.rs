//! One PostgreSQL batch of creates split into six insert statements: a create with an
//! idempotency key or a session id goes in under its own savepoint, in its own statement,
//! between the plain creates before and after it. Each statement writes its tasks' holds and
//! answers their positions; the batch still answers each create the position a read gives
//! after the commit, including the tasks a later statement put ahead of it, and every
//! priced create has its one hold. Skipped without `VIDGATE_TEST_PG_URL` (a failure under
//! CI).

#![allow(clippy::unwrap_used)] // a test: a panic is how it reports failure

use vidgate_domain::KeyId;
use vidgate_domain::pricing::Credits;
use vidgate_store::contract::{HOUR, T0, assert_balance_is_its_ledger, key, priced, top_up};
use vidgate_store::postgres::testing::TestPgStore;
use vidgate_store::{
    AccountStore, DedupClaim, IdempotencyClaim, InsertOutcome, KeyBudget, NewTask, TaskStore,
};

// A current-thread runtime: every create reaches the committer's queue before it runs, so
// they are one batch.
#[tokio::test(flavor = "current_thread")]
async fn a_batch_of_several_statements_answers_true_positions_and_one_hold_each() {
    let Some(test) = TestPgStore::create().await else { return };
    let store = test.store();
    key(store.as_ref(), "k", KeyBudget { prepaid: true, ..KeyBudget::default() }).await;
    top_up(store.as_ref(), "k", 100.0).await;
    let at_rank = |i: i64, rank: i64| NewTask { rank, ..priced("k", T0 + i, 2.0) };
    let mut idempotent = at_rank(1, 5);
    idempotent.idempotency =
        Some(IdempotencyClaim { key: "i".into(), body_hash: "b".into(), expires_at: T0 + HOUR });
    let mut session = at_rank(3, 0);
    session.session = Some(DedupClaim { value: "s".into(), expires_at: T0 + HOUR });
    let mut replay = at_rank(5, 5);
    replay.idempotency = idempotent.idempotency.clone();
    // Statements: [a], [idempotent], [b], [session], [c], [d]: a dedup create first sends the
    // plain creates before it, and the replay itself writes nothing.
    let batch = vec![
        at_rank(0, 0),
        idempotent,
        at_rank(2, 0),
        session,
        at_rank(4, 7),
        replay,
        at_rank(6, 0),
    ];
    let outcomes = futures::future::join_all(batch.into_iter().map(|t| store.insert_task(t))).await;
    let mut inserted = 0;
    for (i, outcome) in outcomes.into_iter().enumerate() {
        match outcome.unwrap() {
            InsertOutcome::Inserted { task, position } => {
                inserted += 1;
                let read = store.queue_position(&task).await.unwrap();
                assert_eq!(position, Some(read), "create {i} (rank {})", task.rank);
            }
            InsertOutcome::Replayed(task) => assert_eq!(i, 5, "only the replay: {}", task.id),
            other => panic!("create {i}: {other:?}"),
        }
    }
    assert_eq!(inserted, 6);
    // Six holds of 2: one each, and the balance row is its ledger.
    let balance = store.balance(&KeyId::from("k"), T0 + 10).await.unwrap().unwrap();
    assert_eq!(balance.balance, Credits::from_micros(88_000_000));
    assert_balance_is_its_ledger(store.as_ref(), "k", T0 + 10).await;
}
