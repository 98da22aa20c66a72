//! The store, written once over the backend seam (`db`): every statement is one SQL text for
//! SQLite and PostgreSQL. Opening a database is backend-specific (`sqlite`, `postgres`), and
//! so is inserting on SQLite, which groups concurrent creates into one commit. Money is
//! written by `ledger` alone, called inside each transition's transaction.

mod accounts;
mod audit;
mod batch;
mod budget;
mod cancel;
mod catalog;
mod claims;
mod insert;
mod keys;
pub(crate) mod ledger;
mod media;
mod positions;
mod reap;
mod reconcile;
mod stats;
mod steps;
mod tasks;
mod webhooks;

pub(crate) use batch::{MultiRow, chunk_sizes};
pub(crate) use budget::Spend;
pub(crate) use insert::{ALL_QUEUED, KEY_QUEUED, claim_dedups, count, quote_json};
pub(crate) use ledger::key_spend;
pub(crate) use positions::position_of_t;

use async_trait::async_trait;

use crate::db::{Conn, Db};
use crate::{InsertOutcome, NewTask, Result, Store, StoreEvents};

/// Inserts made together rather than one transaction each (a backend that can: SQLite's
/// group commit, `sqlite/group_commit.rs`). Defined here so backends build on the shared SQL
/// and not the other way round.
#[async_trait]
pub(crate) trait GroupInsert: Send + Sync + std::fmt::Debug {
    async fn insert(&self, task: NewTask) -> Result<InsertOutcome>;
}

/// vidgate's store on SQLite or PostgreSQL.
#[derive(Debug, Clone)]
pub struct SqlStore {
    pub(crate) db: Db,
    /// SQLite: creates go through the group committer.
    pub(crate) committer: Option<std::sync::Arc<dyn GroupInsert>>,
    claims: claims::Claims,
    migrator: &'static sqlx::migrate::Migrator,
    /// Upstream slots one key's tasks may hold at once unless the key says otherwise
    /// (`accounting.max_running_per_key`; 0: no limit).
    max_running_per_key: i64,
}

impl SqlStore {
    pub(crate) fn new(
        db: Db,
        committer: Option<std::sync::Arc<dyn GroupInsert>>,
        migrator: &'static sqlx::migrate::Migrator,
    ) -> SqlStore {
        let claims = claims::Claims::for_backend(&db);
        SqlStore { db, committer, claims, migrator, max_running_per_key: 0 }
    }

    /// Limits every key to `n` upstream slots at once (0: no limit); a key's own
    /// `max_running` overrides it.
    pub fn with_max_running_per_key(mut self, n: i64) -> SqlStore {
        self.max_running_per_key = n.max(0);
        self
    }

    async fn insert(&self, task: NewTask) -> Result<InsertOutcome> {
        match &self.committer {
            Some(committer) => committer.insert(task).await,
            // PostgreSQL's path, boxed on its own: its transaction's future is large, and inline
            // it would make every create's future that large, SQLite's too (which go through
            // the committer above), copied in full each time the future is boxed.
            None => Box::pin(self.insert_one(task)).await,
        }
    }

    /// The faults tests plan for this store's statements (`FaultPlan`); shared with every
    /// part of the store, its SQLite committer included.
    pub fn fault_plan(&self) -> std::sync::Arc<crate::FaultPlan> {
        self.db.faults.clone()
    }

    pub async fn close(&self) {
        match &self.db.conn {
            Conn::Sqlite { writer, reader, .. } => {
                writer.close().await;
                reader.close().await;
            }
            Conn::Postgres { pool } => pool.close().await,
        }
    }
}

#[async_trait]
impl Store for SqlStore {
    fn backend(&self) -> crate::Backend {
        if self.db.is_postgres() { crate::Backend::Postgres } else { crate::Backend::Sqlite }
    }

    async fn schema_current(&self) -> Result<bool> {
        let rows = self.db.read(crate::db::sql(crate::migrations::APPLIED)).await?;
        let applied = rows.iter().map(|r| r.int("version")).collect::<Result<Vec<i64>>>()?;
        Ok(crate::migrations::current(self.migrator, &applied))
    }

    async fn events(&self) -> Result<Option<StoreEvents>> {
        crate::feed::events(&self.db).await.map(Some)
    }
}
