//! The records a store reads and writes, and the outcomes of its compound operations.

use serde::Serialize;

use vidgate_domain::pricing::{Cost, Credits, Quote};
use vidgate_domain::{
    ErrorType, KeyId, Millis, Pool, RequestId, StoredResult, TaskState, Usage, VideoRequest,
};

use crate::phase::{End, Held, Phase};

/// A per-key dedup claim on the caller's `session_id` (refused while it lives).
#[derive(Debug, Clone, PartialEq)]
pub struct DedupClaim {
    pub value: String,
    pub expires_at: Millis,
}

/// A per-key `Idempotency-Key` claim: the same body gets the original task back.
#[derive(Debug, Clone, PartialEq)]
pub struct IdempotencyClaim {
    pub key: String,
    pub body_hash: String,
    pub expires_at: Millis,
}

#[derive(Debug, Clone)]
pub struct NewTask {
    pub id: RequestId,
    pub key_id: KeyId,
    /// Which upstream pool's queue the task waits in (`sandbox`, `tencent`).
    pub pool: Pool,
    /// Dispatch order: higher first (see `vidgate_domain::priority::rank`).
    pub rank: i64,
    pub request: VideoRequest,
    pub created_at: Millis,
    pub deadline_at: Millis,
    pub session: Option<DedupClaim>,
    pub idempotency: Option<IdempotencyClaim>,
    /// Where the completion is sent (fal's `fal_webhook` / the body's `webhook_url`).
    pub webhook_url: Option<String>,
    /// The base URL the request was made on (absolute media URLs in webhooks).
    pub public_base: Option<String>,
    /// Queue limits checked in the insert's transaction.
    pub limits: QueueLimits,
    /// The price quoted at create: its amount is held against the key's budget in the
    /// insert's transaction. `None`: the request has no price (a key with a budget is refused).
    pub quote: Option<Quote>,
}

impl NewTask {
    /// The task as its insert stores it, given the `seq` the database assigned: queued, with
    /// nothing claimed, polled or finished yet. Creates build their answer from this rather
    /// than reading the whole row back (`RETURNING` every column is a large part of an
    /// insert); the store contract checks it equals the row as read.
    pub fn record(&self, seq: i64) -> TaskRecord {
        TaskRecord {
            seq,
            id: self.id,
            key_id: self.key_id.clone(),
            pool: self.pool,
            rank: self.rank,
            request: self.request.clone(),
            created_at: self.created_at,
            updated_at: self.created_at,
            run_after: self.created_at,
            deadline_at: self.deadline_at,
            dispatched_at: None,
            fence: 0,
            submit_attempts: 0,
            account: None,
            progress: 0,
            cancel_requested: false,
            webhook_url: self.webhook_url.clone(),
            public_base: self.public_base.clone(),
            quote: self.quote.clone(),
            charge: None,
            forgotten_at: None,
            phase: Phase::Queued,
        }
    }
}

/// How full the queue may be for an insert to be accepted (`None`: no limit).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueLimits {
    /// Queued tasks of this task's key.
    pub per_key: Option<i64>,
    /// Queued tasks of every key, every pool.
    pub total: Option<i64>,
}

/// Which queue limit refused an insert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitScope {
    Key,
    Total,
}

#[derive(Debug, Clone)]
pub enum InsertOutcome {
    /// Committed: the caller may answer 200. `position`: its queue position, when the insert
    /// read it in its own transaction (SQLite's group commit does, for the whole batch in one
    /// statement); `None`: ask `queue_position`.
    Inserted { task: TaskRecord, position: Option<i64> },
    /// Same `Idempotency-Key`, same body: the original task, nothing inserted.
    Replayed(TaskRecord),
    /// Same `Idempotency-Key`, different body.
    IdempotencyMismatch { task_id: String },
    /// The `session_id` is still claimed by another of this key's tasks.
    SessionConflict { task_id: String },
    /// The key (or the whole queue) already has `limit` tasks queued; nothing inserted.
    QueueFull { scope: LimitScope, limit: i64 },
    /// The key's budget cannot cover the quote; nothing inserted.
    BudgetExceeded(BudgetRefusal),
}

/// Which part of a key's budget refused a create, with the figures it was checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BudgetRefusal {
    /// The prepaid balance is below the quote.
    Balance {
        balance: Credits,
        needed: Credits,
    },
    /// The day's or month's spend plus the quote would pass the limit.
    DayLimit {
        limit: Credits,
        spent: Credits,
        needed: Credits,
    },
    MonthLimit {
        limit: Credits,
        spent: Credits,
        needed: Credits,
    },
    /// The key has a budget and the request has no price.
    Unpriced,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TaskRecord {
    /// Arrival order, unique; breaks ties between equal ranks.
    pub seq: i64,
    pub id: RequestId,
    pub key_id: KeyId,
    pub pool: Pool,
    pub rank: i64,
    pub request: VideoRequest,
    pub created_at: Millis,
    pub updated_at: Millis,
    /// Not claimable before this (retry backoff).
    pub run_after: Millis,
    pub deadline_at: Millis,
    /// First left the queue.
    pub dispatched_at: Option<Millis>,
    /// Bumped by every claim and reclaim; a worker's writes must carry the fence it claimed.
    pub fence: i64,
    pub submit_attempts: i64,
    /// The upstream account its attempts go to, from its first claim on (a retry after an
    /// attempt whose answer was lost goes to the same one, where that attempt's job would be).
    pub account: Option<String>,
    pub progress: i64,
    pub cancel_requested: bool,
    pub webhook_url: Option<String>,
    pub public_base: Option<String>,
    /// The quote held at create (`None`: unpriced).
    pub quote: Option<Quote>,
    /// What it used and was charged (set when it succeeded, or when the upstream finished a
    /// job its owner's request had already ended for).
    pub charge: Option<Charge>,
    /// Its owner deleted it (`DELETE /v1/videos/{id}`): gone for its key, still followed and
    /// charged if the upstream has its job.
    pub forgotten_at: Option<Millis>,
    /// Where it is in its life, with what only that phase has.
    pub phase: Phase,
}

impl TaskRecord {
    pub fn state(&self) -> TaskState {
        self.phase.state()
    }

    /// The upstream's id for its job, once known.
    pub fn upstream_task_id(&self) -> Option<&str> {
        self.phase.job().map(|j| j.upstream_task_id.as_str())
    }

    pub fn finished_at(&self) -> Option<Millis> {
        self.phase.ended().map(|e| e.finished_at)
    }

    /// What it produced, once it succeeded.
    pub fn result(&self) -> Option<&StoredResult> {
        match &self.phase.ended()?.end {
            End::Succeeded(result) => Some(result),
            _ => None,
        }
    }

    /// The message of a failure or cancel.
    pub fn error(&self) -> Option<&str> {
        self.failure().map(|(error, _)| error)
    }

    /// The `error_type` of a failure or cancel.
    pub fn error_type(&self) -> Option<&ErrorType> {
        self.failure().map(|(_, error_type)| error_type)
    }

    /// When it is polled next (running), or its detached job asked about next (followed).
    pub fn next_poll_at(&self) -> Option<Millis> {
        self.phase.next_poll_at()
    }

    /// The worker holding it, if one does.
    pub fn lease_holder(&self) -> Option<&Held> {
        self.phase.lease()
    }

    /// Why it failed or was cancelled: the message and its `error_type`.
    pub fn failure(&self) -> Option<(&str, &ErrorType)> {
        self.phase.ended()?.end.failure()
    }

    /// Its owner's request ended (a deadline, a crashing step, an unanswerable upstream) while
    /// the upstream may still have its job: followed until then, holding its upstream slot and
    /// its hold (see `Completion::Detached`).
    pub fn following_until(&self) -> Option<Millis> {
        self.phase.ended()?.follow.as_ref().map(|f| f.until)
    }
}

/// Proof of a claim. Writes made with a stale lease (the task was reclaimed since) change
/// nothing and report `false`. Only a claim hands one out (`Claimed::lease`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    pub(crate) id: RequestId,
    pub(crate) fence: i64,
}

impl Lease {
    pub fn id(&self) -> RequestId {
        self.id
    }
}

/// An upstream account's capacity, as the dispatcher sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    pub account: String,
    /// Most tasks that may hold this account's slots at once.
    pub limit: i64,
}

/// How a task ends for its owner, and what that does to its hold (written in the same
/// transaction).
#[derive(Debug, Clone, PartialEq)]
pub enum Completion {
    /// The upstream made it: settled at `charge`'s cost (never above the hold).
    Succeeded { result: Box<StoredResult>, charge: Charge },
    /// It never reached the upstream, or the upstream failed it: released.
    Failed { error: String, error_type: ErrorType },
    /// Cancelled before it reached the upstream: released.
    Cancelled,
    /// It fails for its owner now, but the upstream may have its job (a deadline passed while
    /// the upstream had it, an earlier attempt's answer was lost, a status call keeps being
    /// refused): vidgate follows the job until `follow_until`, keeping its upstream slot and
    /// its hold, and settles it on what the upstream reports (`TaskStore::end_reconcile`), or
    /// at the hold if nothing is learnt by then.
    Detached { error: String, error_type: ErrorType, follow_until: Millis },
}

impl Completion {
    /// Its name in metrics and logs: `succeeded`, `failed`, `cancelled`, `detached`.
    pub fn outcome(&self) -> &'static str {
        match self {
            Completion::Succeeded { .. } => "succeeded",
            Completion::Failed { .. } => "failed",
            Completion::Cancelled => "cancelled",
            Completion::Detached { .. } => "detached",
        }
    }

    /// Why it failed, when it did.
    pub fn error_type(&self) -> Option<&ErrorType> {
        match self {
            Completion::Failed { error_type, .. } | Completion::Detached { error_type, .. } => {
                Some(error_type)
            }
            Completion::Succeeded { .. } | Completion::Cancelled => None,
        }
    }
}

/// How following a detached job ends.
#[derive(Debug, Clone, PartialEq)]
pub enum FollowEnd {
    /// The upstream finished the job: settled at what it reports (never above the hold).
    Succeeded(Charge),
    /// The upstream failed the job, or has none for the request: released.
    NoJob,
}

/// A success's usage and cost.
#[derive(Debug, Clone, PartialEq, Default, Serialize, serde::Deserialize)]
pub struct Charge {
    pub usage: Option<Usage>,
    /// `None`: unpriced (a held quote, if any, is then charged in full).
    pub cost: Option<Cost>,
}

impl Completion {
    pub fn state(&self) -> TaskState {
        match self {
            Completion::Succeeded { .. } => TaskState::Succeeded,
            Completion::Failed { .. } | Completion::Detached { .. } => TaskState::Failed,
            Completion::Cancelled => TaskState::Cancelled,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CancelOutcome {
    /// It was queued: now cancelled, it will never be dispatched.
    Cancelled,
    /// It may be with the upstream, which has no cancel call: flagged and logged. A job the
    /// upstream has runs to its end (delivered and charged if it succeeds); one that an
    /// earlier attempt may or may not have created is looked up before it is cancelled.
    Requested,
    AlreadyCompleted,
    NotFound,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum LogLevel {
    Info,
    Warn,
    Error,
}

impl LogLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Info => "INFO",
            LogLevel::Warn => "WARN",
            LogLevel::Error => "ERROR",
        }
    }

    pub fn parse(s: &str) -> LogLevel {
        match s {
            "WARN" => LogLevel::Warn,
            "ERROR" => LogLevel::Error,
            _ => LogLevel::Info,
        }
    }
}

/// One line of a task's history, as `?logs=1` returns it.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry {
    pub at: Millis,
    pub level: LogLevel,
    pub message: String,
}

impl LogEntry {
    pub fn info(at: Millis, message: impl Into<String>) -> Self {
        LogEntry { at, level: LogLevel::Info, message: message.into() }
    }

    pub fn warn(at: Millis, message: impl Into<String>) -> Self {
        LogEntry { at, level: LogLevel::Warn, message: message.into() }
    }

    pub fn error(at: Millis, message: impl Into<String>) -> Self {
        LogEntry { at, level: LogLevel::Error, message: message.into() }
    }
}

/// What one reaper pass changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReapReport {
    /// Submitting tasks whose lease expired, put back in the queue.
    pub requeued: u64,
    /// Running tasks whose poll lease expired, made pollable again.
    pub released: u64,
    /// Tasks past their deadline, failed with `timeout`.
    pub timed_out: u64,
    /// Followed jobs whose window closed with their end unknown, settled at their hold.
    pub settled_at_hold: u64,
    /// Expired dedup claims removed.
    pub purged_claims: u64,
    /// Tasks whose step crashed its worker too often, failed with `worker_crashed`.
    pub crashed: u64,
    /// A batch was full: there may be more to sweep at once.
    pub more: bool,
}

/// How much one reaper pass may change, and when a crashing step is given up on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReapLimits {
    /// Rows each statement of a pass changes at most.
    pub batch: i64,
    /// A task whose lease runs out this many times in a row (without a finished step in
    /// between) fails instead of being tried again.
    pub max_step_attempts: i64,
    /// How long (ms) the job of a request that ended for its owner while the upstream had it
    /// is still followed (`Completion::Detached`); at the end it is settled at its hold.
    pub reconcile_for: Millis,
}

impl Default for ReapLimits {
    fn default() -> Self {
        ReapLimits { batch: 500, max_step_attempts: 5, reconcile_for: 24 * 3_600_000 }
    }
}

impl ReapReport {
    pub fn is_empty(&self) -> bool {
        *self == ReapReport::default()
    }
}
