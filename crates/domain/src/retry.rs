//! Retry policy as a value: capped exponential backoff with jitter. Pure, so the delay for
//! any attempt is a unit-testable function of the attempt number and a random draw.

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included. After the last one the request fails.
    pub max_attempts: u32,
    pub initial: Duration,
    pub max: Duration,
    pub multiplier: f64,
    /// Share of the delay that is randomised: 0.2 → the delay lands in [0.8·d, 1.2·d].
    pub jitter: f64,
}

impl RetryPolicy {
    pub const DEFAULT: RetryPolicy = RetryPolicy {
        max_attempts: 8,
        initial: Duration::from_secs(1),
        max: Duration::from_secs(60),
        multiplier: 2.0,
        jitter: 0.2,
    };

    /// Delay before attempt `attempt + 1`, after `attempt` failed attempts (`attempt` ≥ 1).
    /// `draw` is a uniform random number in [0, 1); passing it in keeps this pure.
    pub fn delay(&self, attempt: u32, draw: f64) -> Duration {
        let exp = attempt.saturating_sub(1).min(63) as i32;
        let base = self.initial.as_secs_f64() * self.multiplier.powi(exp);
        let capped = base.min(self.max.as_secs_f64());
        let jitter = self.jitter.clamp(0.0, 1.0);
        let factor = 1.0 - jitter + 2.0 * jitter * draw.clamp(0.0, 1.0);
        Duration::from_secs_f64((capped * factor).max(0.0))
    }

    /// Whether another attempt is allowed after `attempts` attempts were made.
    pub fn allows_another(&self, attempts: u32) -> bool {
        attempts < self.max_attempts
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn delays_double_until_the_cap() {
        let p = RetryPolicy { jitter: 0.0, ..RetryPolicy::DEFAULT };
        let secs: Vec<u64> = (1..=8).map(|a| p.delay(a, 0.5).as_secs()).collect();
        assert_eq!(secs, vec![1, 2, 4, 8, 16, 32, 60, 60]);
    }

    #[test]
    fn the_attempt_limit_counts_the_first_attempt() {
        let p = RetryPolicy { max_attempts: 3, ..RetryPolicy::DEFAULT };
        assert!(p.allows_another(2));
        assert!(!p.allows_another(3));
    }

    proptest! {
        #[test]
        fn jitter_stays_within_its_band(attempt in 1u32..200, draw in 0.0f64..1.0) {
            let p = RetryPolicy::DEFAULT;
            let d = p.delay(attempt, draw).as_secs_f64();
            let nominal = RetryPolicy { jitter: 0.0, ..p }.delay(attempt, 0.0).as_secs_f64();
            prop_assert!(d >= nominal * 0.8 - 1e-9 && d <= nominal * 1.2 + 1e-9);
        }
    }
}
