//! The parts `Application::build` assembles from the configuration: the workers and their
//! schedule, the API's state, TLS and the listeners. Each is a function of the configuration
//! and what was opened before it, so `build` reads as the order things start in.

use std::sync::Arc;

use std::time::Duration;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use vidgate_api::{ApiConfig, AppState};
use vidgate_domain::{Clock, RetryPolicy};
use vidgate_providers::Provider;
use vidgate_store::{Changes, Store};
use vidgate_workers::runner::RunnerConfig;
use vidgate_workers::{
    Dispatcher, EventPuller, MediaJanitor, Poller, Reaper, WebhookSender, Worker, WorkerContext,
};

use crate::config::Config;

/// The workers of one process, for tests to call `run_once` on.
#[derive(Clone)]
pub struct Workers {
    pub dispatcher: Arc<Dispatcher>,
    pub poller: Arc<Poller>,
    pub reaper: Arc<Reaper>,
    /// Runs only when the provider pulls events (Tencent's reliable mode).
    pub events: Arc<EventPuller>,
    pub webhooks: Arc<WebhookSender>,
    pub janitor: Arc<MediaJanitor>,
}

/// One worker as the runner runs it: how many loops, how long it idles, what wakes it.
pub(crate) struct Scheduled {
    pub worker: Arc<dyn Worker>,
    pub config: RunnerConfig,
    pub wake: Arc<Notify>,
}

fn owner_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "vidgate".into());
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    format!("{host}:{}:{}", std::process::id(), &nonce[..8])
}

/// What every worker of this process shares.
pub(crate) fn worker_context(
    config: &Config,
    store: &Arc<dyn Store>,
    provider: &Arc<dyn Provider>,
    clock: &Arc<dyn Clock>,
    changes: &Arc<Changes>,
    media: &vidgate_media::MediaStore,
) -> anyhow::Result<Arc<WorkerContext>> {
    let m = &config.media;
    let media = vidgate_workers::MediaPolicy::new(
        media.clone(),
        m.mirrors(),
        m.retention,
        m.max_bytes,
        m.copy_timeout,
        config.egress.allow.clone(),
    )?;
    Ok(Arc::new(WorkerContext {
        store: store.clone(),
        provider: provider.clone(),
        clock: clock.clone(),
        owner: owner_id(),
        retry: RetryPolicy {
            max_attempts: config.queue.max_submit_attempts,
            initial: config.queue.retry_initial,
            max: config.queue.retry_max,
            ..RetryPolicy::DEFAULT
        },
        lease: config.queue.lease,
        changes: changes.clone(),
        public_url: config.server.public_url.clone(),
        media,
        media_url_ttl: m.url_ttl,
        follow_for: config.accounting.reconcile_for,
    }))
}

impl Workers {
    pub(crate) fn new(ctx: Arc<WorkerContext>, config: &Config) -> anyhow::Result<Workers> {
        let reap = vidgate_store::ReapLimits {
            max_step_attempts: i64::from(config.queue.max_step_attempts),
            reconcile_for: i64::try_from(config.accounting.reconcile_for.as_millis())
                .unwrap_or(i64::MAX / 4),
            ..Default::default()
        };
        Ok(Workers {
            dispatcher: Arc::new(Dispatcher::new(ctx.clone())),
            poller: Arc::new(Poller::new(ctx.clone())),
            reaper: Arc::new(Reaper::new(ctx.clone(), reap)),
            events: Arc::new(EventPuller::new(ctx.clone())),
            janitor: Arc::new(MediaJanitor::new(ctx.clone())),
            webhooks: Arc::new(WebhookSender::new(
                ctx,
                config.egress.allow.clone(),
                config.webhooks.timeout,
                config.webhooks.retry_schedule.clone(),
            )?),
        })
    }

    /// Every worker this process runs in the background, with its runner settings. The
    /// change feed wakes the queue workers; the sweepers run on their intervals.
    pub(crate) fn schedule(
        &self,
        config: &Config,
        changes: &Changes,
        pulls_events: bool,
    ) -> Vec<Scheduled> {
        let w = &config.workers;
        let every = |worker: Arc<dyn Worker>, concurrency, idle_wait: Duration, wake| Scheduled {
            worker,
            config: RunnerConfig { concurrency, idle_wait, error_backoff: w.error_backoff },
            wake,
        };
        let timer = || Arc::new(Notify::new());
        let mut all = vec![
            every(
                self.dispatcher.clone(),
                w.dispatcher_concurrency,
                w.idle_wait,
                changes.dispatcher.clone(),
            ),
            every(self.poller.clone(), w.poller_concurrency, w.idle_wait, changes.poller.clone()),
            every(self.reaper.clone(), 1, w.reaper_interval, timer()),
            every(
                self.webhooks.clone(),
                w.webhook_concurrency,
                w.idle_wait,
                changes.webhooks.clone(),
            ),
            every(self.janitor.clone(), 1, w.media_sweep_interval, timer()),
        ];
        if pulls_events {
            // PullEvents itself waits for events; a short pause covers upstream errors.
            all.push(every(self.events.clone(), 1, Duration::from_millis(500), timer()));
        }
        all
    }
}

/// The API's view of the configuration.
fn api_config(
    config: &Config,
    provider: &dyn Provider,
    media: vidgate_media::MediaStore,
) -> Result<ApiConfig, crate::config::ConfigError> {
    let sandbox = &config.sandbox;
    Ok(ApiConfig {
        public_url: config.server.public_url.clone(),
        trusted_proxies: config.server.trusted_proxies.clone(),
        tls: config.tls(),
        max_body_bytes: config.server.max_body_bytes,
        request_deadline: config.queue.request_deadline,
        parse: config.rules.parse_options(),
        media: vidgate_api::MediaServing {
            store: media,
            serve: config.media.serve,
            url_ttl: config.media.url_ttl,
            retention: config.media.retention,
        },
        pool: provider.pool(),
        egress: config.egress.allow.clone(),
        limits: config.limits.api(),
        body_read_timeout: config.server.body_read_timeout,
        // The sandbox renders in memory here: it has its own bounds on a clip.
        output_limits: (!config.uses_tencent()).then(|| vidgate_api::OutputLimits {
            max_duration_secs: sandbox.max_duration_secs,
            max_short_side: vidgate_domain::dimensions::short_side(&sandbox.max_resolution)
                .unwrap_or(1080),
        }),
        metrics_on_main: config.server.metrics_listen.is_none(),
        metrics_per_key: config.metrics.per_key_labels,
        dashboard: config.server.dashboard,
        pricing: config.accounting.pricing(),
    })
}

/// What the API's state is made of besides the configuration.
pub(crate) struct StateParts {
    pub store: Arc<dyn Store>,
    pub provider: Arc<dyn Provider>,
    pub clock: Arc<dyn Clock>,
    pub changes: Arc<Changes>,
    pub streams_closed: CancellationToken,
    pub media: vidgate_media::MediaStore,
    pub models: Arc<vidgate_domain::models::live::LiveModels>,
    pub rates: Arc<vidgate_api::limits::RateLimiter>,
}

/// The state every API handler shares.
pub(crate) fn app_state(
    config: &Config,
    parts: StateParts,
) -> Result<AppState, crate::config::ConfigError> {
    let StateParts { store, provider, clock, changes, streams_closed, media, models, rates } =
        parts;
    let statuses = Arc::new(vidgate_api::status_cache::StatusCache::default());
    statuses.follow(changes.follow());
    Ok(AppState::new(vidgate_api::Shared {
        streams_closed,
        streams: Arc::default(),
        stream_tokens: Default::default(),
        config: Arc::new(api_config(config, provider.as_ref(), media)?),
        store,
        clock,
        changes,
        provider,
        keys: Arc::new(vidgate_api::auth::KeyCache::new(config.auth.key_cache_ttl)),
        rates,
        metrics: vidgate_api::metrics::install(),
        statuses,
        models,
    }))
}

/// The TLS configuration, when the listener serves HTTPS: the certificate chain and private
/// key from their PEM files, HTTP/2 and HTTP/1.1 offered by ALPN, on aws-lc-rs (the crypto
/// provider the rest of the binary's TLS uses too).
pub(crate) fn load_tls(config: &Config) -> anyhow::Result<Option<Arc<ServerConfig>>> {
    let (Some(cert), Some(key)) = (&config.server.tls_cert, &config.server.tls_key) else {
        return Ok(None);
    };
    let context =
        || format!("cannot load the TLS certificate {} and key {}", cert.display(), key.display());
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .with_context(context)?;
    let key = PrivateKeyDer::from_pem_file(key).with_context(context)?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::aws_lc_rs::default_provider());
    let mut tls = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("the TLS provider supports no default protocol version")?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .with_context(context)?;
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Some(Arc::new(tls)))
}

/// The main listener, and `/metrics`'s own when `server.metrics_listen` is set.
pub(crate) async fn listeners(
    config: &Config,
) -> anyhow::Result<(TcpListener, Option<TcpListener>)> {
    let addr = config.server.listen;
    let main = TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr}"))?;
    let metrics = match config.server.metrics_listen {
        None => None,
        Some(at) => Some(
            TcpListener::bind(at)
                .await
                .with_context(|| format!("cannot listen on {at} (server.metrics_listen)"))?,
        ),
    };
    Ok((main, metrics))
}
