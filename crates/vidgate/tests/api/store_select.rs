//! The store the configuration opens: on PostgreSQL its create committer lingers for the gap
//! `store.create_linger` names (`store/src/sql/linger.rs`); SQLite's never does, whatever the
//! setting says (its batches made fewer creates with it: README, "Several replicas on
//! PostgreSQL").

use std::time::Duration;

use vidgate::store_select::open_sql_store;

use crate::helpers::test_config;

#[tokio::test]
async fn a_postgresql_store_lingers_as_configured_and_a_sqlite_store_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = test_config(dir.path());
    assert_eq!(c.store.create_linger, Duration::from_micros(300), "the default");
    let sqlite = open_sql_store(&c).await.unwrap();
    assert_eq!(sqlite.create_linger(), Duration::ZERO);
    sqlite.close().await;

    let Some(admin) = vidgate_store::postgres::testing::test_url() else { return };
    let (db_url, _) = crate::replicas::fresh_database(&admin).await;
    c.store.database_url = vidgate::config::Secret::new(db_url);
    for gap in [Duration::from_micros(300), Duration::from_millis(1), Duration::ZERO] {
        c.store.create_linger = gap;
        let pg = open_sql_store(&c).await.unwrap();
        assert_eq!(pg.create_linger(), gap);
        pg.close().await;
    }
}
