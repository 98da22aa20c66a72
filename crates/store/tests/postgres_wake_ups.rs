//! PostgreSQL's wake-ups after creates (`sql/group_commit.rs`, `announce`): sent after a batch
//! commits, in a transaction of their own rather than in the batch's statement, they still
//! reach every replica, and a replica woken finds the tasks it was woken for, whichever way the
//! batch went (one statement, or a transaction for a dedup claim). Skipped without
//! `VIDGATE_TEST_PG_URL` (a failure under CI).

#![allow(clippy::unwrap_used)] // a test: a panic is how it reports failure

use std::time::Duration;

use futures::StreamExt;
use vidgate_store::contract::{HOUR, T0, new_task};
use vidgate_store::postgres::testing::test_url;
use vidgate_store::{DedupClaim, InsertOutcome, NewTask, SqlStore, Store, StoreEvent, TaskStore};

/// How long a wake-up may take to arrive (a shared, loaded machine).
const PATIENCE: Duration = Duration::from_secs(10);

/// A database of its own, with two replicas' stores on it: notifications go to every listener
/// of a database, so in the shared test database other tests' creates would wake these
/// listeners too. Dropped by `Replicas::drop_database`.
struct Replicas {
    admin: sqlx::PgPool,
    name: String,
    writer: SqlStore,
    reader: SqlStore,
}

impl Replicas {
    async fn create() -> Option<Replicas> {
        let url = test_url()?;
        let admin = sqlx::PgPool::connect(&url).await.unwrap();
        let name =
            format!("vgt_wake_{}", vidgate_domain::RequestId::new().to_string().replace('-', ""));
        let text = format!("CREATE DATABASE {name}");
        sqlx::query(sqlx::AssertSqlSafe(text)).execute(&admin).await.unwrap();
        let (base, query) = url.split_once('?').map_or((url.as_str(), ""), |(b, q)| (b, q));
        let (server, _) = base.rsplit_once('/').unwrap();
        let own = if query.is_empty() {
            format!("{server}/{name}")
        } else {
            format!("{server}/{name}?{query}")
        };
        let writer = SqlStore::connect_postgres(&own, 8).await.unwrap();
        let reader = SqlStore::connect_postgres(&own, 4).await.unwrap();
        Some(Replicas { admin, name, writer, reader })
    }

    async fn drop_database(self) {
        self.writer.close().await;
        self.reader.close().await;
        let text = format!("DROP DATABASE {} WITH (FORCE)", self.name);
        sqlx::query(sqlx::AssertSqlSafe(text)).execute(&self.admin).await.unwrap();
        self.admin.close().await;
    }
}

#[tokio::test]
async fn a_replica_woken_by_a_create_finds_the_task_it_was_woken_for() {
    let Some(replicas) = Replicas::create().await else { return };
    let writer = std::sync::Arc::new(replicas.writer.clone());
    let reader = &replicas.reader;
    let mut events = Store::events(reader).await.unwrap().unwrap();
    for round in 0..12 {
        // Wake-ups of earlier rounds are not this round's.
        while tokio::time::timeout(Duration::from_millis(200), events.next()).await.is_ok() {}
        let mut task: NewTask = new_task("k", 0, T0 + round);
        if round % 2 == 1 {
            // A dedup claim: the batch takes the transaction's way.
            let value = format!("session-{round}");
            task.session = Some(DedupClaim { value, expires_at: T0 + HOUR });
        }
        let id = task.id;
        let created = tokio::spawn({
            let writer = writer.clone();
            async move { writer.insert_task(task).await }
        });
        // The wake-up, then at once the task, as a woken dispatcher would look for it.
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            match tokio::time::timeout_at(deadline, events.next()).await {
                Ok(Some(StoreEvent::Dispatch)) => break,
                Ok(Some(_)) => continue,
                Ok(None) => panic!("the change feed ended"),
                Err(_) => panic!("round {round}: no wake-up within {PATIENCE:?}"),
            }
        }
        let seen = reader.get_task_any(id).await.unwrap();
        assert!(seen.is_some(), "round {round}: woken before the task was visible");
        match created.await.unwrap().unwrap() {
            InsertOutcome::Inserted { task, .. } => assert_eq!(task.id, id),
            other => panic!("round {round}: {other:?}"),
        }
    }
    assert!(writer.batches_in_one_statement() >= 6, "the plain creates were one statement");
    // The listener holds one of the pool's connections until its stream is gone.
    drop(events);
    replicas.drop_database().await;
}

#[tokio::test]
async fn a_burst_of_creates_wakes_no_more_often_than_it_commits_and_a_create_after_it_still_wakes()
{
    let Some(replicas) = Replicas::create().await else { return };
    let writer = std::sync::Arc::new(replicas.writer.clone());
    let reader = &replicas.reader;
    let mut events = Store::events(reader).await.unwrap().unwrap();
    let burst = (0..200).map(|i| {
        let writer = writer.clone();
        async move { writer.insert_task(new_task(&format!("k{}", i % 16), 0, T0 + i)).await }
    });
    for outcome in futures::future::join_all(burst).await {
        assert!(matches!(outcome.unwrap(), InsertOutcome::Inserted { .. }));
    }
    let batches = writer.batches_in_one_statement();
    assert!(batches >= 1);
    // Every wake-up sent for the burst, until none comes for a second.
    let mut wake_ups = 0u64;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while tokio::time::Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_secs(1), events.next()).await {
            Ok(Some(StoreEvent::Dispatch)) => wake_ups += 1,
            Ok(Some(_)) => {}
            Ok(None) => panic!("the change feed ended"),
            Err(_) => break,
        }
    }
    assert!(wake_ups >= 1, "the burst woke nobody");
    assert!(wake_ups <= batches, "{wake_ups} wake-ups for {batches} batches: one each at most");
    // One more create, alone: it is announced by itself, after its commit.
    let last = new_task("k0", 0, T0 + 1_000);
    let id = last.id;
    writer.insert_task(last).await.unwrap();
    let woken = tokio::time::timeout(PATIENCE, async {
        while let Some(e) = events.next().await {
            if e == StoreEvent::Dispatch {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(woken, Ok(true), "the create after the burst woke nobody");
    assert!(reader.get_task_any(id).await.unwrap().is_some());
    // The listener holds one of the pool's connections until its stream is gone.
    drop(events);
    replicas.drop_database().await;
}
