//! The workers' Prometheus series: provider calls by action and outcome, requests finished by
//! outcome, webhook deliveries by outcome. (The recorder is installed by the binary; without
//! one these are no-ops, as in unit tests.)

use std::time::Instant;

use vidgate_domain::Pool;
use vidgate_providers::ProviderError;

/// One provider call (`submit`, `poll`): counted and timed by outcome code.
pub fn provider_call<T>(
    pool: Pool,
    action: &'static str,
    result: &Result<T, ProviderError>,
    started: Instant,
) {
    let code = match result {
        Ok(_) => "ok".to_owned(),
        Err(e) => e.code.clone(),
    };
    let labels =
        [("provider", pool.as_str().to_owned()), ("action", action.to_owned()), ("code", code)];
    metrics::counter!("vidgate_provider_calls_total", &labels).increment(1);
    metrics::histogram!("vidgate_provider_call_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
}

/// A request reached a terminal state through this process.
pub fn finished(pool: Pool, outcome: &'static str) {
    metrics::counter!("vidgate_requests_finished_total", "pool" => pool.as_str(), "outcome" => outcome)
        .increment(1);
}

/// One webhook attempt ended (`delivered`, `retrying`, `failed`).
pub fn webhook_attempt(result: vidgate_store::AttemptResult, started: Instant) {
    let outcome = result.as_str();
    metrics::counter!("vidgate_webhook_deliveries_total", "outcome" => outcome).increment(1);
    metrics::histogram!("vidgate_webhook_attempt_duration_seconds", "outcome" => outcome)
        .record(started.elapsed().as_secs_f64());
}

/// A file copied into the media store.
pub fn media_copied(bytes: u64) {
    metrics::counter!("vidgate_media_copies_total", "outcome" => "stored").increment(1);
    metrics::counter!("vidgate_media_copied_bytes_total").increment(bytes);
}

/// A copy that gave up (the result keeps the upstream's URL).
pub fn media_copy_failed() {
    metrics::counter!("vidgate_media_copies_total", "outcome" => "failed").increment(1);
}

/// What the media catalog holds now, and files its sweep deleted.
pub fn media_stored(files: i64, bytes: i64, deleted: u64) {
    metrics::gauge!("vidgate_media_stored_files").set(files as f64);
    metrics::gauge!("vidgate_media_stored_bytes").set(bytes as f64);
    if deleted > 0 {
        metrics::counter!("vidgate_media_deleted_total", "reason" => "retention")
            .increment(deleted);
    }
}
