//! Prometheus metrics. The recorder is process-wide (`install`, once); series come from three
//! places: this middleware (HTTP requests and latency by route template, method and status),
//! the workers and providers (upstream calls, finished requests, webhooks, renders), and the
//! store, read at scrape time (requests by state, queue depth and oldest age per pool,
//! upstream slots in use per account), so they are true across replicas.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::AppState;

/// Latency buckets in seconds: from a cached status poll to a slow upstream call.
const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0,
];

/// Installs the process-wide recorder the first time; later calls return the same handle
/// (tests build many apps in one process).
pub fn install() -> Option<PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)
                .ok()?;
            match builder.install_recorder() {
                Ok(handle) => Some(handle),
                Err(e) => {
                    tracing::warn!(error = %e, "metrics are off: cannot install the recorder");
                    None
                }
            }
        })
        .clone()
}

/// Counts and times every request by its route template (not the raw path, which would make
/// a series per request id).
pub async fn track(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let labels =
        [("method", method), ("route", route), ("status", response.status().as_u16().to_string())];
    metrics::counter!("vidgate_http_requests_total", &labels).increment(1);
    metrics::histogram!("vidgate_http_request_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    response
}

/// `GET /metrics`: the store-derived gauges, refreshed now, and everything recorded.
#[utoipa::path(get, path = "/metrics", tag = "ops", responses(
    (status = 200, description = "Prometheus text exposition format.", content_type = "text/plain", body = String),
    (status = 404, description = "Metrics are off in this process, or served on `server.metrics_listen`.", content_type = "text/plain", body = String),
))]
pub async fn render(State(state): State<AppState>) -> Response {
    let Some(handle) = &state.metrics else {
        return (StatusCode::NOT_FOUND, "metrics are off in this process\n").into_response();
    };
    let pool = state.config.pool.clone();
    match state.store.queue_stats(&pool).await {
        Ok(stats) => {
            let now = state.clock.now_ms();
            for (s, n) in [
                ("queued", stats.queued),
                ("submitting", stats.submitting),
                ("running", stats.running),
            ] {
                metrics::gauge!("vidgate_requests", "pool" => pool.clone(), "state" => s)
                    .set(n as f64);
            }
            metrics::gauge!("vidgate_queue_depth", "pool" => pool.clone()).set(stats.queued as f64);
            let age = stats.oldest_queued_at.map_or(0.0, |at| (now - at).max(0) as f64 / 1000.0);
            metrics::gauge!("vidgate_queue_oldest_age_seconds", "pool" => pool.clone()).set(age);
        }
        Err(e) => tracing::warn!(error = %e, "metrics: cannot read queue statistics"),
    }
    match state.store.slots_in_use(&pool).await {
        Ok(in_use) => {
            for account in state.provider.accounts() {
                let n = in_use.iter().find(|(a, _)| *a == account.id).map_or(0, |(_, n)| *n);
                let labels = [("pool", pool.clone()), ("account", account.id.clone())];
                metrics::gauge!("vidgate_upstream_slots_in_use", &labels).set(n as f64);
                metrics::gauge!("vidgate_upstream_slots", &labels).set(account.concurrency as f64);
            }
        }
        Err(e) => tracing::warn!(error = %e, "metrics: cannot read slots in use"),
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], handle.render()).into_response()
}
