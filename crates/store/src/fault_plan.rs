//! Faults injected at the database seam, for tests: the next N statements whose SQL contains a
//! given text fail as an unreachable database fails, fail as a broken statement does (`Fails`),
//! or change and return nothing (as a fenced write whose lease was taken). Every statement of both backends passes through `Db`, so any
//! step can be made to fail, inside a transaction as well as on its own, including a commit
//! (whose "statement" is `COMMIT`). Empty in production, where a check is one atomic load.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::{Result, StoreError};

/// How a statement fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// As if the database could not be reached (`StoreError::is_unavailable`).
    Unavailable,
    /// The statement runs nowhere and answers no rows and no change: a fenced write then reads
    /// as "the lease was lost".
    NoRows,
    /// The statement fails, not for an outage (a constraint, a bug): `StoreError::Corrupt`.
    Fails,
}

impl Fault {
    pub(crate) fn rows<T>(self) -> Result<Vec<T>> {
        match self {
            Fault::Unavailable => Err(StoreError::Database(sqlx::Error::PoolTimedOut)),
            Fault::NoRows => Ok(Vec::new()),
            Fault::Fails => Err(StoreError::corrupt("a planned statement failure")),
        }
    }

    pub(crate) fn changed(self) -> Result<u64> {
        self.rows::<()>().map(|_| 0)
    }
}

#[derive(Debug, Default)]
pub struct FaultPlan {
    /// Whether anything is planned (the check every statement makes).
    armed: AtomicBool,
    /// (text the SQL contains, the fault, how many more times).
    planned: Mutex<Vec<(String, Fault, usize)>>,
}

impl FaultPlan {
    /// The next `times` statements whose SQL contains `sql` fail with `fault`. `COMMIT`
    /// names transaction commits.
    pub fn fail(&self, sql: &str, fault: Fault, times: usize) {
        let mut planned = self.planned.lock().unwrap_or_else(|p| p.into_inner());
        planned.push((sql.to_owned(), fault, times));
        self.armed.store(true, Ordering::Release);
    }

    /// Faults planned for `sql` and not injected yet (a test checks its statement was run).
    pub fn pending(&self, sql: &str) -> usize {
        let planned = self.planned.lock().unwrap_or_else(|p| p.into_inner());
        planned.iter().filter(|(s, _, _)| s == sql).map(|(_, _, n)| n).sum()
    }

    /// The fault to inject into a statement with this SQL, if one is planned.
    pub(crate) fn take(&self, sql: &str) -> Option<Fault> {
        if !self.armed.load(Ordering::Acquire) {
            return None;
        }
        let mut planned = self.planned.lock().unwrap_or_else(|p| p.into_inner());
        let hit = planned.iter_mut().find(|(s, _, n)| *n > 0 && sql.contains(s.as_str()))?;
        hit.2 -= 1;
        let fault = hit.1;
        planned.retain(|(_, _, n)| *n > 0);
        if planned.is_empty() {
            self.armed.store(false, Ordering::Release);
        }
        Some(fault)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_planned_fault_hits_the_matching_statements_as_often_as_planned() {
        let plan = FaultPlan::default();
        assert_eq!(plan.take("SELECT 1"), None);
        plan.fail("FROM tasks", Fault::NoRows, 2);
        assert_eq!(plan.take("SELECT 1"), None);
        assert_eq!(plan.take("SELECT * FROM tasks"), Some(Fault::NoRows));
        assert_eq!(plan.pending("FROM tasks"), 1);
        assert_eq!(plan.take("UPDATE x FROM tasks"), Some(Fault::NoRows));
        assert_eq!(plan.take("SELECT * FROM tasks"), None, "used up");
        assert!(Fault::Unavailable.changed().is_err_and(|e| e.is_unavailable()));
    }
}
