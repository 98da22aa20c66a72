//! Opening the embedded default backend: one SQLite file in WAL mode. Writes go through a
//! pool of one connection (SQLite has one writer anyway; queueing in-process beats spinning on
//! SQLITE_BUSY), reads through a separate pool so status polls never wait behind a write.
//! Change events stay in this process (a SQLite file belongs to one server). Creates are
//! grouped into one commit each (`sql/group_commit.rs`).

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use tokio::sync::broadcast;

use crate::db::{Conn, Db, fresh_after_failure};
use crate::{Result, SqlStore};

/// How hard a commit is pushed to disk (`store.sqlite_durability`: `"full"` or `"normal"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    /// fsync on every commit: a 200 survives power loss.
    #[default]
    Full,
    /// fsync at checkpoints: a 200 survives a process crash (kill -9), not a power cut.
    Normal,
}

/// Events buffered for a slow subscriber before it is told it missed some.
const FEED_CAPACITY: usize = 4096;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

impl SqlStore {
    /// Opens (creating if needed) the SQLite database file at `path` and applies migrations.
    pub async fn open_sqlite(path: &Path, durability: Durability) -> Result<SqlStore> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(sqlx::Error::Io)?;
        }
        open(SqliteConnectOptions::new().filename(path), durability).await
    }

    /// Opens a `sqlite:` URL (as given in `DATABASE_URL`).
    pub async fn connect_sqlite(url: &str, durability: Durability) -> Result<SqlStore> {
        let options = SqliteConnectOptions::from_str(url)?;
        if let Some(dir) = options.get_filename().parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(sqlx::Error::Io)?;
        }
        open(options, durability).await
    }
}

async fn open(options: SqliteConnectOptions, durability: Durability) -> Result<SqlStore> {
    let options = options
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(match durability {
            Durability::Full => SqliteSynchronous::Full,
            Durability::Normal => SqliteSynchronous::Normal,
        })
        // Other processes (`vidgate keys create` beside a running server) may hold the write
        // lock for a moment.
        .busy_timeout(Duration::from_secs(10))
        .pragma("temp_store", "memory");
    // No ping before each acquire (sqlx's default): a SQLite connection is a file handle in
    // this process and cannot go stale the way a network connection can, and the ping was one
    // more round trip to the connection's thread for every transaction.
    let writer = SqlitePoolOptions::new()
        .max_connections(1)
        .min_connections(1)
        .test_before_acquire(false)
        .after_release(|conn, _| Box::pin(async move { Ok(fresh_after_failure(conn)) }))
        .connect_with(options.clone())
        .await?;
    MIGRATOR.run(&writer).await?;
    let reader = SqlitePoolOptions::new()
        .max_connections(8)
        .test_before_acquire(false)
        .connect_with(options.read_only(true))
        .await?;
    let (feed, _) = broadcast::channel(FEED_CAPACITY);
    let db = Db::new(Conn::Sqlite { writer, reader, feed });
    Ok(SqlStore::new(db, &MIGRATOR))
}
