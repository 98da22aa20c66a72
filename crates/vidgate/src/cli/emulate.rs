//! `vidgate emulate tencent-vod`: the Tencent VOD emulator as a server.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Subcommand;
use tokio_util::sync::CancellationToken;
use vidgate_domain::SystemClock;
use vidgate_emulator::{Emulator, EmulatorFile, router, tick};

use crate::startup::shutdown_signal;

#[derive(Debug, Subcommand)]
pub enum Target {
    /// Tencent Cloud VOD's AIGC video API (CreateAigcVideoTask, DescribeTaskDetail,
    /// DescribeTasks, PullEvents, ConfirmEvents, push callbacks).
    TencentVod {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:9000")]
        listen: String,
        /// Emulator settings (TOML: accounts, timings, faults). Without it: one account, see
        /// the startup message.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Where rendered videos are kept.
        #[arg(long, default_value = "./emulator-data")]
        data_dir: PathBuf,
    },
}

pub async fn run(target: Target) -> ExitCode {
    let Target::TencentVod { listen, config, data_dir } = target;
    crate::telemetry::init(&crate::config::Config::defaults().log);
    let file = match &config {
        Some(path) => match std::fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|t| EmulatorFile::parse(&t))
        {
            Ok(f) => f,
            Err(e) => return super::fail(format!("{}: {e}", path.display())),
        },
        None => EmulatorFile::default(),
    };
    let listener = match tokio::net::TcpListener::bind(&listen).await {
        Ok(l) => l,
        Err(e) => return super::fail(format!("cannot listen on {listen}: {e}")),
    };
    let addr = listener.local_addr().map(|a| a.to_string()).unwrap_or(listen);
    let settings = match file.into_config(data_dir.join("files"), format!("http://{addr}")) {
        Ok(c) => c,
        Err(e) => return super::fail(e),
    };
    eprintln!("vidgate: emulating Tencent VOD at http://{addr}");
    for a in &settings.accounts {
        eprintln!(
            "  account SecretId {} SubAppId {} (concurrency {})",
            a.secret_id, a.sub_app_id, a.concurrency
        );
    }
    if config.is_none() {
        let a = &settings.accounts[0];
        eprintln!(
            "  point vidgate at it: TENCENTCLOUD_SECRET_ID={} TENCENTCLOUD_SECRET_KEY={} VIDGATE_TENCENT_SUBAPP_ID={} VIDGATE_TENCENT_ENDPOINT=http://{addr}",
            a.secret_id, a.secret_key, a.sub_app_id
        );
    }
    let emulator = Emulator::new(settings, Arc::new(SystemClock));
    let stop = CancellationToken::new();
    let ticker = tokio::spawn(tick(emulator.clone(), stop.clone()));
    let serve = axum::serve(listener, router(emulator)).with_graceful_shutdown(shutdown_signal());
    let result = serve.await;
    stop.cancel();
    let _ = ticker.await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => super::fail(format!("the emulator failed: {e}")),
    }
}
