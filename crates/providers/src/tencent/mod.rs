//! The real upstream: Tencent Cloud VOD's AIGC video API (`CreateAigcVideoTask`,
//! `DescribeTaskDetail`, version 2018-07-17, service `vod`). Requests are signed with
//! TC3-HMAC-SHA256 (`sign`), sent by `client`, mapped by `mapping`. Finished-job events
//! (`PullEvents` or push callbacks) are a fast path; polling always runs as the fallback, and
//! the store's fencing makes sure an event and a poll never complete a task twice.
//!
//! Never two upstream jobs for one request: the upstream `SessionId` is vidgate's request id,
//! so a resubmission after a crash is refused upstream as a duplicate, and `reconcile` finds
//! the job the first submission created.

mod account;
pub mod client;
pub mod errors;
mod event_cache;
mod events;
mod mapping;
mod rate;
pub mod sign;
mod usage;
pub mod wire;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};
use vidgate_domain::{Clock, Pool, RequestId};

pub use account::{DEFAULT_ENDPOINT, EventMode, TencentAccount, TencentConfig};
use client::{ApiClient, CallError};
pub use events::callback_sign;
pub use mapping::create_body;
use wire::{AigcVideoTask, TaskDetail, TaskList};

use crate::{
    Account, PollJob, PollStatus, Provider, ProviderError, PushAuth, PushError, SubmitJob,
    Submitted, UpstreamEvent,
};

pub struct TencentProvider {
    config: TencentConfig,
    client: ApiClient,
    clock: Arc<dyn Clock>,
    /// What pulled events said about finished jobs, by upstream task id, until the next poll.
    from_events: event_cache::EventCache,
}

impl std::fmt::Debug for TencentProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TencentProvider").field("config", &self.config).finish_non_exhaustive()
    }
}

impl TencentProvider {
    pub fn new(config: TencentConfig, clock: Arc<dyn Clock>) -> Result<Self, crate::SetupError> {
        if config.accounts.is_empty() {
            return Err(crate::SetupError::NoAccounts);
        }
        let client = ApiClient::new(
            &config.accounts,
            config.describe_rate,
            config.request_timeout,
            clock.clone(),
        )?;
        Ok(TencentProvider { config, client, clock, from_events: Default::default() })
    }

    fn account(&self, name: &str) -> Result<&TencentAccount, ProviderError> {
        self.config.accounts.iter().find(|a| a.name == name).ok_or_else(|| {
            ProviderError::fatal(
                "UnknownAccount",
                format!("no upstream account named {name:?} is configured"),
            )
        })
    }

    fn remember(&self, task: AigcVideoTask) {
        let Some(id) = task.task_id.clone() else { return };
        self.from_events.put(id, mapping::event_status(&task));
    }

    /// The upstream says this request's `SessionId` already named a job: find that job. It
    /// was created by an earlier attempt whose answer was lost (a crash, a timeout).
    async fn reconcile(
        &self,
        account: &TencentAccount,
        request_id: RequestId,
    ) -> Result<Submitted, ProviderError> {
        self.lookup(account, request_id).await?.ok_or_else(|| {
            ProviderError::fatal(
                "upstream_task_unknown",
                "the upstream refused the resubmission as a duplicate SessionId, but the job an earlier attempt created cannot be found with DescribeTasks; it may still run (and bill) upstream",
            )
        })
    }

    /// The job whose `SessionId` is this request's id, among the account's newest
    /// `reconcile_pages` × 100 tasks (`DescribeTasks`).
    async fn lookup(
        &self,
        account: &TencentAccount,
        request_id: RequestId,
    ) -> Result<Option<Submitted>, ProviderError> {
        let session = request_id.to_string();
        let mut scroll: Option<String> = None;
        for _ in 0..self.config.reconcile_pages.max(1) {
            let mut params = json!({"SubAppId": account.sub_app_id, "Limit": 100, "Sort": {"Field": "CreateTime", "Order": "Desc"}});
            if let Some(token) = &scroll {
                params["ScrollToken"] = json!(token);
            }
            let page: TaskList = self
                .client
                .call(account, "DescribeTasks", &params)
                .await
                .map_err(CallError::into_provider_error)
                .and_then(|v| {
                    serde_json::from_value(v)
                        .map_err(|e| ProviderError::retryable("BadResponse", e.to_string()))
                })?;
            let tasks = page.task_set.unwrap_or_default();
            if let Some(found) = tasks.iter().find(|t| t.session_id.as_deref() == Some(&session))
                && let Some(id) = &found.task_id
            {
                return Ok(Some(Submitted { upstream_task_id: id.clone() }));
            }
            match page.scroll_token.filter(|t| !t.is_empty()) {
                Some(t) if !tasks.is_empty() => scroll = Some(t),
                _ => break,
            }
        }
        Ok(None)
    }

    fn verify_push(&self, auth: &PushAuth) -> Result<(), PushError> {
        // Push mode refuses to start without a key; without one nothing is accepted.
        let Some(key) = self.config.callback_sign_key.as_ref().filter(|k| !k.is_empty()) else {
            return Err(PushError::BadSignature);
        };
        if events::push_signature_valid(key.expose(), auth, self.clock.now_ms()) {
            Ok(())
        } else {
            Err(PushError::BadSignature)
        }
    }
}

#[async_trait]
impl Provider for TencentProvider {
    fn pool(&self) -> Pool {
        Pool::Tencent
    }

    fn accounts(&self) -> Vec<Account> {
        self.config
            .accounts
            .iter()
            .map(|a| Account { id: a.name.clone(), concurrency: a.concurrency })
            .collect()
    }

    async fn submit(&self, job: SubmitJob<'_>) -> Result<Submitted, ProviderError> {
        let account = self.account(job.account)?;
        let body = create_body(job.request, account.sub_app_id, job.request_id);
        match self.client.call(account, "CreateAigcVideoTask", &body).await {
            Ok(v) => match v.get("TaskId").and_then(Value::as_str).filter(|s| !s.is_empty()) {
                Some(id) => Ok(Submitted { upstream_task_id: id.to_owned() }),
                None => Err(ProviderError::retryable(
                    "BadResponse",
                    "CreateAigcVideoTask answered without a TaskId",
                )),
            },
            Err(CallError::Api { code, message, .. })
                if errors::is_duplicate_session(&code, &message) =>
            {
                tracing::warn!(request = %job.request_id, attempt = job.attempt, "duplicate SessionId upstream; reconciling with the existing job");
                self.reconcile(account, job.request_id).await
            }
            Err(e) => Err(e.into_provider_error()),
        }
    }

    async fn find(&self, job: SubmitJob<'_>) -> Result<Option<Submitted>, ProviderError> {
        self.lookup(self.account(job.account)?, job.request_id).await
    }

    async fn poll(&self, job: PollJob<'_>) -> Result<PollStatus, ProviderError> {
        if let Some(status) = self.from_events.take(job.upstream_task_id) {
            return Ok(status);
        }
        let account = self.account(job.account)?;
        let params = json!({"TaskId": job.upstream_task_id, "SubAppId": account.sub_app_id});
        let v = self
            .client
            .call(account, "DescribeTaskDetail", &params)
            .await
            .map_err(CallError::into_provider_error)?;
        let detail: TaskDetail = serde_json::from_value(v).map_err(|e| {
            ProviderError::retryable("BadResponse", format!("DescribeTaskDetail: {e}"))
        })?;
        mapping::poll_status(&detail)
            .map_err(|e| ProviderError::retryable("BadResponse", e.to_string()))
    }

    fn poll_delay(&self, since_submit: Duration) -> Duration {
        let c = &self.config;
        since_submit
            .mul_f64(c.poll_backoff.max(0.0))
            .clamp(c.poll_initial, c.poll_max.max(c.poll_initial))
    }

    fn pulls_events(&self) -> bool {
        self.config.events == EventMode::Pull
    }

    async fn usage_data(
        &self,
        from: chrono::NaiveDate,
        to: chrono::NaiveDate,
    ) -> Result<Option<Vec<crate::UpstreamUsage>>, ProviderError> {
        let mut all = Vec::new();
        for account in &self.config.accounts {
            let query = usage::query(account.sub_app_id, from, to);
            let v = self
                .client
                .call(account, "DescribeAigcUsageData", &query)
                .await
                .map_err(CallError::into_provider_error)?;
            all.extend(usage::parse(&v).map_err(|e| {
                ProviderError::retryable("BadResponse", format!("DescribeAigcUsageData: {e}"))
            })?);
        }
        Ok(Some(usage::sum(all)))
    }

    async fn pull_events(&self) -> Result<Vec<UpstreamEvent>, ProviderError> {
        let mut found = Vec::new();
        for account in &self.config.accounts {
            let v = self
                .client
                .call(account, "PullEvents", &json!({"SubAppId": account.sub_app_id}))
                .await
                .map_err(CallError::into_provider_error)?;
            for event in events::parse_event_set(&v) {
                if let Some((e, task)) = events::to_upstream_event(event, &account.name) {
                    self.remember(task);
                    found.push(e);
                }
            }
        }
        Ok(found)
    }

    async fn confirm_events(&self, events: &[UpstreamEvent]) -> Result<(), ProviderError> {
        for account in &self.config.accounts {
            let handles: Vec<&str> = events
                .iter()
                .filter(|e| e.account == account.name)
                .filter_map(|e| e.handle.as_deref())
                .collect();
            for chunk in handles.chunks(16) {
                self.client
                    .call(
                        account,
                        "ConfirmEvents",
                        &json!({"SubAppId": account.sub_app_id, "EventHandles": chunk}),
                    )
                    .await
                    .map_err(CallError::into_provider_error)?;
            }
        }
        Ok(())
    }

    /// A pushed event is only a hint: it makes the task it names due for a poll, and the poll
    /// asks the upstream (`DescribeTaskDetail`). Nothing the callback body says is kept, so
    /// even a correctly signed but forged body cannot complete a task or fill memory.
    fn receive_push(&self, body: &[u8], auth: &PushAuth) -> Result<Vec<UpstreamEvent>, PushError> {
        if self.config.events != EventMode::Push {
            return Err(PushError::NotSupported);
        }
        self.verify_push(auth)?;
        let event: wire::EventContent =
            serde_json::from_slice(body).map_err(|e| PushError::BadBody(e.to_string()))?;
        let account = self.config.accounts.first().map(|a| a.name.clone()).unwrap_or_default();
        Ok(events::to_upstream_event(event, &account)
            // Both the upstream TaskId and our SessionId must name the same running task.
            .filter(|(e, _)| e.request_id.is_some())
            .map(|(e, _)| UpstreamEvent { handle: None, ..e })
            .into_iter()
            .collect())
    }
}

#[cfg(test)]
mod tests;
