//! The fault dice: one seeded generator, so a run with the same seed and the same calls
//! injects the same faults.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::config::Faults;

/// What to do to one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallFault {
    None,
    InternalError,
    RateLimited,
    Http5xx,
    Slow,
    Drop,
}

pub struct Dice {
    faults: Faults,
    rng: Mutex<StdRng>,
    /// `CreateAigcVideoTask` calls seen, for the planned faults of the first ones.
    creates: AtomicU64,
}

impl Dice {
    pub fn new(faults: Faults) -> Self {
        let rng = StdRng::seed_from_u64(faults.seed);
        Dice { faults, rng: Mutex::new(rng), creates: AtomicU64::new(0) }
    }

    fn roll(&self) -> f64 {
        self.rng.lock().unwrap_or_else(|p| p.into_inner()).random::<f64>()
    }

    pub fn call(&self) -> CallFault {
        let f = &self.faults;
        let r = self.roll();
        let mut edge = 0.0;
        for (share, fault) in [
            (f.internal_error, CallFault::InternalError),
            (f.rate_limited, CallFault::RateLimited),
            (f.http_5xx, CallFault::Http5xx),
            (f.slow, CallFault::Slow),
            (f.drop, CallFault::Drop),
        ] {
            edge += share.max(0.0);
            if r < edge {
                return fault;
            }
        }
        CallFault::None
    }

    /// What to do to a `CreateAigcVideoTask` call: its planned fault, if it is one of the first
    /// ones (`refuse_first_creates`, then `drop_first_creates`), else the dice's.
    pub fn create_call(&self) -> CallFault {
        let n = self.creates.fetch_add(1, Ordering::Relaxed);
        let (refuse, drop) = (self.faults.refuse_first_creates, self.faults.drop_first_creates);
        if n < refuse {
            CallFault::InternalError
        } else if n < refuse.saturating_add(drop) {
            CallFault::Drop
        } else {
            self.call()
        }
    }

    pub fn task_fails(&self) -> bool {
        self.faults.task_failure > 0.0 && self.roll() < self.faults.task_failure
    }

    pub fn slow_delay(&self) -> std::time::Duration {
        self.faults.slow_delay.unwrap_or(std::time::Duration::from_secs(2))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_are_respected_and_seeds_repeat() {
        let faults = Faults { internal_error: 0.25, drop: 0.25, seed: 7, ..Faults::default() };
        let a = Dice::new(faults.clone());
        let b = Dice::new(faults);
        let rolls: Vec<CallFault> = (0..4000).map(|_| a.call()).collect();
        assert_eq!(rolls, (0..4000).map(|_| b.call()).collect::<Vec<_>>());
        let share = |f| rolls.iter().filter(|r| **r == f).count() as f64 / 4000.0;
        assert!((share(CallFault::InternalError) - 0.25).abs() < 0.03);
        assert!((share(CallFault::Drop) - 0.25).abs() < 0.03);
        assert!((share(CallFault::None) - 0.5).abs() < 0.03);
        assert!(!Dice::new(Faults::default()).task_fails());
    }
}
