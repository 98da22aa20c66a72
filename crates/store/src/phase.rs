//! Where a task is in its life, holding what only that phase has: a claim's lease while a
//! worker holds one, the upstream job once the upstream took it, the end and its reason once
//! it is over, and the follow window of a job its request ended for. A row is read into a
//! phase (`rows.rs` refuses one whose columns contradict its state), so a task "running
//! without an upstream id" or "failed without a reason" cannot be represented.

use vidgate_domain::{ErrorType, Millis, StoredResult, TaskState};

/// The error a cancelled request ends with.
pub(crate) const CANCELLED_MESSAGE: &str = "request cancelled by the caller";

/// Where a task is.
#[derive(Debug, Clone, PartialEq)]
pub enum Phase {
    /// Waiting for a slot (claimable from the task's `run_after`).
    Queued,
    /// A dispatcher claimed it and is handing it to the upstream.
    Submitting { lease: Held },
    /// The upstream has it; it is polled from `next_poll_at`, by whoever holds `lease`.
    Running { job: UpstreamJob, next_poll_at: Millis, lease: Option<Held> },
    /// Over for its owner.
    Ended(Box<Ended>),
}

/// A worker's hold on a task: whose, until when (a later claim may take it after).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub owner: String,
    pub until: Millis,
}

/// The upstream's job for a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamJob {
    pub upstream_task_id: String,
    /// When the upstream accepted it (or a lookup found it).
    pub submitted_at: Millis,
}

/// A task that is over for its owner.
#[derive(Debug, Clone, PartialEq)]
pub struct Ended {
    pub finished_at: Millis,
    pub end: End,
    /// The upstream job it had, if one is known.
    pub job: Option<UpstreamJob>,
    /// Its request ended while the upstream may still run its job: followed until then.
    pub follow: Option<Follow>,
}

/// How a task ended.
#[derive(Debug, Clone, PartialEq)]
pub enum End {
    Succeeded(Box<StoredResult>),
    Failed { error: String, error_type: ErrorType },
    Cancelled { error: String, error_type: ErrorType },
}

/// The follow window of a detached job (`Completion::Detached`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Follow {
    /// The reaper settles it at its hold once this passes with nothing learnt.
    pub until: Millis,
    /// When the upstream is asked about it next.
    pub next_poll_at: Millis,
    /// A follower's claim.
    pub lease: Option<Held>,
}

impl Phase {
    pub fn state(&self) -> TaskState {
        match self {
            Phase::Queued => TaskState::Queued,
            Phase::Submitting { .. } => TaskState::Submitting,
            Phase::Running { .. } => TaskState::Running,
            Phase::Ended(e) => match e.end {
                End::Succeeded(_) => TaskState::Succeeded,
                End::Failed { .. } => TaskState::Failed,
                End::Cancelled { .. } => TaskState::Cancelled,
            },
        }
    }

    /// The upstream job, while running or after.
    pub fn job(&self) -> Option<&UpstreamJob> {
        match self {
            Phase::Running { job, .. } => Some(job),
            Phase::Ended(e) => e.job.as_ref(),
            Phase::Queued | Phase::Submitting { .. } => None,
        }
    }

    pub fn ended(&self) -> Option<&Ended> {
        match self {
            Phase::Ended(e) => Some(e),
            _ => None,
        }
    }

    /// The worker's hold on it, if a worker holds it.
    pub fn lease(&self) -> Option<&Held> {
        match self {
            Phase::Submitting { lease } => Some(lease),
            Phase::Running { lease, .. } => lease.as_ref(),
            Phase::Ended(e) => e.follow.as_ref().and_then(|f| f.lease.as_ref()),
            Phase::Queued => None,
        }
    }

    /// When it is polled next (running), or its job asked about next (followed).
    pub fn next_poll_at(&self) -> Option<Millis> {
        match self {
            Phase::Running { next_poll_at, .. } => Some(*next_poll_at),
            Phase::Ended(e) => e.follow.as_ref().map(|f| f.next_poll_at),
            Phase::Queued | Phase::Submitting { .. } => None,
        }
    }
}

impl End {
    /// Why it did not succeed.
    pub fn failure(&self) -> Option<(&str, &ErrorType)> {
        match self {
            End::Succeeded(_) => None,
            End::Failed { error, error_type } | End::Cancelled { error, error_type } => {
                Some((error, error_type))
            }
        }
    }
}
