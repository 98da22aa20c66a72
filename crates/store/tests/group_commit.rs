//! The group committer when a batch fails (SQLite; the committer is the same on PostgreSQL).
//! A batch that failed because the database was unavailable answers every create of it as
//! unavailable and stores none (its commit may have gone through for all we know, so running
//! them again one by one could store them twice); a batch that failed otherwise runs its
//! creates again one by one, so one create's failure is not the others'.

#![allow(clippy::unwrap_used)] // a test: a panic is how it reports failure

use vidgate_store::contract::{T0, key, priced};
use vidgate_store::sqlite::Durability;
use vidgate_store::{Fault, InsertOutcome, KeyBudget, ListQuery, SqlStore, TaskStore};

/// The hold's statement, inside a batch's transaction.
const HOLD: &str = "'hold', 'open'";

async fn store() -> (tempfile::TempDir, SqlStore) {
    let dir = tempfile::tempdir().unwrap();
    let store =
        SqlStore::open_sqlite(&dir.path().join("vidgate.db"), Durability::Normal).await.unwrap();
    key(&store, "k", KeyBudget::default()).await;
    (dir, store)
}

async fn stored(store: &SqlStore) -> usize {
    let q = ListQuery { limit: 100, ..ListQuery::default() };
    store.list_tasks(&"k".into(), &q).await.unwrap().len()
}

// A current-thread runtime: all eight inserts reach the committer's queue before it runs, so
// they are one batch.
#[tokio::test(flavor = "current_thread")]
async fn an_unavailable_database_fails_the_whole_batch_and_stores_none_of_it() {
    let (_dir, store) = store().await;
    store.fault_plan().fail(HOLD, Fault::Unavailable, 1);
    let calls = (0..8).map(|i| store.insert_task(priced("k", T0 + i, 1.0)));
    let outcomes = futures::future::join_all(calls).await;
    assert_eq!(store.fault_plan().pending(HOLD), 0, "the fault was met");
    for o in &outcomes {
        match o {
            Err(e) => assert!(e.is_unavailable(), "{e}"),
            Ok(o) => panic!("a create of the failed batch answered {o:?}"),
        }
    }
    assert_eq!(stored(&store).await, 0, "nothing of the batch is stored");
    // The database is back: the same creates go in.
    let calls = (0..8).map(|i| store.insert_task(priced("k", T0 + i, 1.0)));
    for o in futures::future::join_all(calls).await {
        assert!(matches!(o.unwrap(), InsertOutcome::Inserted { .. }));
    }
    assert_eq!(stored(&store).await, 8);
}

#[tokio::test(flavor = "current_thread")]
async fn another_failure_runs_the_batch_again_one_by_one() {
    let (_dir, store) = store().await;
    // Not an outage: the hold's statement fails once.
    store.fault_plan().fail(HOLD, Fault::Fails, 1);
    let calls = (0..8).map(|i| store.insert_task(priced("k", T0 + i, 1.0)));
    let outcomes = futures::future::join_all(calls).await;
    assert_eq!(store.fault_plan().pending(HOLD), 0, "the fault was met");
    for o in outcomes {
        assert!(matches!(o.unwrap(), InsertOutcome::Inserted { .. }), "each went again alone");
    }
    assert_eq!(stored(&store).await, 8);
}
