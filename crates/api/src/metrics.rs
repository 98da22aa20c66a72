//! Prometheus metrics. The recorder is process-wide (`install`, once); series come from three
//! places: this middleware (HTTP requests and latency by route template, method and status),
//! the workers and providers (upstream calls, finished requests, webhooks, renders), and the
//! store, read at scrape time (requests by state, queue depth and oldest age per pool,
//! upstream slots in use per account), so they are true across replicas.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::future::BoxFuture;
use metrics::{Counter, Histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::AppState;

/// Latency buckets in seconds: from a cached status poll to a slow upstream call.
const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0,
];

/// Creates per batch of the committer (`vidgate_store_create_batch_size`), up to its most.
const BATCH_SIZES: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];

/// Installs the process-wide recorder the first time; later calls return the same handle
/// (tests build many apps in one process).
pub fn install() -> Option<PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)
                .ok()?
                .set_buckets_for_metric(
                    Matcher::Full(vidgate_store::CREATE_BATCH_SIZE_METRIC.into()),
                    BATCH_SIZES,
                )
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
/// a series per request id). Applied per route (the template is known only after routing), so
/// it is a plain service: `from_fn` would box and clone the route's whole stack once more per
/// request.
#[derive(Clone, Default)]
pub struct TrackLayer {
    series: Arc<Series>,
}

impl<S> tower::Layer<S> for TrackLayer {
    type Service = Track<S>;

    fn layer(&self, inner: S) -> Track<S> {
        Track { inner, series: self.series.clone() }
    }
}

#[derive(Clone)]
pub struct Track<S> {
    inner: S,
    series: Arc<Series>,
}

impl<S> tower::Service<Request> for Track<S>
where
    S: tower::Service<Request, Response = Response> + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let route = request.extensions().get::<MatchedPath>().cloned();
        let method = method_label(request.method());
        let started = Instant::now();
        let response = self.inner.call(request);
        let series = self.series.clone();
        Box::pin(async move {
            let response = response.await?;
            let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
            series.record(route, method, response.status(), started.elapsed());
            Ok(response)
        })
    }
}

/// The counter and histogram of each (route, method, status) seen, registered once: looking a
/// series up in the recorder by its labels costs a few allocations and a hash per request.
#[derive(Default)]
struct Series {
    by_route: RwLock<HashMap<String, Vec<Handles>>>,
}

/// One series' labels past the route, and its handles.
type Handles = (&'static str, StatusCode, Counter, Histogram);

impl Series {
    fn record(&self, route: &str, method: &'static str, status: StatusCode, took: Duration) {
        let seconds = took.as_secs_f64();
        {
            let by_route = self.by_route.read().unwrap_or_else(|e| e.into_inner());
            let known = by_route
                .get(route)
                .and_then(|s| s.iter().find(|(m, st, _, _)| *m == method && *st == status));
            if let Some((_, _, counter, histogram)) = known {
                counter.increment(1);
                histogram.record(seconds);
                return;
            }
        }
        let labels = [
            ("method", method.to_owned()),
            ("route", route.to_owned()),
            ("status", status.as_u16().to_string()),
        ];
        let counter = metrics::counter!("vidgate_http_requests_total", &labels);
        let histogram = metrics::histogram!("vidgate_http_request_duration_seconds", &labels);
        counter.increment(1);
        histogram.record(seconds);
        let mut by_route = self.by_route.write().unwrap_or_else(|e| e.into_inner());
        let series = by_route.entry(route.to_owned()).or_default();
        if !series.iter().any(|(m, st, _, _)| *m == method && *st == status) {
            series.push((method, status, counter, histogram));
        }
    }
}

/// The method's label. Methods outside the standard set share `OTHER`: any token is a valid
/// method, and a series per made-up one would let clients grow the exposition without bound.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "OTHER",
    }
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
    let pool = state.config.pool;
    match state.store.queue_stats(pool).await {
        Ok(stats) => {
            let now = state.clock.now_ms();
            for (s, n) in [
                ("queued", stats.queued),
                ("submitting", stats.submitting),
                ("running", stats.running),
            ] {
                metrics::gauge!("vidgate_requests", "pool" => pool.as_str(), "state" => s)
                    .set(n as f64);
            }
            metrics::gauge!("vidgate_queue_depth", "pool" => pool.as_str())
                .set(stats.queued as f64);
            let age = stats.oldest_queued_at.map_or(0.0, |at| (now - at).max(0) as f64 / 1000.0);
            metrics::gauge!("vidgate_queue_oldest_age_seconds", "pool" => pool.as_str()).set(age);
        }
        Err(e) => tracing::warn!(error = %e, "metrics: cannot read queue statistics"),
    }
    match state.store.slots_in_use(pool).await {
        Ok(in_use) => {
            for account in state.provider.accounts() {
                let n = in_use.iter().find(|(a, _)| *a == account.id).map_or(0, |(_, n)| *n);
                let labels = [("pool", pool.as_str().to_owned()), ("account", account.id.clone())];
                metrics::gauge!("vidgate_upstream_slots_in_use", &labels).set(n as f64);
                metrics::gauge!("vidgate_upstream_slots", &labels).set(account.concurrency as f64);
            }
        }
        Err(e) => tracing::warn!(error = %e, "metrics: cannot read slots in use"),
    }
    money(&state).await;
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], handle.render()).into_response()
}

/// The credit series, from the ledger at scrape time (so true across replicas): held now
/// (a gauge, in credits), and settled, settled late and released in all (counters, in exact
/// micro-credits: the ledger is append-only, so they only rise), by model and, unless
/// `metrics.per_key_labels = false`, by key name.
async fn money(state: &AppState) {
    let totals = match state.store.money_totals().await {
        Ok(t) => t,
        Err(e) => return tracing::warn!(error = %e, "metrics: cannot read the ledger's totals"),
    };
    let names: HashMap<vidgate_domain::KeyId, String> = match state.config.metrics_per_key {
        true => match state.store.list_keys().await {
            Ok(keys) => keys.into_iter().map(|k| (k.id, k.name)).collect(),
            Err(e) => return tracing::warn!(error = %e, "metrics: cannot read key names"),
        },
        false => HashMap::new(),
    };
    // Summed per label set: without per-key labels several keys fold into one model's series.
    let mut series: std::collections::BTreeMap<Vec<(&'static str, String)>, [i64; 4]> =
        Default::default();
    for t in &totals {
        let mut labels = vec![("model", t.model.clone())];
        if state.config.metrics_per_key {
            let name = names.get(&t.key_id).cloned().unwrap_or_else(|| t.key_id.to_string());
            labels.push(("key", name));
        }
        let s = series.entry(labels).or_default();
        for (i, c) in [t.held, t.settled, t.late_charged, t.released].into_iter().enumerate() {
            s[i] += c.micros();
        }
    }
    for (labels, [held, settled, late, released]) in series {
        let micros = |v: i64| v.max(0) as u64;
        metrics::gauge!("vidgate_credits_held", &labels).set(held as f64 / 1e6);
        metrics::counter!("vidgate_credits_settled_micros_total", &labels)
            .absolute(micros(settled));
        metrics::counter!("vidgate_credits_late_charged_micros_total", &labels)
            .absolute(micros(late));
        metrics::counter!("vidgate_credits_released_micros_total", &labels)
            .absolute(micros(released));
    }
}
