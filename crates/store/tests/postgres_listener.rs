//! The PostgreSQL change feed survives losing its connection: after the listener's backend is
//! terminated (as a server restart would), wake-ups keep arriving. Skipped without
//! `VIDGATE_TEST_PG_URL`.

#![allow(clippy::unwrap_used)] // a test: a panic is how it reports failure

use std::collections::HashSet;
use std::time::Duration;

use futures::StreamExt;
use vidgate_store::StoreEvent;
use vidgate_store::postgres::testing::TestPgStore;

async fn listener_pids(admin: &sqlx::PgPool) -> HashSet<i32> {
    sqlx::query_scalar("SELECT pid FROM pg_stat_activity WHERE query ILIKE 'LISTEN%'")
        .fetch_all(admin)
        .await
        .unwrap()
        .into_iter()
        .collect()
}

#[tokio::test]
async fn wake_ups_resume_after_the_listener_loses_its_connection() {
    let Some(test) = TestPgStore::create().await else { return };
    let admin =
        sqlx::PgPool::connect(&std::env::var("VIDGATE_TEST_PG_URL").unwrap()).await.unwrap();
    let store = test.store();
    let before = listener_pids(&admin).await;
    let mut events = vidgate_store::Store::events(store.as_ref()).await.unwrap().unwrap();
    let ours: Vec<i32> = listener_pids(&admin).await.difference(&before).copied().collect();
    assert!(!ours.is_empty(), "the listener's backend is visible");
    for pid in &ours {
        sqlx::query("SELECT pg_terminate_backend($1)").bind(pid).execute(&admin).await.unwrap();
    }
    // Work queued after the loss must wake the workers again once the listener is back
    // (a notification sent while it reconnects is lost; idle polling covers that gap).
    let mut seen = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    'outer: while tokio::time::Instant::now() < deadline {
        let task = vidgate_store::contract::new_task("k", 0, 1_000);
        vidgate_store::contract::insert(store.as_ref(), task).await;
        let round = tokio::time::Instant::now() + Duration::from_millis(500);
        while let Ok(Some(e)) = tokio::time::timeout_at(round, events.next()).await {
            if e == StoreEvent::Dispatch {
                seen = true;
                break 'outer;
            }
        }
    }
    assert!(seen, "no wake-ups after the listener lost its connection");
    admin.close().await;
}

/// A TCP proxy to the PostgreSQL server that can be taken down (every connection cut, new
/// ones refused) and brought back on the same port: a server restart, as the client sees it.
struct Proxy {
    port: u16,
    target: String,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Proxy {
    async fn start(target: String) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut proxy = Proxy { port, target, task: None };
        proxy.serve(listener);
        proxy
    }

    fn serve(&mut self, listener: tokio::net::TcpListener) {
        let target = self.target.clone();
        self.task = Some(tokio::spawn(async move {
            let mut links = tokio::task::JoinSet::new();
            while let Ok((mut client, _)) = listener.accept().await {
                let target = target.clone();
                links.spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        }));
    }

    /// Cuts every connection and refuses new ones.
    fn down(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }

    async fn up(&mut self) {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.port)).await.unwrap();
        self.serve(listener);
    }
}

#[tokio::test]
async fn wake_ups_resume_after_the_server_was_unreachable_for_a_while() {
    let Some(test) = TestPgStore::create().await else { return };
    let direct = test.store();
    let options: sqlx::postgres::PgConnectOptions = test.url().parse().unwrap();
    let target = format!("{}:{}", options.get_host(), options.get_port());
    let mut proxy = Proxy::start(target).await;
    let through = vidgate_store::SqlStore::connect_postgres_with(
        options.host("127.0.0.1").port(proxy.port),
        2,
    )
    .await
    .unwrap();
    let mut events = vidgate_store::Store::events(&through).await.unwrap().unwrap();
    proxy.down();
    // Longer than the pool's 10 s acquire timeout, so the listener's reconnection fails
    // (before the fix, that error ended the feed for good).
    let mut woke_during = false;
    let outage = tokio::time::Instant::now() + Duration::from_secs(12);
    while let Ok(Some(e)) = tokio::time::timeout_at(outage, events.next()).await {
        woke_during |= e == StoreEvent::Resync;
    }
    assert!(woke_during, "losing the connection wakes the workers (they may have missed work)");
    proxy.up().await;
    let mut seen = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    'outer: while tokio::time::Instant::now() < deadline {
        let task = vidgate_store::contract::new_task("k", 0, 1_000);
        vidgate_store::contract::insert(direct.as_ref(), task).await;
        let round = tokio::time::Instant::now() + Duration::from_millis(500);
        while let Ok(Some(e)) = tokio::time::timeout_at(round, events.next()).await {
            if e == StoreEvent::Dispatch {
                seen = true;
                break 'outer;
            }
        }
    }
    assert!(seen, "the change feed did not come back with the server");
}
