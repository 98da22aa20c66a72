//! Shared state of the HTTP layer.

use std::sync::Arc;
use std::time::Duration;

use vidgate_domain::models::live::{LiveModels, Models};
use vidgate_domain::{Clock, ParseOptions};
use vidgate_providers::Provider;
use vidgate_store::Store;

#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Public base URL for the absolute URLs in answers; `None`: from each request's Host.
    pub public_url: Option<String>,
    /// Peers whose `X-Forwarded-Proto`/`-Host` count (none by default).
    pub trusted_proxies: vidgate_egress::AddressList,
    /// Whether this listener serves TLS (URLs then default to https).
    pub tls: bool,
    pub max_body_bytes: usize,
    /// A request that has not ended this long after it was accepted fails with `timeout`.
    pub request_deadline: Duration,
    pub parse: ParseOptions,
    /// Where kept files are and how the content route serves them.
    pub media: MediaServing,
    /// The queue new requests join (the provider's pool).
    pub pool: vidgate_domain::Pool,
    /// Where webhooks may point.
    pub egress: vidgate_egress::EgressPolicy,
    /// Per-key and queue limits (defaults; a key may have its own).
    pub limits: crate::limits::LimitsConfig,
    /// Serve `/metrics` on the main listener (off when it has a listener of its own).
    pub metrics_on_main: bool,
    /// Label the credit series by key name as well as by model.
    pub metrics_per_key: bool,
    /// Serve the web dashboard at `/dashboard`.
    pub dashboard: bool,
    /// The largest clip the provider makes, checked at create (the sandbox has one).
    pub output_limits: Option<OutputLimits>,
    /// A request body must arrive within this (408 otherwise).
    pub body_read_timeout: Duration,
    /// The display currency (the price table is the live models').
    pub pricing: crate::pricing::PricingConfig,
}

#[derive(Debug, Clone)]
pub struct MediaServing {
    pub store: vidgate_media::MediaStore,
    pub serve: crate::handlers::content::ServeMode,
    /// How long signed media URLs (and presigned redirects) stay valid.
    pub url_ttl: Duration,
    /// How long kept files stay (0: until deleted), unless the key says otherwise.
    pub retention: Duration,
}

/// What every handler shares, behind one `Arc`: axum clones the state for every request
/// (several times, once per boxed layer it passes through), so a clone is one reference count
/// instead of one per field (and the shutdown token's clone takes a lock).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        AppState(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub config: Arc<ApiConfig>,
    /// Task changes from the store's change feed (this process's and other replicas');
    /// status streams and the status cache follow them.
    pub changes: Arc<vidgate_store::Changes>,
    /// The upstream provider, for its push callbacks.
    pub provider: Arc<dyn Provider>,
    /// Recently authenticated keys.
    pub keys: Arc<crate::auth::KeyCache>,
    /// Per-key token buckets.
    pub rates: Arc<crate::limits::RateLimiter>,
    /// Recently read statuses, dropped as the change bus reports changes.
    pub statuses: Arc<crate::status_cache::StatusCache>,
    /// The Prometheus recorder's handle; `None`: metrics are off.
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    /// Cancelled when the process shuts down: open status streams and `Prefer: wait` calls end.
    pub streams_closed: tokio_util::sync::CancellationToken,
    /// Open status streams per key.
    pub streams: Arc<crate::stream_limit::OpenStreams>,
    /// The stream tokens status answers hand out, reused across polls.
    pub stream_tokens: crate::stream_tokens::StreamTokens,
    /// The model catalog in force, with its aliases and prices (reloaded when an operator
    /// changes an entry, on any replica).
    pub models: Arc<LiveModels>,
}

impl Shared {
    /// The catalog, aliases and prices in force now (one snapshot per request).
    pub fn models(&self) -> Arc<Models> {
        self.models.current()
    }

    /// How a create is read now: the configured strictness, against the catalog `models`.
    pub fn parse_options(&self, models: &Models) -> ParseOptions {
        self.config.parse.with_catalog(models.catalog.clone())
    }

    /// How media URLs handed to the key with `key_hash` are signed now.
    pub fn media_signing<'a>(&self, key_hash: &'a str) -> vidgate_wire::Signing<'a> {
        vidgate_wire::Signing {
            key_hash: Some(key_hash),
            now: self.clock.now_ms(),
            ttl_secs: self.config.media.url_ttl.as_secs() as i64,
        }
    }
}

/// Bounds on what one request may ask the provider to make.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OutputLimits {
    pub max_duration_secs: f64,
    /// Of the picture's short side, in pixels (`1080P` → 1080).
    pub max_short_side: u32,
}
