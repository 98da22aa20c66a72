//! Money and webhook deliveries are written by the store's Rust code alone
//! (`src/sql/ledger/`, `src/sql/webhooks.rs`): no trigger on either backend may write the
//! ledger, the balance rows (`key_balances`) or the delivery outbox. (The queue counters may stay triggers:
//! they only count.)

#![allow(clippy::unwrap_used)] // a test: a panic is how it reports failure

use sqlx::Row;
use vidgate_store::SqlStore;
use vidgate_store::postgres::testing::TestPgStore;
use vidgate_store::sqlite::Durability;

/// Tables only Rust code writes.
const RUST_ONLY: [&str; 3] = ["ledger", "key_balances", "webhook_deliveries"];

fn offending(triggers: &[(String, String)]) -> Vec<String> {
    triggers
        .iter()
        .filter(|(_, body)| {
            let body = body.to_lowercase();
            RUST_ONLY.iter().any(|t| body.contains(t))
        })
        .map(|(name, _)| name.clone())
        .collect()
}

#[tokio::test]
async fn no_sqlite_trigger_writes_money_or_deliveries() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vidgate.db");
    let store = SqlStore::open_sqlite(&path, Durability::Normal).await.unwrap();
    store.close().await;
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display())).await.unwrap();
    let rows = sqlx::query("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
        .fetch_all(&pool)
        .await
        .unwrap();
    let triggers: Vec<(String, String)> =
        rows.iter().map(|r| (r.get("name"), r.get("sql"))).collect();
    assert!(!triggers.is_empty(), "the queue counters are triggers: the query sees them");
    assert_eq!(offending(&triggers), Vec::<String>::new(), "{triggers:?}");
}

#[tokio::test]
async fn no_postgres_trigger_writes_money_or_deliveries() {
    let Some(test) = TestPgStore::create().await else { return };
    let pool = sqlx::PgPool::connect(&test.url()).await.unwrap();
    let rows = sqlx::query(
        "SELECT t.tgname::text AS name, p.prosrc AS body
           FROM pg_trigger t
           JOIN pg_proc p ON p.oid = t.tgfoid
           JOIN pg_class c ON c.oid = t.tgrelid
           JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE NOT t.tgisinternal AND n.nspname = current_schema()",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let triggers: Vec<(String, String)> =
        rows.iter().map(|r| (r.get("name"), r.get("body"))).collect();
    assert!(!triggers.is_empty(), "the queue counters are triggers: the query sees them");
    assert_eq!(offending(&triggers), Vec::<String>::new(), "{triggers:?}");
    pool.close().await;
}
