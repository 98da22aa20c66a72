//! A local stand-in for Tencent Cloud VOD's AIGC video API, good enough that vidgate cannot tell
//! the difference: it checks TC3 signatures against its configured credentials, implements
//! `CreateAigcVideoTask`, `DescribeTaskDetail`, `DescribeTasks`, `PullEvents` and
//! `ConfirmEvents` (plus push callbacks), validates parameters like the upstream, enforces the
//! per-account concurrency quota (extra tasks wait) and the 20/s create limit, refuses a
//! repeated `SessionId` for 3 days, moves tasks `WAITING` → `PROCESSING` → `FINISH` on its clock
//! and serves a real MP4 for each. Faults (errors, 5xx, slowness, dropped connections, failed
//! tasks) are injected by configuration, and `/__emulator/stats` counts what it accepted.

mod actions;
mod auth;
mod config;
mod faults;
mod file;
mod http;
mod push;
mod state;
mod validate;

pub use config::{EmulatorAccount, EmulatorConfig, Faults};
pub use file::{EmulatorFile, default_account, load_catalog};
pub use http::router;
pub use state::{Emulator, JobRecord, Stats};

/// Runs `step` every 100 ms until the token is cancelled (the emulator as a server).
pub async fn tick(emulator: std::sync::Arc<Emulator>, stop: tokio_util::sync::CancellationToken) {
    let mut interval = tokio::time::interval(std::time::Duration::from_millis(100));
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = interval.tick() => { emulator.step().await; }
        }
    }
}
