//! The seam the binary and the tests share: `Application::build(config, options)` opens the
//! store, bootstraps keys, picks the provider, binds the listener (port 0 in tests) and wires
//! the workers; `run_until_stopped` serves until shutdown and drains. Tests build with
//! `workers: Manual` and drive `run_once` themselves.

use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use vidgate_domain::{Clock, SystemClock};
use vidgate_providers::Provider;
use vidgate_store::{Changes, Store};
use vidgate_workers::runner;

use crate::bootstrap::ensure_keys;
use crate::config::Config;
use crate::provider_select::open_provider;
use crate::serve::ServeOptions;
use crate::store_select::open_sql_store;
use crate::wiring;
pub use crate::wiring::Workers;

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
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            clock: Arc::new(SystemClock),
            workers: WorkerMode::Background,
            announce_first_key: true,
        }
    }
}

pub struct Application {
    listener: TcpListener,
    /// `/metrics` on a listener of its own, when `server.metrics_listen` is set.
    metrics: Option<(TcpListener, axum::Router)>,
    /// Set when the listener serves HTTPS.
    tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
    router: axum::Router,
    pub store: Arc<dyn Store>,
    /// Faults tests plan for the store's statements (nothing is planned otherwise).
    pub faults: Arc<vidgate_store::FaultPlan>,
    pub provider: Arc<dyn Provider>,
    pub workers: Workers,
    config: Config,
    mode: WorkerMode,
    /// Wake-ups and task-change notices, fed by the store's change feed.
    changes: Arc<Changes>,
    /// First key created by this start, if any (also printed when announcing).
    pub first_key: Option<String>,
    /// The API's status cache (its counters, for tests and diagnostics).
    pub statuses: Arc<vidgate_api::status_cache::StatusCache>,
    /// Cancelled at shutdown: open status streams end.
    streams_closed: CancellationToken,
    /// The model catalog in force, shared with the API and the sandbox.
    models: Arc<vidgate_domain::models::live::LiveModels>,
    clock: Arc<dyn Clock>,
    /// The API's rate limiter (tests read the share of each key's limits it enforces).
    pub rates: Arc<vidgate_api::limits::RateLimiter>,
    /// This process's name in the store's replica count.
    pub replica_id: String,
}

impl Application {
    pub async fn build(config: Config, options: BuildOptions) -> anyhow::Result<Application> {
        config.validate()?;
        std::fs::create_dir_all(&config.store.data_dir).with_context(|| {
            format!("cannot create the data directory {}", config.store.data_dir.display())
        })?;
        let media = vidgate_media::MediaStore::open(
            &config.media.settings(&config.store.data_dir),
            config.media.part_size,
        )
        .context("media store")?;
        let sql = open_sql_store(&config).await?;
        let faults = sql.fault_plan();
        let store: Arc<dyn Store> = Arc::new(sql);
        let first_key = ensure_keys(store.as_ref(), &config, options.clock.now_ms()).await?;
        if let (Some(key), true) = (&first_key, options.announce_first_key) {
            println!("vidgate: created the first API key (shown only now, store it): {key}");
        }
        let models = Arc::new(config.rules.models(&config.accounting)?);
        vidgate_api::catalog::reload(store.as_ref(), &models)
            .await
            .context("the operator's stored model-catalog entries")?;
        let provider =
            open_provider(&config, options.clock.clone(), &config.egress.allow, &media, &models)?;
        let changes = Arc::new(Changes::default());
        let ctx =
            wiring::worker_context(&config, &store, &provider, &options.clock, &changes, &media)?;
        let workers = Workers::new(ctx, &config)?;
        let streams_closed = CancellationToken::new();
        // Counted among the replicas before serving, so the first calls get the right share.
        let rates = Arc::new(vidgate_api::limits::RateLimiter::default());
        let replica_id = format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple());
        let now = options.clock.now_ms();
        vidgate_api::replicas::beat(store.as_ref(), &rates, &replica_id, now)
            .await
            .context("the replica heartbeat")?;
        let state = wiring::app_state(
            &config,
            wiring::StateParts {
                store: store.clone(),
                provider: provider.clone(),
                clock: options.clock.clone(),
                changes: changes.clone(),
                streams_closed: streams_closed.clone(),
                media,
                models: models.clone(),
                rates: rates.clone(),
            },
        )?;
        let tls = wiring::load_tls(&config)?;
        let (listener, metrics_listener) = wiring::listeners(&config).await?;
        let metrics = metrics_listener.map(|l| (l, vidgate_api::metrics_router(state.clone())));
        let statuses = state.statuses.clone();
        let router = if config.server.role.serves_api() {
            vidgate_api::router(state)
        } else {
            vidgate_api::ops_router(state)
        };
        Ok(Application {
            listener,
            metrics,
            tls,
            router,
            store,
            faults,
            provider,
            workers,
            config,
            mode: options.workers,
            changes,
            first_key,
            statuses,
            streams_closed,
            models,
            clock: options.clock,
            rates,
            replica_id,
        })
    }

    /// The model catalog in force (its aliases and prices with it).
    pub fn models(&self) -> &Arc<vidgate_domain::models::live::LiveModels> {
        &self.models
    }

    /// Re-reads the operator's stored catalog entries now (what the change feed triggers on
    /// every replica; tests call it to play a replica that heard of a change).
    pub async fn reload_models(&self) -> anyhow::Result<()> {
        vidgate_api::catalog::reload(self.store.as_ref(), &self.models).await?;
        Ok(())
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
        set.spawn(vidgate_api::catalog::follow(
            self.store.clone(),
            self.models.clone(),
            self.changes.clone(),
            workers_token.clone(),
        ));
        set.spawn(vidgate_api::replicas::heartbeat(
            self.store.clone(),
            self.rates.clone(),
            self.clock.clone(),
            self.replica_id.clone(),
            shutdown.clone(),
        ));
        let runs_workers = self.config.server.role.runs_workers();
        if !runs_workers && self.store.backend() == vidgate_store::Backend::Sqlite {
            tracing::warn!("role api on a SQLite store: no process will run this store's workers");
        }
        let accounting = &self.config.accounting;
        if self.mode == WorkerMode::Background
            && runs_workers
            && accounting.reconcile_daily
            && self.config.uses_tencent()
        {
            set.spawn(vidgate_api::reconcile::daily(
                self.store.clone(),
                self.provider.clone(),
                self.clock.clone(),
                accounting.reconcile_tolerance,
                workers_token.clone(),
            ));
        }
        if self.mode == WorkerMode::Background && runs_workers {
            let pulls = self.provider.pulls_events();
            for w in self.workers.schedule(&self.config, &self.changes, pulls) {
                runner::spawn(&mut set, w.worker, w.config, w.wake, workers_token.clone());
            }
        }
        let options = ServeOptions {
            header_read_timeout: self.config.server.header_read_timeout,
            write_stall_timeout: self.config.server.write_stall_timeout,
            max_connections: self.config.server.max_connections,
            shutdown_deadline: self.config.server.shutdown_deadline,
            tls: self.tls.clone(),
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
        tracing::info!(addr = %self.local_addr(), store = %self.store.backend(), role = %self.config.server.role, "vidgate is serving");
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
