//! A token bucket that waits instead of refusing: callers are workers that would only retry.

use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

pub struct TokenBucket {
    rate: f64,
    burst: f64,
    state: Mutex<(f64, Instant)>,
}

impl TokenBucket {
    /// `rate` tokens per second, up to `burst` saved.
    pub fn new(rate: f64, burst: f64) -> Self {
        let rate = rate.max(0.001);
        let burst = burst.max(1.0);
        TokenBucket { rate, burst, state: Mutex::new((burst, Instant::now())) }
    }

    /// Takes one token, waiting for it if the bucket is empty.
    pub async fn acquire(&self) {
        loop {
            let wait = {
                let mut s = self.state.lock().await;
                let now = Instant::now();
                let refilled =
                    (s.0 + now.duration_since(s.1).as_secs_f64() * self.rate).min(self.burst);
                *s = (refilled, now);
                if s.0 >= 1.0 {
                    s.0 -= 1.0;
                    return;
                }
                Duration::from_secs_f64((1.0 - s.0) / self.rate)
            };
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_bucket_lets_a_burst_through_then_paces_calls() {
        let bucket = TokenBucket::new(20.0, 20.0);
        let start = Instant::now();
        for _ in 0..20 {
            bucket.acquire().await;
        }
        assert!(start.elapsed() < Duration::from_millis(1), "the burst is free");
        for _ in 0..20 {
            bucket.acquire().await;
        }
        let paced = start.elapsed();
        assert!(
            paced >= Duration::from_millis(950) && paced <= Duration::from_millis(1050),
            "{paced:?}"
        );
    }
}
