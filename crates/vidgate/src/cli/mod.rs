//! The command line: `serve`, `keys`, `usage`, the client commands (`submit`, `status`,
//! `result`, `cancel`), `migrate` and `config default`.

mod admin;
mod client;
mod emulate;
mod key_limits;
mod keys;
mod models;
mod progress;
mod reconcile;
mod usage;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use crate::config::{Config, DEFAULT_TOML, Overrides};
use crate::startup::{Application, BuildOptions, shutdown_signal};

#[derive(Debug, Parser)]
#[command(
    name = "vidgate",
    version,
    about = "A self-hostable, fal-compatible queue gateway for AI video generation"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// Where the store is: shared by `serve`, `keys` and `migrate`.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// Configuration file (TOML; see `vidgate config default`).
    #[arg(long, env = "VIDGATE_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Data directory: the SQLite database and rendered media [default: ./data]
    /// [env: VIDGATE_DATA_DIR, read with the configuration].
    #[arg(long, global = true)]
    pub data_dir: Option<PathBuf>,
    /// A database URL that overrides the SQLite file under the data directory
    /// [env: DATABASE_URL, read with the configuration].
    #[arg(long, global = true)]
    pub database_url: Option<String>,
}

impl StoreArgs {
    fn load_serve(
        &self,
        listen: Option<String>,
        role: Option<String>,
        tls_cert: Option<String>,
        tls_key: Option<String>,
    ) -> Result<Config, crate::config::ConfigError> {
        let overrides = Overrides {
            listen,
            role,
            tls_cert,
            tls_key,
            data_dir: self.data_dir.clone(),
            database_url: self.database_url.clone(),
        };
        Config::load(self.config.as_deref(), &overrides)
    }

    fn load(
        &self,
        listen: Option<String>,
        role: Option<String>,
    ) -> Result<Config, crate::config::ConfigError> {
        let overrides = Overrides {
            listen,
            role,
            data_dir: self.data_dir.clone(),
            database_url: self.database_url.clone(),
            ..Overrides::default()
        };
        Config::load(self.config.as_deref(), &overrides)
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway: the HTTP API and the workers.
    Serve {
        /// Address to listen on [default: 127.0.0.1:8080] [env: VIDGATE_LISTEN].
        #[arg(long)]
        listen: Option<String>,
        /// What to run: all (API and workers), api, or worker [default: all]
        /// [env: VIDGATE_ROLE].
        #[arg(long, value_parser = ["all", "api", "worker"])]
        role: Option<String>,
        /// Serve HTTPS with this certificate chain (PEM); needs --tls-key [env: VIDGATE_TLS_CERT].
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<String>,
        /// The certificate's private key (PEM) [env: VIDGATE_TLS_KEY].
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Manage API keys (stored hashed), their limits and budgets; with --url, over a running
    /// vidgate's admin API.
    Keys {
        #[command(subcommand)]
        command: keys::KeysCommand,
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        remote: admin::RemoteArgs,
    },
    /// What keys spent, per day, model or key; with --url, over a running vidgate.
    Usage {
        /// `reconcile`: the books against the upstream's (see `vidgate usage reconcile --help`).
        #[command(subcommand)]
        command: Option<UsageCommand>,
        #[command(flatten)]
        args: usage::UsageArgs,
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        remote: admin::RemoteArgs,
    },
    /// Submit a video request to a running vidgate.
    Submit(Box<client::SubmitArgs>),
    /// Show a request's status.
    Status(client::IdArgs),
    /// Show a request's result, optionally downloading the video.
    Result(client::ResultArgs),
    /// Cancel a request.
    Cancel(client::IdArgs),
    /// Run a local emulator of an upstream API, for development, tests and demos.
    Emulate {
        #[command(subcommand)]
        target: emulate::Target,
    },
    /// Create or upgrade the database schema, then exit.
    Migrate {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// The model catalog: `check` compares it with the official SDK's documentation.
    Models {
        #[command(subcommand)]
        command: models::ModelsCommand,
    },
    /// Configuration helpers.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

/// What `vidgate usage` does besides its report.
#[derive(Debug, Subcommand)]
pub enum UsageCommand {
    /// An upstream day (UTC+8) of vidgate's ledger against what the upstream reported on its
    /// tasks and what its usage API billed; exits non-zero when they do not agree.
    Reconcile(reconcile::ReconcileArgs),
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print every setting with its default and a comment.
    Default,
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime")
}

fn fail(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("vidgate: {e}");
    ExitCode::FAILURE
}

pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Serve { listen, role, tls_cert, tls_key, store } => {
            let config = match store.load_serve(listen, role, tls_cert, tls_key) {
                Ok(c) => c,
                Err(e) => return fail(e),
            };
            crate::telemetry::init(&config.log);
            runtime().block_on(async move {
                let app = match Application::build(config, BuildOptions::default()).await {
                    Ok(app) => app,
                    Err(e) => return fail(format!("{e:#}")),
                };
                let token = CancellationToken::new();
                let stopper = token.clone();
                tokio::spawn(async move {
                    shutdown_signal().await;
                    stopper.cancel();
                });
                match app.run_until_stopped(token).await {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(e) => fail(format!("{e:#}")),
                }
            })
        }
        Command::Keys { command, store, remote } => match store.load(None, None) {
            Ok(config) => runtime().block_on(keys::run(command, config, remote)),
            Err(e) => fail(e),
        },
        Command::Usage { command: Some(UsageCommand::Reconcile(r)), store, remote, .. } => {
            match store.load(None, None) {
                Ok(config) => runtime().block_on(reconcile::run(r, config, remote)),
                Err(e) => fail(e),
            }
        }
        Command::Usage { command: None, args, store, remote } => match store.load(None, None) {
            Ok(config) => runtime().block_on(usage::run(args, config, remote)),
            Err(e) => fail(e),
        },
        Command::Migrate { store } => match store.load(None, None) {
            Ok(config) => runtime().block_on(async move {
                match crate::store_select::open_store(&config).await {
                    Ok(s) => {
                        println!("vidgate: {} schema is up to date", s.backend());
                        ExitCode::SUCCESS
                    }
                    Err(e) => fail(format!("{e:#}")),
                }
            }),
            Err(e) => fail(e),
        },
        Command::Emulate { target } => runtime().block_on(emulate::run(target)),
        Command::Submit(args) => runtime().block_on(client::submit(*args)),
        Command::Status(args) => runtime().block_on(client::status(args)),
        Command::Result(args) => runtime().block_on(client::result(args)),
        Command::Cancel(args) => runtime().block_on(client::cancel(args)),
        Command::Models { command } => models::run(command),
        Command::Config { command: ConfigCommand::Default } => {
            print!("{DEFAULT_TOML}");
            ExitCode::SUCCESS
        }
    }
}
