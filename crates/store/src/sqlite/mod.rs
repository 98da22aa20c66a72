//! The embedded default backend: one SQLite file in WAL mode. Writes go through a pool of one
//! connection (SQLite has one writer anyway; queueing in-process beats spinning on
//! SQLITE_BUSY), reads through a separate pool so status polls never wait behind a write.

mod insert;
mod keys;
mod stats;
mod tasks;
mod webhooks;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::{Result, Store};

/// Whether a connection may go back to the pool: not while it still counts a transaction. A
/// `COMMIT` that fails on a full disk makes SQLite roll the transaction back by itself, and
/// the driver's own rollback then fails, leaving it believing a transaction is open: every
/// later `BEGIN` on that connection would fail. Such a connection is closed instead, and the
/// pool opens a fresh one.
pub(crate) fn fresh_after_failure(conn: &mut impl sqlx::Connection) -> bool {
    !conn.is_in_transaction()
}

/// How hard a commit is pushed to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// fsync on every commit: a 200 survives power loss.
    #[default]
    Full,
    /// fsync at checkpoints: a 200 survives a process crash (kill -9), not a power cut.
    Normal,
}

#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    /// Creates go through it (group commit).
    committer: insert::Committer,
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path` and applies migrations.
    pub async fn open(path: &Path, durability: Durability) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(sqlx::Error::Io)?;
        }
        let options = SqliteConnectOptions::new().filename(path);
        Self::with_options(options, durability).await
    }

    /// Opens a `sqlite:` URL (as given in `DATABASE_URL`).
    pub async fn connect(url: &str, durability: Durability) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(url)?;
        if let Some(dir) = options.get_filename().parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(sqlx::Error::Io)?;
        }
        Self::with_options(options, durability).await
    }

    async fn with_options(options: SqliteConnectOptions, durability: Durability) -> Result<Self> {
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(match durability {
                Durability::Full => SqliteSynchronous::Full,
                Durability::Normal => SqliteSynchronous::Normal,
            })
            // Other processes (`vidgate keys create` beside a running server) may hold the
            // write lock for a moment.
            .busy_timeout(Duration::from_secs(10))
            .pragma("temp_store", "memory");
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .after_release(|conn, _| Box::pin(async move { Ok(fresh_after_failure(conn)) }))
            .connect_with(options.clone())
            .await?;
        MIGRATOR.run(&writer).await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options.read_only(true))
            .await?;
        let committer = insert::Committer::start(writer.clone());
        Ok(SqliteStore { writer, reader, committer })
    }

    pub async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn schema_current(&self) -> Result<bool> {
        let applied: Vec<i64> =
            sqlx::query_scalar(crate::migrations::APPLIED).fetch_all(&self.reader).await?;
        Ok(crate::migrations::current(&MIGRATOR, &applied))
    }
}
