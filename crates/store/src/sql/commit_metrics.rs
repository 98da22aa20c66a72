//! The committer's Prometheus series: how many creates each batch of creates held, how long
//! it took by the way it went, and where a one-statement batch's time went (the connection,
//! the read, the statement), and how many of its transactions a deadlock broke. A replica's create rate is its batch size over its batch's time,
//! so these say why a replica makes what it makes (README, "PostgreSQL creates"). A failed
//! batch's creates, when they are then tried one by one, are not counted again as batches.
//! Without an installed recorder (unit tests) they are no-ops.

use std::time::Instant;

/// The batch-size histogram; its buckets are set where the recorder is installed.
pub const BATCH_SIZE: &str = "vidgate_store_create_batch_size";

/// The way a batch of creates went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Way {
    /// One autocommit statement after its read (PostgreSQL), or only the read when it refused
    /// every create.
    OneStatement,
    /// A transaction (SQLite always; PostgreSQL for a dedup claim, a queue count near its
    /// limit, or a statement a deadlock broke).
    Transaction,
    /// Run again with its balance rows locked, after another replica spent its credits.
    RerunLocked,
    /// Failed whole (each create answered its error, or retried alone).
    Failed,
}

impl Way {
    fn label(self) -> &'static str {
        match self {
            Way::OneStatement => "one_statement",
            Way::Transaction => "transaction",
            Way::RerunLocked => "rerun_locked",
            Way::Failed => "failed",
        }
    }
}

/// A batch of `size` creates, begun at `started`, ended the `way` it went.
pub(super) fn batch(size: usize, way: Way, started: Instant) {
    metrics::histogram!(BATCH_SIZE).record(size as f64);
    metrics::histogram!("vidgate_store_create_batch_seconds", "way" => way.label())
        .record(started.elapsed().as_secs_f64());
}

/// A batch's transaction PostgreSQL failed to break a deadlock (or a serialization
/// conflict), about to run again: each costs its creates the server's `deadlock_timeout`.
pub(super) fn lock_conflict() {
    metrics::counter!(LOCK_CONFLICTS).increment(1);
}

/// The counter of `lock_conflict`.
pub const LOCK_CONFLICTS: &str = "vidgate_store_create_batch_lock_conflicts_total";

/// The phases of a batch offered to the one statement (`connection`: the pool's hand-over
/// and check; `read`; `statement`), recorded only if it ends as one (`record`), so they are a
/// one-statement batch's.
pub(super) struct Phases {
    last: Instant,
    took: Vec<(&'static str, f64)>,
}

impl Phases {
    /// The first phase begins now.
    pub(super) fn start() -> Phases {
        Phases { last: Instant::now(), took: Vec::with_capacity(3) }
    }

    /// The phase named ends now, and the next begins.
    pub(super) fn end(&mut self, phase: &'static str) {
        let now = Instant::now();
        self.took.push((phase, (now - self.last).as_secs_f64()));
        self.last = now;
    }

    pub(super) fn record(self) {
        for (phase, seconds) in self.took {
            metrics::histogram!("vidgate_store_create_batch_phase_seconds", "phase" => phase)
                .record(seconds);
        }
    }
}
