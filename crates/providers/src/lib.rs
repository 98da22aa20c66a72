//! Upstream providers behind one trait. A provider turns a validated `VideoRequest` into an
//! upstream job (`submit`) and reports how that job is doing (`poll`); the workers own
//! everything else (queueing, leases, retries, storage). `sandbox` renders real MP4s locally
//! so vidgate works with no credentials at all.

mod output;
pub mod sandbox;
mod setup_error;
pub mod tencent;

pub use setup_error::SetupError;

use std::time::Duration;

use async_trait::async_trait;
use vidgate_domain::{ErrorType, Millis, Pool, RequestId, VideoRequest};

pub use output::{StoredFile, UpstreamOutput};

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
    /// The id of the API key that owns the request (whose media it may name).
    pub key_id: &'a str,
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
        code: ErrorType,
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

/// An upstream's word that a job finished (from `PullEvents` or a push callback). The
/// provider keeps what the event said, so the next poll of that job answers without a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamEvent {
    /// vidgate's request id, when the event names it (the upstream echoes our `SessionId`).
    pub request_id: Option<RequestId>,
    pub upstream_task_id: String,
    pub account: String,
    /// What `confirm_events` hands back to the upstream (reliable mode).
    pub handle: Option<String>,
}

/// The authentication a push callback carried (wherever it carried it: query or headers).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushAuth {
    pub sign: Option<String>,
    pub t: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    #[error("this provider takes no push callbacks")]
    NotSupported,
    #[error("the callback's signature is missing, wrong or expired")]
    BadSignature,
    #[error("the callback body is not an event: {0}")]
    BadBody(String),
}

/// One day's usage of one product, as the upstream's usage API reports it
/// (`DescribeAigcUsageData`: days in UTC+8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamUsage {
    pub day: chrono::NaiveDate,
    /// `AigcUsageDataItem.Specification`.
    pub specification: String,
    /// Jobs billed.
    pub count: i64,
    /// Seconds billed (video).
    pub usage: i64,
}

#[async_trait]
pub trait Provider: Send + Sync {
    /// The queue this provider serves; tasks carry it as their pool.
    fn pool(&self) -> Pool;

    fn accounts(&self) -> Vec<Account>;

    async fn submit(&self, job: SubmitJob<'_>) -> Result<Submitted, ProviderError>;

    async fn poll(&self, job: PollJob<'_>) -> Result<PollStatus, ProviderError>;

    /// The upstream job an earlier submit of this request created, if there is one: asked
    /// before a request whose earlier attempt's answer was lost is cancelled or given up on,
    /// since the upstream bills a job vidgate never heard back about. `None`: the upstream
    /// has no job for it (a provider whose submits cannot be lost has none to find).
    async fn find(&self, _job: SubmitJob<'_>) -> Result<Option<Submitted>, ProviderError> {
        Ok(None)
    }

    /// When to poll a job next, given how long ago it was submitted.
    fn poll_delay(&self, since_submit: Duration) -> Duration;

    /// Deletes stored media whose retention is over; returns how many outputs went. Only
    /// providers that store files themselves (the sandbox) have anything to do.
    async fn expire_media(&self) -> Result<u64, ProviderError> {
        Ok(0)
    }

    /// What the upstream says it billed for `from..=to` (days in UTC+8), summed over this
    /// provider's accounts; `None`: this upstream has no usage API (the sandbox).
    async fn usage_data(
        &self,
        _from: chrono::NaiveDate,
        _to: chrono::NaiveDate,
    ) -> Result<Option<Vec<UpstreamUsage>>, ProviderError> {
        Ok(None)
    }

    /// Whether a worker should run `pull_events` (reliable event mode).
    fn pulls_events(&self) -> bool {
        false
    }

    /// Waits (briefly) for finished-job events. Confirm them with `confirm_events` once they
    /// are recorded; unconfirmed events come back later.
    async fn pull_events(&self) -> Result<Vec<UpstreamEvent>, ProviderError> {
        Ok(Vec::new())
    }

    async fn confirm_events(&self, _events: &[UpstreamEvent]) -> Result<(), ProviderError> {
        Ok(())
    }

    /// Takes a push callback's body; returns the finished jobs it reports.
    fn receive_push(
        &self,
        _body: &[u8],
        _auth: &PushAuth,
    ) -> Result<Vec<UpstreamEvent>, PushError> {
        Err(PushError::NotSupported)
    }
}
