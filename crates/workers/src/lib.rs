//! vidgate's background work. Every worker has one shape: `run_once()` does one unit of work
//! and says whether there was any (`Outcome`); `runner::spawn` loops it with a concurrency
//! cap, wake-ups, error backoff and a drain on shutdown. Tests call `run_once` by hand.

mod context;
mod dispatcher;
mod events;
mod follow;
mod janitor;
pub mod media;
mod metrics;
mod poller;
mod reaper;
pub mod runner;
mod stored_result;
pub mod webhooks;

pub use context::WorkerContext;
pub use dispatcher::Dispatcher;
pub use events::EventPuller;
pub use janitor::MediaJanitor;
pub use media::MediaPolicy;
pub use poller::Poller;
pub use reaper::Reaper;
pub use runner::{Outcome, RunnerConfig, Worker, WorkerError};
pub use webhooks::WebhookSender;
