//! The store, written once over the backend seam (`db`): every statement is one SQL text for
//! SQLite and PostgreSQL. Opening a database is backend-specific (`sqlite`, `postgres`).
//! Creates go through one group committer per process (`group_commit`), which runs
//! concurrent creates in one transaction. Money is written by `ledger` alone, called inside
//! each transition's transaction.

mod accounts;
mod audit;
mod autocommit_batch;
mod batch;
mod budget;
mod cancel;
mod catalog;
mod claims;
mod commit_metrics;
mod group_commit;
mod insert;
mod keys;
pub(crate) mod ledger;
mod linger;
mod media;
mod positions;
mod reap;
mod reconcile;
mod replicas;
mod stats;
mod steps;
mod task_rows;
mod tasks;
mod webhooks;

pub(crate) use batch::{MultiRow, chunk_sizes};
pub use commit_metrics::BATCH_SIZE as CREATE_BATCH_SIZE_METRIC;
pub use commit_metrics::LOCK_CONFLICTS as CREATE_BATCH_LOCK_CONFLICTS_METRIC;
pub(crate) use insert::{ALL_QUEUED, KEY_QUEUED};
pub(crate) use positions::position_of_t;

use async_trait::async_trait;

use crate::db::{Conn, Db};
use crate::{InsertOutcome, NewTask, Result, Store, StoreEvents};

/// vidgate's store on SQLite or PostgreSQL.
#[derive(Debug, Clone)]
pub struct SqlStore {
    pub(crate) db: Db,
    /// Creates go through the group committer.
    committer: group_commit::Committer,
    claims: claims::Claims,
    migrator: &'static sqlx::migrate::Migrator,
    /// Upstream slots one key's tasks may hold at once unless the key says otherwise
    /// (`accounting.max_running_per_key`; 0: no limit).
    max_running_per_key: i64,
}

impl SqlStore {
    /// The store over `db`; starts its group committer on the current runtime.
    pub(crate) fn new(db: Db, migrator: &'static sqlx::migrate::Migrator) -> SqlStore {
        let claims = claims::Claims::for_backend(&db);
        let committer = group_commit::Committer::start(db.clone());
        SqlStore { db, committer, claims, migrator, max_running_per_key: 0 }
    }

    /// Limits every key to `n` upstream slots at once (0: no limit); a key's own
    /// `max_running` overrides it.
    pub fn with_max_running_per_key(mut self, n: i64) -> SqlStore {
        self.max_running_per_key = n.max(0);
        self
    }

    /// Lets each batch of creates wait, under load, for creates that keep arriving within
    /// `gap` of each other (`store.create_linger`; `linger.rs` has the bounds); zero, the
    /// default, takes only what is waiting. Meant for PostgreSQL, whose batches cost a fixed
    /// millisecond or so each; SQLite's do not, and made fewer creates with it.
    pub fn with_create_linger(self, gap: std::time::Duration) -> SqlStore {
        self.committer.set_linger(gap);
        self
    }

    /// The gap set by `with_create_linger`.
    pub fn create_linger(&self) -> std::time::Duration {
        self.committer.linger()
    }

    async fn insert(&self, task: NewTask) -> Result<InsertOutcome> {
        self.committer.insert(task).await
    }

    /// How many batches of creates found their keys' budgets spent by another replica
    /// between their read and their commit, and ran again with the rows locked (PostgreSQL).
    pub fn batches_rerun_locked(&self) -> u64 {
        self.committer.reruns()
    }

    /// How many batches of creates were answered without a transaction (PostgreSQL,
    /// `autocommit_batch.rs`: one autocommit statement after one read, or only the read when
    /// it refused them all); the others took one.
    pub fn batches_in_one_statement(&self) -> u64 {
        self.committer.one_statement()
    }

    /// How many transactions of batches of creates PostgreSQL failed to break a deadlock (or
    /// a serialization conflict), each then run again (`group_commit.rs`).
    pub fn batch_lock_conflicts(&self) -> u64 {
        self.committer.lock_conflicts()
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
