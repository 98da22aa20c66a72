//! A throwaway PostgreSQL store for tests: its own schema in the database named by
//! `VIDGATE_TEST_PG_URL`, dropped when the store is dropped.

use std::ops::Deref;
use std::str::FromStr;
use std::sync::Arc;

use sqlx::postgres::PgConnectOptions;

use crate::{SqlStore, Store};

/// The environment variable that names a PostgreSQL server for tests.
pub const TEST_URL_VAR: &str = "VIDGATE_TEST_PG_URL";

/// A test cannot run here because it lacks `what`. Outside CI it is skipped (and says so);
/// with `CI` set it fails instead: in CI a test that returns green without running is a
/// defect, since the project's scripts provide everything the tests need.
pub fn missing_prerequisite(what: &str) {
    let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty());
    if let Err(e) = when_missing(what, ci) {
        panic!("{e}");
    }
}

/// What a missing prerequisite means: under CI a failure (the message), elsewhere a skip
/// that says so.
pub fn when_missing(what: &str, ci: bool) -> Result<(), String> {
    if ci {
        return Err(format!("this test needs {what}, and CI is set: it must run, not be skipped"));
    }
    eprintln!("skipped: {what} is missing (set by .ci/run and scripts/postgres.sh)");
    Ok(())
}

/// The test PostgreSQL server's URL (`VIDGATE_TEST_PG_URL`); `None` when it is not set, which
/// fails the test under CI (`missing_prerequisite`).
pub fn test_url() -> Option<String> {
    let url = std::env::var(TEST_URL_VAR).ok().filter(|u| !u.is_empty());
    if url.is_none() {
        missing_prerequisite("a PostgreSQL server named by VIDGATE_TEST_PG_URL");
    }
    url
}

pub struct TestPgStore {
    store: Arc<SqlStore>,
    admin_url: String,
    schema: String,
    dropped: bool,
}

impl TestPgStore {
    /// `None` when `VIDGATE_TEST_PG_URL` is not set (a failure under CI: `test_url`).
    pub async fn create() -> Option<TestPgStore> {
        let admin_url = test_url()?;
        let schema = format!("vgt_{}", uuid_like());
        let admin =
            sqlx::PgPool::connect(&admin_url).await.expect("connect to the test PostgreSQL");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&admin)
            .await
            .expect("create schema");
        admin.close().await;
        let options = PgConnectOptions::from_str(&admin_url)
            .expect("a valid URL")
            .options([("search_path", schema.as_str())])
            .application_name(&schema);
        let store = SqlStore::connect_postgres_with(options, 8).await.expect("open the test store");
        // As vidgate opens PostgreSQL by default (`store.create_linger`), so the contract
        // holds with batches gathered the way production gathers them.
        let store = store.with_create_linger(std::time::Duration::from_micros(300));
        Some(TestPgStore { store: Arc::new(store), admin_url, schema, dropped: false })
    }

    pub fn store(&self) -> Arc<SqlStore> {
        self.store.clone()
    }

    /// A URL that opens this same schema (for another process). Its sessions are named by
    /// the schema (`application_name`), as the store's are, so a failed case can end them.
    pub fn url(&self) -> String {
        let sep = if self.admin_url.contains('?') { '&' } else { '?' };
        let schema = &self.schema;
        format!(
            "{}{sep}options=-c%20search_path%3D{schema}&application_name={schema}",
            self.admin_url
        )
    }
}

/// A schema name no other test takes: the time and the process tell runs apart, the counter
/// tests of one process (`cargo test` runs them on parallel threads, and two of them once
/// read the same clock value and collided on `CREATE SCHEMA`).
fn uuid_like() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{:x}_{:x}_{n}", nanos, std::process::id())
}

impl Deref for TestPgStore {
    type Target = dyn Store;
    fn deref(&self) -> &(dyn Store + 'static) {
        self.store.as_ref()
    }
}

async fn drop_schema(url: &str, schema: &str) {
    if let Ok(admin) = sqlx::PgPool::connect(url).await {
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
            .execute(&admin)
            .await;
        admin.close().await;
    }
}

impl crate::contract::Teardown for TestPgStore {
    async fn teardown(mut self) {
        self.store.close().await;
        drop_schema(&self.admin_url, &self.schema).await;
        self.dropped = true;
    }
}

impl Drop for TestPgStore {
    /// A case that panicked never reached `teardown`: drop the schema anyway.
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        let (url, schema) = (self.admin_url.clone(), self.schema.clone());
        // Drop runs inside the test's runtime, which cannot be blocked on; use a private one
        // with its own connection (the store's pool lives on the test's runtime).
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                if let Ok(admin) = sqlx::PgPool::connect(&url).await {
                    // A case that failed while its sessions held locks (a test that plays
                    // another writer by hand in an open transaction) leaves them open, their
                    // clients gone with its runtime: end them, or the drop waits for ever.
                    let _ = sqlx::query(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                          WHERE application_name = $1 AND pid <> pg_backend_pid()",
                    )
                    .bind(&schema)
                    .execute(&admin)
                    .await;
                    let _ =
                        sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                            .execute(&admin)
                            .await;
                    admin.close().await;
                }
            });
        })
        .join();
    }
}
