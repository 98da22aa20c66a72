//! The committer's Prometheus series: how many creates each batch of creates held, how long
//! it took by the way it went, and where a one-statement batch's time went (the connection,
//! the read, the statement). A replica's create rate is its batch size over its batch's time,
//! so these say why a replica makes what it makes (README, "PostgreSQL creates"). Without an
//! installed recorder (unit tests) they are no-ops.

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

/// One phase of a one-statement batch (`connection`: the pool's hand-over and check;
/// `read`; `statement`), from `since`; answers now, where the next phase starts.
pub(super) fn phase(phase: &'static str, since: Instant) -> Instant {
    let now = Instant::now();
    metrics::histogram!("vidgate_store_create_batch_phase_seconds", "phase" => phase)
        .record((now - since).as_secs_f64());
    now
}
