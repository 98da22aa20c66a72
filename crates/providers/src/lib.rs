//! Upstream providers behind one trait. A provider turns a validated `VideoRequest` into an
//! upstream job (`submit`) and reports how that job is doing (`poll`); the workers own
//! everything else (queueing, leases, retries, storage). `sandbox` renders real MP4s locally
//! so vidgate works with no credentials at all.

mod output;
pub mod sandbox;

use std::time::Duration;

use async_trait::async_trait;
use vidgate_domain::{Millis, RequestId, VideoRequest};

pub use output::{OutputFile, UpstreamOutput};

/// One upstream account and how many jobs it may run at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: String,
    pub concurrency: i64,
}

#[derive(Debug, Clone, Copy)]
pub struct SubmitJob<'a> {
    pub request_id: RequestId,
    pub account: &'a str,
    pub request: &'a VideoRequest,
    /// 1 for the first attempt. A later attempt may follow a crash mid-submit: the provider
    /// must not create a second upstream job for the same `request_id`.
    pub attempt: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submitted {
    pub upstream_task_id: String,
}

#[derive(Debug, Clone, Copy)]
pub struct PollJob<'a> {
    pub request_id: RequestId,
    pub account: &'a str,
    pub upstream_task_id: &'a str,
    pub submitted_at: Millis,
    pub request: &'a VideoRequest,
}

/// What the upstream says about a job.
#[derive(Debug, Clone, PartialEq)]
pub enum PollStatus {
    /// Accepted, not started (the upstream's own queue).
    Waiting,
    Processing {
        progress: u8,
    },
    Succeeded(UpstreamOutput),
    /// The job ended without a video. `code` becomes the request's `error_type`.
    Failed {
        code: String,
        message: String,
    },
}

/// Whether trying again may help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    Retryable,
    Fatal,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ProviderError {
    pub class: ErrorClass,
    /// Machine-readable (the upstream's code where it has one).
    pub code: String,
    /// Safe to show the caller: never carries credentials.
    pub message: String,
    pub retry_after: Option<Duration>,
}

impl ProviderError {
    pub fn retryable(code: impl Into<String>, message: impl Into<String>) -> Self {
        ProviderError {
            class: ErrorClass::Retryable,
            code: code.into(),
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn fatal(code: impl Into<String>, message: impl Into<String>) -> Self {
        ProviderError {
            class: ErrorClass::Fatal,
            code: code.into(),
            message: message.into(),
            retry_after: None,
        }
    }
}

#[async_trait]
pub trait Provider: Send + Sync {
    /// The queue this provider serves; tasks carry it as their pool.
    fn pool(&self) -> &str;

    fn accounts(&self) -> Vec<Account>;

    async fn submit(&self, job: SubmitJob<'_>) -> Result<Submitted, ProviderError>;

    async fn poll(&self, job: PollJob<'_>) -> Result<PollStatus, ProviderError>;

    /// When to poll a job next, given how long ago it was submitted.
    fn poll_delay(&self, since_submit: Duration) -> Duration;
}
