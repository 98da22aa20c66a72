//! Migration 0013 (`key_spend` → `key_balances`) during a rolling deploy: replicas of the
//! previous build still write `key_spend` while it runs, and none of their spending may be
//! lost (a lost write is credits spent that the new balance rows never count). Its first
//! statement locks `key_spend` against writes, so the copy waits for a write in progress and
//! counts it, and a write begun after it fails instead of committing into a table about to be
//! dropped. Without that lock the copy ran beside the write in progress and the `DROP` waited
//! for its commit: the write committed and was lost. The schema is built by running the
//! migration files up to 0012 as they are, then 0013 in a transaction as `sqlx` runs it.
//! Skipped without `VIDGATE_TEST_PG_URL` (a failure under CI).

#![allow(clippy::unwrap_used)] // a test: a panic is how it reports failure

use std::path::{Path, PathBuf};
use std::str::FromStr;

use sqlx::Row;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use vidgate_store::postgres::lock_waits::{backend_pid, blocked_by, waits_for_a_lock};
use vidgate_store::postgres::testing::test_url;

/// The PostgreSQL migration files, in order.
fn migrations() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/postgres");
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files
}

/// The file of migration `version`.
fn migration(version: u32) -> String {
    let prefix = format!("{version:04}_");
    let file = migrations()
        .into_iter()
        .find(|f| f.file_name().unwrap().to_string_lossy().starts_with(&prefix))
        .unwrap();
    std::fs::read_to_string(file).unwrap()
}

/// An old replica's change to a key's spend counters (0007's `vidgate_key_spend`, by hand):
/// `amount` micros on the key's all-time, day and month counters, on `shard`.
async fn spend(conn: &mut sqlx::PgConnection, shard: i32, amount: i64) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO key_spend (key_id, period, shard, spent)
         SELECT 'k', p, $1, $2 FROM unnest(ARRAY['all', '2026-12-07', '2026-12']) AS p
         ON CONFLICT (key_id, period, shard) DO UPDATE SET spent = key_spend.spent + $2",
    )
    .bind(shard)
    .bind(amount)
    .execute(conn)
    .await
    .map(|_| ())
}

#[tokio::test]
async fn a_spend_written_by_an_old_replica_during_migration_0013_is_counted_or_refused() {
    let Some(url) = test_url() else { return };
    let admin = sqlx::PgPool::connect(&url).await.unwrap();
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    let schema = format!("vgm_{:x}_{:x}", nanos.as_nanos(), std::process::id());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&admin)
        .await
        .unwrap();
    let options = PgConnectOptions::from_str(&url)
        .unwrap()
        .options([("search_path", schema.as_str())])
        .application_name(&schema);
    let pool = PgPoolOptions::new().max_connections(8).connect_with(options).await.unwrap();

    // The schema as the previous build left it, with a key that topped up 10 credits and
    // spent 2.
    for version in 1..=12 {
        sqlx::raw_sql(sqlx::AssertSqlSafe(migration(version))).execute(&pool).await.unwrap();
    }
    sqlx::query(
        "INSERT INTO api_keys (id, name, key_hash, prefix, created_at, prepaid)
         VALUES ('k', 'k', 'hash-k', 'vg_x', 0, TRUE)",
    )
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO key_spend (key_id, period, shard, spent) VALUES ('k', 'topups', 0, 10000000)",
    )
    .execute(&pool)
    .await
    .unwrap();
    let mut conn = pool.acquire().await.unwrap();
    spend(&mut conn, 0, 2_000_000).await.unwrap();
    drop(conn);

    // An old replica's create in progress: it has spent 3 more, not yet committed.
    let mut old = pool.begin().await.unwrap();
    spend(&mut old, 1, 3_000_000).await.unwrap();
    let old_pid = backend_pid(&mut old).await;

    // The new build's migration, in its transaction (as `sqlx` runs each migration).
    let migrate = tokio::spawn({
        let pool = pool.clone();
        async move {
            let mut tx = pool.begin().await?;
            let pid: i32 = sqlx::query("SELECT pg_backend_pid()").fetch_one(&mut *tx).await?.get(0);
            sqlx::raw_sql(sqlx::AssertSqlSafe(migration(13))).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok::<i32, sqlx::Error>(pid)
        }
    });
    blocked_by(&pool, old_pid, "", "the migration").await;

    // Another old replica's create, begun while the migration runs: it waits for the
    // migration (which itself waits for the write in progress).
    let mut late = pool.begin().await.unwrap();
    let late_pid = backend_pid(&mut late).await;
    let late = tokio::spawn(async move {
        spend(&mut late, 2, 4_000_000).await?;
        late.commit().await
    });
    waits_for_a_lock(&pool, late_pid, "a write begun during the migration").await;

    old.commit().await.unwrap();
    migrate.await.unwrap().expect("migration 0013 ran");
    let late = late.await.unwrap();
    assert!(late.is_err(), "a write begun during the migration committed into a dropped table");

    let row = sqlx::query(
        "SELECT topups, spent, day, day_spent, month, month_spent FROM key_balances
          WHERE key_id = 'k'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let (topups, spent): (i64, i64) = (row.get(0), row.get(1));
    assert_eq!(topups, 10_000_000);
    assert_eq!(
        spent, 5_000_000,
        "the write in progress when the migration began (3 credits) is counted"
    );
    assert_eq!(row.get::<String, _>(2), "2026-12-07");
    assert_eq!(row.get::<i64, _>(3), 5_000_000);
    assert_eq!(row.get::<String, _>(4), "2026-12");
    assert_eq!(row.get::<i64, _>(5), 5_000_000);

    pool.close().await;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&admin)
        .await
        .unwrap();
}
