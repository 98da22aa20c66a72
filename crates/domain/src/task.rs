//! The life of a task. Internal states are richer than the three public statuses fal clients
//! accept; `TaskState::public` is the only place that folds them.
//!
//! ```text
//! Queued ─claim─► Submitting ─upstream accepted─► Running ─► Succeeded | Failed
//!   │                 │ (retryable error / lease expired: back to Queued)
//!   └─cancel─► Cancelled            (cancel while Submitting/Running: flag, ends Cancelled)
//! ```

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    /// Accepted and committed; waiting for an upstream slot.
    Queued,
    /// Claimed by a dispatcher that is sending it upstream (the ambiguous step).
    Submitting,
    /// The upstream accepted it; a poller follows it.
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

/// The three statuses of fal's queue protocol. Client libraries reject any other value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum PublicStatus {
    #[serde(rename = "IN_QUEUE")]
    InQueue,
    #[serde(rename = "IN_PROGRESS")]
    InProgress,
    #[serde(rename = "COMPLETED")]
    Completed,
}

impl PublicStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PublicStatus::InQueue => "IN_QUEUE",
            PublicStatus::InProgress => "IN_PROGRESS",
            PublicStatus::Completed => "COMPLETED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "IN_QUEUE" => Some(PublicStatus::InQueue),
            "IN_PROGRESS" => Some(PublicStatus::InProgress),
            "COMPLETED" => Some(PublicStatus::Completed),
            _ => None,
        }
    }

    /// The internal states a public status stands for (used to filter listings).
    pub fn states(self) -> &'static [TaskState] {
        match self {
            PublicStatus::InQueue => &[TaskState::Queued],
            PublicStatus::InProgress => &[TaskState::Submitting, TaskState::Running],
            PublicStatus::Completed => {
                &[TaskState::Succeeded, TaskState::Failed, TaskState::Cancelled]
            }
        }
    }
}

impl TaskState {
    pub const ALL: [TaskState; 6] = [
        TaskState::Queued,
        TaskState::Submitting,
        TaskState::Running,
        TaskState::Succeeded,
        TaskState::Failed,
        TaskState::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Queued => "queued",
            TaskState::Submitting => "submitting",
            TaskState::Running => "running",
            TaskState::Succeeded => "succeeded",
            TaskState::Failed => "failed",
            TaskState::Cancelled => "cancelled",
        }
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, TaskState::Succeeded | TaskState::Failed | TaskState::Cancelled)
    }

    /// Holds an upstream slot: counted against the account's concurrency limit.
    pub fn holds_slot(self) -> bool {
        matches!(self, TaskState::Submitting | TaskState::Running)
    }

    pub fn public(self) -> PublicStatus {
        match self {
            TaskState::Queued => PublicStatus::InQueue,
            TaskState::Submitting | TaskState::Running => PublicStatus::InProgress,
            TaskState::Succeeded | TaskState::Failed | TaskState::Cancelled => {
                PublicStatus::Completed
            }
        }
    }

    /// Whether the state machine allows `self → next`. Stores enforce the same edges in SQL;
    /// this is the reference the contract test checks them against.
    pub fn can_move_to(self, next: TaskState) -> bool {
        use TaskState::*;
        matches!(
            (self, next),
            (Queued, Submitting)
                | (Queued, Cancelled)
                | (Queued, Failed)
                | (Submitting, Running)
                | (Submitting, Queued)
                | (Submitting, Failed)
                | (Submitting, Cancelled)
                | (Submitting, Succeeded)
                | (Running, Succeeded)
                | (Running, Failed)
                | (Running, Cancelled)
        )
    }
}

impl fmt::Display for TaskState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown task state {0:?}")]
pub struct UnknownState(pub String);

impl FromStr for TaskState {
    type Err = UnknownState;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TaskState::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| UnknownState(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_round_trips_through_its_name() {
        for s in TaskState::ALL {
            assert_eq!(s.as_str().parse::<TaskState>().unwrap(), s);
        }
    }

    #[test]
    fn only_the_three_fal_statuses_are_ever_public() {
        for s in TaskState::ALL {
            let p = s.public().as_str();
            assert!(["IN_QUEUE", "IN_PROGRESS", "COMPLETED"].contains(&p));
        }
    }

    #[test]
    fn terminal_states_never_move() {
        for from in TaskState::ALL.into_iter().filter(|s| s.is_terminal()) {
            for to in TaskState::ALL {
                assert!(!from.can_move_to(to), "{from} -> {to}");
            }
        }
    }

    #[test]
    fn a_queued_task_cannot_jump_to_running_without_submitting() {
        assert!(!TaskState::Queued.can_move_to(TaskState::Running));
        assert!(!TaskState::Queued.can_move_to(TaskState::Succeeded));
    }

    #[test]
    fn public_status_filters_cover_every_state_exactly_once() {
        let mut seen = Vec::new();
        for p in [PublicStatus::InQueue, PublicStatus::InProgress, PublicStatus::Completed] {
            for s in p.states() {
                assert_eq!(s.public(), p);
                seen.push(*s);
            }
        }
        assert_eq!(seen.len(), TaskState::ALL.len());
    }
}
