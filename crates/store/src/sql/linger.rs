//! How the create committer gathers a batch: everything waiting, and on PostgreSQL, under
//! load, the creates that keep arriving a little longer (`store.create_linger`).
//!
//! Why wait at all: a PostgreSQL batch costs the server about a millisecond of CPU whatever
//! its size (the statement's start-up, its round trips, the commit), against tens of
//! microseconds a create (README, "What a batch costs PostgreSQL, by its size"). Taken
//! greedily, a batch holds what arrived during the previous one; when a load is split over
//! more replicas each one's batches shrink, and the fixed cost per create grows with them
//! (two replicas made fewer creates than one). Waiting for creates that are visibly on their
//! way makes the batch larger for a bounded delay.
//!
//! The bounds, so a create is never held for nothing:
//! - only after a batch of more than one create (a lone create, at low load, is never held);
//! - only while the next create comes within `gap` of the last one taken;
//! - at most half the previous batch's time (so the wait is a fraction of what each create
//!   already waits for a commit), and never more than `MAX_WINDOW`;
//! - never past a full batch.
//!
//! Tokio's timers tick in milliseconds: a wait's end is rounded up to the next tick, so a gap
//! of 300 µs waits through pauses of 0.3 to 1.3 ms.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

/// The longest a batch waits for more creates, however long the previous batch took (a slow
/// commit, e.g. while the database recovers, must not make the next wait as long).
pub(super) const MAX_WINDOW: Duration = Duration::from_millis(20);

/// The batch the committer ran last: how many creates, and how long it took.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct LastBatch {
    pub(super) size: usize,
    pub(super) took: Duration,
}

/// The committer's loop: gathers each batch (everything waiting, then the wait for creates on
/// their way, with the gap read from `gap_us` before each batch so it can be set while the
/// loop runs) and runs it with `run_batch` before gathering the next. A batch's time, which
/// bounds the next wait, is all of `run_batch`: the commit and the answers (after a failed
/// batch, its creates' retries one by one too; `MAX_WINDOW` bounds that). Ends when every
/// sender is gone.
pub(super) async fn batches<T, F, Fut>(
    mut jobs: mpsc::Receiver<T>,
    max: usize,
    gap_us: Arc<AtomicU64>,
    mut run_batch: F,
) where
    F: FnMut(Vec<T>) -> Fut,
    Fut: Future<Output = ()>,
{
    let mut gatherer = Gatherer::default();
    while let Some(first) = jobs.recv().await {
        let mut batch = vec![first];
        take_waiting(&mut jobs, &mut batch, max);
        let gap = Duration::from_micros(gap_us.load(Ordering::Relaxed));
        gatherer.linger(&mut jobs, &mut batch, max, gap).await;
        let size = batch.len();
        let started = Instant::now();
        run_batch(batch).await;
        gatherer.ran(size, started.elapsed());
    }
}

/// Takes every job already waiting into `batch`, up to `max`.
pub(super) fn take_waiting<T>(jobs: &mut mpsc::Receiver<T>, batch: &mut Vec<T>, max: usize) {
    while batch.len() < max {
        match jobs.try_recv() {
            Ok(job) => batch.push(job),
            Err(_) => break,
        }
    }
}

/// How long a batch may wait for more creates after `last`, with `gap` the longest pause
/// between two creates it waits through (zero: never waits).
pub(super) fn window(gap: Duration, last: LastBatch) -> Option<Duration> {
    if gap.is_zero() || last.size <= 1 {
        return None;
    }
    Some((last.took / 2).min(MAX_WINDOW))
}

/// Most batches in a row that do not wait after waits that gathered nothing.
pub(super) const MAX_SKIP: u32 = 16;

/// The committer's memory of its batches: the last one (its size and time bound the next
/// wait), and whether waiting has been paying. A wait that gathers nothing was pure delay
/// (every client with a create in flight was already in the batch: a few clients each
/// making one create at a time), so after one the next batch does not wait, then after
/// another the next two do not, and so on up to `MAX_SKIP`; a wait that gathers a create
/// starts over.
#[derive(Debug, Default)]
struct Gatherer {
    last: LastBatch,
    skip: u32,
    backoff: u32,
}

impl Gatherer {
    /// A gatherer whose last batch was `last` (tests).
    #[cfg(test)]
    fn after(last: LastBatch) -> Gatherer {
        Gatherer { last, ..Gatherer::default() }
    }

    /// Records the batch just run.
    pub(super) fn ran(&mut self, size: usize, took: Duration) {
        self.last = LastBatch { size, took };
    }

    /// After `take_waiting`, takes the creates that keep arriving within `gap` of each
    /// other, until a pause longer than `gap`, the window after the last batch closes, or
    /// the batch holds `max`; unless the last waits gathered nothing. Returns how many
    /// creates the wait added.
    pub(super) async fn linger<T>(
        &mut self,
        jobs: &mut mpsc::Receiver<T>,
        batch: &mut Vec<T>,
        max: usize,
        gap: Duration,
    ) -> usize {
        let Some(window) = window(gap, self.last) else { return 0 };
        if self.skip > 0 {
            self.skip -= 1;
            return 0;
        }
        let before = batch.len();
        wait(jobs, batch, max, gap, Instant::now() + window).await;
        let added = batch.len() - before;
        if added == 0 {
            self.backoff = (self.backoff * 2).clamp(1, MAX_SKIP);
            self.skip = self.backoff;
        } else {
            self.backoff = 0;
        }
        added
    }
}

async fn wait<T>(
    jobs: &mut mpsc::Receiver<T>,
    batch: &mut Vec<T>,
    max: usize,
    gap: Duration,
    closes: Instant,
) {
    while batch.len() < max {
        let until = (Instant::now() + gap).min(closes);
        match tokio::time::timeout_at(until, jobs.recv()).await {
            Ok(Some(job)) => {
                batch.push(job);
                take_waiting(jobs, batch, max);
            }
            // A pause longer than the gap, the window closed, or every sender gone.
            Ok(None) | Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Tokio's timers tick in milliseconds, so the tests speak in whole ones, and no create
    // comes on the tick a wait ends (which of the two wins a tie is the scheduler's choice).
    const GAP: Duration = Duration::from_millis(3);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn last(size: usize, took_ms: u64) -> LastBatch {
        LastBatch { size, took: ms(took_ms) }
    }

    /// Sends `1..` at the given instants (ms after the start), on paused time.
    fn send_at(at_ms: &[u64]) -> mpsc::Receiver<u64> {
        let (tx, rx) = mpsc::channel(1024);
        let start = Instant::now();
        let at_ms = at_ms.to_vec();
        tokio::spawn(async move {
            for (i, at) in at_ms.into_iter().enumerate() {
                tokio::time::sleep_until(start + ms(at)).await;
                if tx.send(i as u64 + 1).await.is_err() {
                    return;
                }
            }
            // Kept open, so the gatherer stops on time, not on a closed channel.
            tokio::time::sleep(ms(3_600_000)).await;
        });
        rx
    }

    async fn gather(rx: &mut mpsc::Receiver<u64>, gap: Duration, last: LastBatch) -> Vec<u64> {
        let mut batch = vec![0];
        take_waiting(rx, &mut batch, 256);
        Gatherer::after(last).linger(rx, &mut batch, 256, gap).await;
        batch
    }

    #[tokio::test(start_paused = true)]
    async fn a_batch_takes_the_creates_that_keep_coming_within_the_gap_and_stops_at_a_pause() {
        let mut rx = send_at(&[2, 4, 6, 10, 12]);
        let start = Instant::now();
        let batch = gather(&mut rx, GAP, last(16, 40)).await;
        // 6 → 10 is a pause longer than the gap: the batch ends 3 ms after the create at 6.
        assert_eq!(batch, [0, 1, 2, 3]);
        assert_eq!(start.elapsed(), ms(9));
        assert_eq!(rx.recv().await, Some(4), "the later creates wait for the next batch");
    }

    #[tokio::test(start_paused = true)]
    async fn the_wait_ends_at_half_the_last_batchs_time_however_fast_creates_come() {
        let every_2ms: Vec<u64> = (1..=50).map(|i| 2 * i).collect();
        let mut rx = send_at(&every_2ms);
        let start = Instant::now();
        let batch = gather(&mut rx, GAP, last(16, 14)).await;
        assert_eq!(start.elapsed(), ms(7));
        assert_eq!(batch, [0, 1, 2, 3], "the creates at 2, 4 and 6 ms");
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_last_batch_makes_the_wait_no_longer_than_its_bound() {
        let odd_ms: Vec<u64> = (0..50).map(|i| 2 * i + 1).collect();
        let mut rx = send_at(&odd_ms);
        let start = Instant::now();
        let batch = gather(&mut rx, GAP, last(16, 5_000)).await;
        assert_eq!(start.elapsed(), MAX_WINDOW);
        assert_eq!(batch.len(), 11, "the creates at 1, 3 … 19 ms: {batch:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn after_a_lone_create_or_with_no_gap_a_batch_does_not_wait() {
        for (gap, last) in [(GAP, last(1, 40)), (GAP, last(0, 0)), (Duration::ZERO, last(16, 40))] {
            let mut rx = send_at(&[1, 2]);
            let start = Instant::now();
            assert_eq!(gather(&mut rx, gap, last).await, [0]);
            assert_eq!(start.elapsed(), Duration::ZERO);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_batch_stops_waiting() {
        let mut rx = send_at(&[2, 4, 6, 8]);
        let start = Instant::now();
        let mut batch = vec![0];
        Gatherer::after(last(16, 40)).linger(&mut rx, &mut batch, 3, GAP).await;
        assert_eq!(batch, [0, 1, 2]);
        assert_eq!(start.elapsed(), ms(4));
    }

    #[tokio::test(start_paused = true)]
    async fn creates_already_waiting_are_all_taken_at_once() {
        let (tx, mut rx) = mpsc::channel(16);
        for i in 1..=5 {
            tx.send(i).await.expect("the receiver is open until the test ends");
        }
        let mut batch = vec![0];
        take_waiting(&mut rx, &mut batch, 4);
        assert_eq!(batch, [0, 1, 2, 3], "no more than the most a batch holds");
        assert_eq!(rx.recv().await, Some(4));
    }

    #[tokio::test(start_paused = true)]
    async fn waits_that_gather_nothing_are_skipped_for_more_batches_each_time_until_one_pays() {
        let (tx, mut rx) = mpsc::channel(16);
        let mut g = Gatherer::after(last(16, 40));
        // Whether each next batch waits (a fruitless wait lasts the gap).
        let mut waits = Vec::new();
        for _ in 0..10 {
            let start = Instant::now();
            let mut batch = vec![0];
            assert_eq!(g.linger(&mut rx, &mut batch, 256, GAP).await, 0);
            waits.push(start.elapsed() == GAP);
        }
        // Waited, skipped 1, waited, skipped 2, waited, skipped 4, waited.
        let expected = [true, false, true, false, false, true, false, false, false, false];
        assert_eq!(waits, expected);
        // The next wait (after the fourth skip) gathers a create: waiting pays again.
        let sender = tx.clone();
        tokio::spawn(async move {
            tokio::time::sleep(ms(2)).await;
            sender.send(1).await.expect("the receiver is open until the test ends");
        });
        let mut batch = vec![0];
        assert_eq!(g.linger(&mut rx, &mut batch, 256, GAP).await, 1);
        // The count starts over: the next fruitless waits go as the first ones did (waited,
        // skipped 1, waited, skipped 2 …), not on from the 8 skips before.
        let mut waits = Vec::new();
        for _ in 0..5 {
            let start = Instant::now();
            let mut batch = vec![0];
            g.linger(&mut rx, &mut batch, 256, GAP).await;
            waits.push(start.elapsed() == GAP);
        }
        assert_eq!(waits, [true, false, true, false, false], "after a wait that paid");
        // The skips never grow past MAX_SKIP.
        for _ in 0..200 {
            let mut batch = vec![0];
            g.linger(&mut rx, &mut batch, 256, GAP).await;
        }
        assert!(g.skip <= MAX_SKIP && g.backoff <= MAX_SKIP);
        drop(tx);
    }

    /// The committer's loop on paused time, each batch taking 10 ms: creates 1 and 2 wait
    /// before it starts, 3 and 4 come 2 ms apart after the first batch, 5 much later.
    async fn batch_sizes(gap: Duration) -> Vec<usize> {
        let (tx, rx) = mpsc::channel(16);
        tx.send(1).await.expect("the receiver is open until the test ends");
        tx.send(2).await.expect("the receiver is open until the test ends");
        let start = Instant::now();
        tokio::spawn(async move {
            for (at, v) in [(11, 3), (13, 4), (40, 5)] {
                tokio::time::sleep_until(start + ms(at)).await;
                tx.send(v).await.expect("the receiver is open until the test ends");
            }
        });
        let sizes = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = sizes.clone();
        let gap_us = Arc::new(AtomicU64::new(gap.as_micros() as u64));
        batches(rx, 256, gap_us, move |batch: Vec<u64>| {
            seen.lock().expect("no holder of the lock panicked").push(batch.len());
            tokio::time::sleep(ms(10))
        })
        .await;
        sizes.lock().expect("no holder of the lock panicked").clone()
    }

    #[tokio::test(start_paused = true)]
    async fn the_committers_loop_waits_after_a_batch_of_several_and_not_with_no_gap() {
        // The second batch (create 3, at 11 ms) waits and takes create 4 (at 13 ms).
        assert_eq!(batch_sizes(GAP).await, [2, 2, 1]);
        // With no gap it takes only what is waiting.
        assert_eq!(batch_sizes(Duration::ZERO).await, [2, 1, 1, 1]);
    }
}
