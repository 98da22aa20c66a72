//! The seam the binary and the tests share: `Application::build(config, options)` opens the
//! store, bootstraps keys, picks the provider, binds the listener (port 0 in tests) and wires
//! the workers; `run_until_stopped` serves until shutdown and drains. Tests build with
//! `workers: Manual` and drive `run_once` themselves.

use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use vidgate_api::{ApiConfig, AppState};
use vidgate_domain::{Clock, ParseOptions, RetryPolicy, SystemClock};
use vidgate_providers::Provider;
use vidgate_store::{Changes, Store};
use vidgate_workers::runner::{self, RunnerConfig};
use vidgate_workers::{
    Dispatcher, EventPuller, MediaJanitor, Poller, Reaper, WebhookSender, WorkerContext,
};

use crate::bootstrap::ensure_keys;
use crate::config::Config;
use crate::provider_select::open_provider;
use crate::serve::ServeOptions;
use crate::store_select::open_store;

/// Whether `run_until_stopped` runs the workers, or a test drives them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerMode {
    Background,
    Manual,
}

pub struct BuildOptions {
    pub clock: Arc<dyn Clock>,
    pub workers: WorkerMode,
    /// Print a first API key to stdout when the store has none (the `serve` behaviour).
    pub announce_first_key: bool,
    /// Wraps the opened store before anything uses it (tests inject faults this way).
    pub store_layer: Option<StoreLayer>,
}

/// Wraps the store every part of the application shares.
pub type StoreLayer = Box<dyn FnOnce(Arc<dyn Store>) -> Arc<dyn Store> + Send>;

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            clock: Arc::new(SystemClock),
            workers: WorkerMode::Background,
            announce_first_key: true,
            store_layer: None,
        }
    }
}

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

pub struct Application {
    listener: TcpListener,
    /// `/metrics` on a listener of its own, when `server.metrics_listen` is set.
    metrics: Option<(TcpListener, axum::Router)>,
    /// Set when the listener serves HTTPS.
    tls: Option<axum_server::tls_rustls::RustlsConfig>,
    router: axum::Router,
    pub store: Arc<dyn Store>,
    pub provider: Arc<dyn Provider>,
    pub workers: Workers,
    config: Config,
    mode: WorkerMode,
    /// Wake-ups and task-change notices, fed by the store's change feed.
    changes: Arc<Changes>,
    /// First key created by this start, if any (also printed when announcing).
    pub first_key: Option<String>,
    /// Cancelled at shutdown: open status streams end.
    streams_closed: CancellationToken,
}

fn owner_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "vidgate".into());
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    format!("{host}:{}:{}", std::process::id(), &nonce[..8])
}

impl Application {
    pub async fn build(config: Config, options: BuildOptions) -> anyhow::Result<Application> {
        config.validate()?;
        std::fs::create_dir_all(config.media_dir()).with_context(|| {
            format!("cannot create the data directory {}", config.store.data_dir.display())
        })?;
        let mut store = open_store(&config).await?;
        if let Some(layer) = options.store_layer {
            store = layer(store);
        }
        let first_key = ensure_keys(store.as_ref(), &config, options.clock.now_ms()).await?;
        if let (Some(key), true) = (&first_key, options.announce_first_key) {
            println!("vidgate: created the first API key (shown only now, store it): {key}");
        }
        let egress = config.egress.allow.clone();
        let provider = open_provider(&config, options.clock.clone(), &egress)?;
        let changes = Arc::new(Changes::default());
        let public_url = config.server.public_url.clone();
        let ctx = Arc::new(WorkerContext {
            store: store.clone(),
            provider: provider.clone(),
            clock: options.clock.clone(),
            owner: owner_id(),
            retry: RetryPolicy {
                max_attempts: config.queue.max_submit_attempts,
                initial: config.queue.retry_initial,
                max: config.queue.retry_max,
                ..RetryPolicy::DEFAULT
            },
            lease: config.queue.lease,
            changes: changes.clone(),
            public_url: public_url.clone(),
        });
        let workers = Workers {
            dispatcher: Arc::new(Dispatcher::new(ctx.clone())),
            poller: Arc::new(Poller::new(ctx.clone())),
            reaper: Arc::new(Reaper::new(
                ctx.clone(),
                vidgate_store::ReapLimits {
                    max_step_attempts: i64::from(config.queue.max_step_attempts),
                    ..Default::default()
                },
            )),
            events: Arc::new(EventPuller::new(ctx.clone())),
            janitor: Arc::new(MediaJanitor::new(ctx.clone())),
            webhooks: Arc::new(WebhookSender::new(
                ctx,
                egress.clone(),
                config.webhooks.timeout,
                config.webhooks.retry_schedule.clone(),
            )?),
        };
        let streams_closed = CancellationToken::new();
        let state = AppState {
            streams_closed: streams_closed.clone(),
            streams: Arc::default(),
            store: store.clone(),
            clock: options.clock,
            config: Arc::new(ApiConfig {
                public_url,
                tls: config.tls(),
                max_body_bytes: config.server.max_body_bytes,
                request_deadline: config.queue.request_deadline,
                parse: ParseOptions { strict_model_rules: config.rules.strict_model_rules },
                media_dir: config.media_dir(),
                pool: provider.pool().to_owned(),
                egress,
                limits: config.limits.api(),
                body_read_timeout: config.server.body_read_timeout,
                output_limits: (provider.pool() == "sandbox").then(|| vidgate_api::OutputLimits {
                    max_duration_secs: config.sandbox.max_duration_secs,
                    max_short_side: vidgate_domain::dimensions::short_side(
                        &config.sandbox.max_resolution,
                    )
                    .unwrap_or(1080),
                }),
                metrics_on_main: config.server.metrics_listen.is_none(),
                dashboard: config.server.dashboard,
            }),
            changes: changes.clone(),
            provider: provider.clone(),
            keys: Arc::new(vidgate_api::auth::KeyCache::new(config.auth.key_cache_ttl)),
            rates: Arc::new(vidgate_api::limits::RateLimiter::default()),
            metrics: vidgate_api::metrics::install(),
            statuses: {
                let cache = Arc::new(vidgate_api::status_cache::StatusCache::default());
                cache.follow(changes.follow());
                cache
            },
        };
        let tls = match (&config.server.tls_cert, &config.server.tls_key) {
            (Some(cert), Some(key)) => Some(
                axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
                    .await
                    .with_context(|| {
                        format!(
                            "cannot load the TLS certificate {} and key {}",
                            cert.display(),
                            key.display()
                        )
                    })?,
            ),
            _ => None,
        };
        let addr = config.server.listen;
        let listener =
            TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr}"))?;
        let metrics = match config.server.metrics_listen {
            None => None,
            Some(at) => {
                let bound = TcpListener::bind(at)
                    .await
                    .with_context(|| format!("cannot listen on {at} (server.metrics_listen)"))?;
                Some((bound, vidgate_api::metrics_router(state.clone())))
            }
        };
        Ok(Application {
            listener,
            metrics,
            tls,
            router: if !config.server.role.serves_api() {
                vidgate_api::ops_router(state)
            } else {
                vidgate_api::router(state)
            },
            store,
            provider,
            workers,
            config,
            mode: options.workers,
            changes,
            first_key,
            streams_closed,
        })
    }

    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    /// Where `/metrics` is served when it has its own listener.
    pub fn metrics_addr(&self) -> Option<std::net::SocketAddr> {
        self.metrics.as_ref().and_then(|(l, _)| l.local_addr().ok())
    }

    /// Serves until `shutdown` is cancelled, then stops taking work and drains.
    pub async fn run_until_stopped(mut self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let mut set = JoinSet::new();
        let workers_token = CancellationToken::new();
        self.forward_store_events(&mut set, workers_token.clone()).await;
        let runs_workers = self.config.server.role.runs_workers();
        if !runs_workers && self.store.backend() == "sqlite" {
            tracing::warn!("role api on a SQLite store: no process will run this store's workers");
        }
        if self.mode == WorkerMode::Background && runs_workers {
            let w = &self.config.workers;
            let cfg = |concurrency, idle_wait| RunnerConfig {
                concurrency,
                idle_wait,
                error_backoff: w.error_backoff,
            };
            runner::spawn(
                &mut set,
                self.workers.dispatcher.clone(),
                cfg(w.dispatcher_concurrency, w.idle_wait),
                self.changes.dispatcher.clone(),
                workers_token.clone(),
            );
            runner::spawn(
                &mut set,
                self.workers.poller.clone(),
                cfg(w.poller_concurrency, w.idle_wait),
                self.changes.poller.clone(),
                workers_token.clone(),
            );
            runner::spawn(
                &mut set,
                self.workers.reaper.clone(),
                cfg(1, w.reaper_interval),
                Arc::new(Notify::new()),
                workers_token.clone(),
            );
            runner::spawn(
                &mut set,
                self.workers.webhooks.clone(),
                cfg(w.webhook_concurrency, w.idle_wait),
                self.changes.webhooks.clone(),
                workers_token.clone(),
            );
            runner::spawn(
                &mut set,
                self.workers.janitor.clone(),
                cfg(1, w.media_sweep_interval),
                Arc::new(Notify::new()),
                workers_token.clone(),
            );
            if self.provider.pulls_events() {
                // PullEvents itself waits for events; a short pause covers upstream errors.
                runner::spawn(
                    &mut set,
                    self.workers.events.clone(),
                    cfg(1, std::time::Duration::from_millis(500)),
                    Arc::new(Notify::new()),
                    workers_token.clone(),
                );
            }
        }
        let options = ServeOptions {
            header_read_timeout: self.config.server.header_read_timeout,
            max_connections: self.config.server.max_connections,
            shutdown_deadline: self.config.server.shutdown_deadline,
            tls: self.tls.as_ref().map(|t| t.get_inner()),
        };
        if let Some((listener, router)) = self.metrics.take() {
            let plain = ServeOptions { tls: None, ..options.clone() };
            set.spawn(crate::serve::serve(listener, router, plain, shutdown.clone()));
        }
        // Open status streams end at shutdown (they would otherwise hold their connections).
        let streams = self.streams_closed.clone();
        let stop = shutdown.clone();
        tokio::spawn(async move {
            stop.cancelled().await;
            streams.cancel();
        });
        tracing::info!(addr = %self.local_addr(), store = self.store.backend(), role = %self.config.server.role, "vidgate is serving");
        crate::serve::serve(self.listener, self.router, options, shutdown).await;
        tracing::info!("shutting down: no new work; draining in-flight steps");
        workers_token.cancel();
        let abandoned = runner::drain(&mut set, self.config.server.shutdown_deadline).await;
        if abandoned > 0 {
            tracing::warn!(
                abandoned,
                "some worker steps did not finish in time; their leases will expire and another worker will take over"
            );
        }
        Ok(())
    }
}

impl Application {
    /// Turns the store's change feed into worker wake-ups and status-cache invalidation, for
    /// changes made by this process and by any other sharing the store; idle polling stays
    /// the fallback.
    async fn forward_store_events(&self, set: &mut JoinSet<()>, stop: CancellationToken) {
        let events = match self.store.events().await {
            Ok(Some(events)) => events,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "cannot subscribe to store events; workers fall back to polling");
                return;
            }
        };
        let changes = self.changes.clone();
        set.spawn(async move {
            use futures::StreamExt;
            let mut events = events;
            loop {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    e = events.next() => match e {
                        Some(event) => changes.apply(event),
                        None => break,
                    },
                }
            }
        });
    }
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
