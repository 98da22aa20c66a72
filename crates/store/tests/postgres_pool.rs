//! The PostgreSQL pool never hands out a connection a server restart broke: it checks each
//! one before use (sqlx's `test_before_acquire`, on by default and not overridden in
//! `postgres/mod.rs`; README, "The pool's check on every acquire"). A store's backends are terminated, as a restart would:
//! whether the store is used at once or after a second idle, no create fails, and every one is
//! stored. (With the check off it fails at "create 0 just after the loss".) Skipped without
//! `VIDGATE_TEST_PG_URL` (a failure under CI).

#![allow(clippy::unwrap_used)] // a test: a panic is how it reports failure

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::PgConnectOptions;
use vidgate_store::contract::new_task;
use vidgate_store::postgres::testing::TestPgStore;
use vidgate_store::{InsertOutcome, SqlStore, TaskStore};

/// Terminates every backend of the pool named `app`; how many there were.
async fn terminate(admin: &sqlx::PgPool, app: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1",
    )
    .bind(app)
    .fetch_one(admin)
    .await
    .unwrap()
}

async fn inserted(store: &SqlStore, at: i64) -> bool {
    match store.insert_task(new_task("k", 0, at)).await {
        Ok(InsertOutcome::Inserted { .. }) => true,
        Ok(other) => panic!("a plain create: {other:?}"),
        Err(_) => false,
    }
}

async fn tasks(admin: &sqlx::PgPool, url: &str) -> i64 {
    let schema = url.rsplit("search_path%3D").next().unwrap().split('&').next().unwrap();
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {schema}.tasks")))
        .fetch_one(admin)
        .await
        .unwrap()
}

#[tokio::test]
async fn connections_broken_while_idle_are_replaced_before_use() {
    let Some(test) = TestPgStore::create().await else { return };
    let admin_url = std::env::var("VIDGATE_TEST_PG_URL").unwrap();
    let admin = sqlx::PgPool::connect(&admin_url).await.unwrap();
    let app = format!("vgpool{}", std::process::id());
    let options = PgConnectOptions::from_str(&test.url()).unwrap().application_name(&app);
    let store = SqlStore::connect_postgres_with(options, 4).await.unwrap();
    for i in 0..20 {
        assert!(inserted(&store, 1_000 + i).await, "create {i} before any loss");
    }

    // Lost and used at once: the check before use finds every dead connection.
    assert!(terminate(&admin, &app).await > 0, "the pool's backends are visible");
    for i in 0..20 {
        assert!(inserted(&store, 2_000 + i).await, "create {i} just after the loss");
    }
    assert_eq!(tasks(&admin, &test.url()).await, 40);

    // Lost while idle, used a second later: the same.
    assert!(terminate(&admin, &app).await > 0);
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    for i in 0..20 {
        assert!(inserted(&store, 3_000 + i).await, "create {i} after a second idle");
    }
    assert_eq!(tasks(&admin, &test.url()).await, 60);
    store.close().await;
    admin.close().await;
}
