//! Upstream accounts and the provider's settings.

use std::time::Duration;

use url::Url;
use vidgate_domain::Secret;

pub const DEFAULT_ENDPOINT: &str = "https://vod.tencentcloudapi.com";
pub const VERSION: &str = "2018-07-17";
pub const SERVICE: &str = "vod";

/// One Tencent Cloud account (credentials + VOD application). `Debug` shows no secret.
#[derive(Debug, Clone)]
pub struct TencentAccount {
    /// A name for logs, metrics and the task's `account` column.
    pub name: String,
    pub secret_id: String,
    pub secret_key: Secret,
    pub sub_app_id: u64,
    pub endpoint: Url,
    pub region: Option<String>,
    /// Tasks this account may run at once (Tencent's default quota is 1).
    pub concurrency: i64,
    /// `CreateAigcVideoTask` calls per second (Tencent's limit is 20).
    pub create_rate: f64,
}

impl TencentAccount {
    /// The `Host` header (and signed host): the endpoint's host, with its port when it has one.
    pub fn host(&self) -> String {
        let host = self.endpoint.host_str().unwrap_or_default();
        match self.endpoint.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_owned(),
        }
    }
}

/// How vidgate learns that a job finished, besides polling (which always runs as a fallback).
/// `tencent.events` in the configuration: `"off"`, `"pull"` or `"push"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EventMode {
    /// Poll `DescribeTaskDetail` only.
    Off,
    /// Reliable mode: a `PullEvents`/`ConfirmEvents` loop.
    Pull,
    /// HTTP callbacks to `POST /callbacks/tencent-vod`.
    Push,
}

#[derive(Debug, Clone)]
pub struct TencentConfig {
    pub accounts: Vec<TencentAccount>,
    /// `DescribeTaskDetail` calls per second across all accounts of this process.
    pub describe_rate: f64,
    pub request_timeout: Duration,
    /// First poll this long after submit; later polls back off with the job's age
    /// (`age × poll_backoff`), up to `poll_max`.
    pub poll_initial: Duration,
    pub poll_backoff: f64,
    pub poll_max: Duration,
    pub events: EventMode,
    /// Push callbacks must carry `Sign = md5(key + T)` with `T` in the future, when set.
    pub callback_sign_key: Option<Secret>,
    /// How many `DescribeTasks` pages (100 tasks each) a reconciliation may read.
    pub reconcile_pages: usize,
}
