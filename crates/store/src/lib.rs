//! vidgate's durable state. `TaskStore` and `KeyStore` are the contract every backend keeps;
//! `sqlite` is the embedded default; `contract` is one behavioural suite any backend must pass
//! (PostgreSQL runs the same suite). Time is always passed in by the caller (`now`), so the
//! store never reads a clock and tests control time completely. What only tests need (the
//! contract suite, a throwaway PostgreSQL schema) is compiled only with the `testing`
//! feature; faults are planned at the database seam (`FaultPlan`).

mod accounts;
mod audit;
mod catalog;
pub mod changes;
mod claimed;
#[cfg(feature = "testing")]
#[allow(clippy::unwrap_used)] // a test suite: a failed step is a failed test
pub mod contract;
mod db;
mod error;
mod events;
mod fault_plan;
mod feed;
mod keys;
mod media;
mod migrations;
mod model;
mod phase;
pub mod postgres;
mod reap_sql;
mod replicas;
mod result_column;
mod rows;
mod sql;
pub mod sqlite;
mod states;
mod tasks;
mod webhooks;

pub use accounts::{
    AccountStore, Balance, BookRow, GroupBy, LedgerEntry, MoneyTotals, TopUp, UsageQuery, UsageRow,
};
pub use audit::{AuditEntry, AuditStore, NewAudit};
pub use catalog::{CatalogEntry, CatalogStore};
pub use changes::{Changes, TaskChange};
pub use claimed::{Claimed, FollowClaim, PollClaim, SubmitClaim};
pub use error::StoreError;
pub use events::{StoreEvent, StoreEvents};
pub use fault_plan::{Fault, FaultPlan};
pub use keys::{
    BOOTSTRAP_ID_PREFIX, KeyBudget, KeyLimits, KeyRecord, KeyRole, KeyStore, NewKey, WebhookSecrets,
};
pub use media::{MediaCatalog, MediaObject, MediaTotals};
pub use model::{
    BudgetRefusal, CancelOutcome, Charge, Completion, DedupClaim, FollowEnd, IdempotencyClaim,
    InsertOutcome, Lease, LimitScope, LogEntry, LogLevel, NewTask, QueueLimits, ReapLimits,
    ReapReport, Slot, TaskRecord,
};
pub use phase::{End, Ended, Follow, Held, Phase, UpstreamJob};
pub use replicas::ReplicaStore;
pub use sql::{CREATE_BATCH_LOCK_CONFLICTS_METRIC, CREATE_BATCH_SIZE_METRIC, SqlStore};
pub use tasks::{ListQuery, QueueStats, TaskStore};
pub use webhooks::{Attempt, AttemptResult, Delivery, DeliveryState, WebhookStore};

/// Which database a store keeps its state in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// One file, one server: the embedded default.
    Sqlite,
    /// Shared by every replica.
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything a vidgate process needs from its database.
#[async_trait::async_trait]
pub trait Store:
    TaskStore
    + KeyStore
    + WebhookStore
    + AccountStore
    + AuditStore
    + MediaCatalog
    + CatalogStore
    + ReplicaStore
{
    /// Which database this is (logs and `/readyz` print its name).
    fn backend(&self) -> Backend;

    /// Whether the database answers and has every migration this binary knows applied
    /// (`/readyz`): a replica of an older binary sharing the database must not look ready
    /// after a newer one migrated it, nor a new one before the migration ran.
    async fn schema_current(&self) -> Result<bool>;

    /// Every committed change, as it commits, from every process sharing the store (this one
    /// included). `None`: this store has no change feed.
    async fn events(&self) -> Result<Option<StoreEvents>> {
        Ok(None)
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;
