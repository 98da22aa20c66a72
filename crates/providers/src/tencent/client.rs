//! The signed HTTP client for Tencent Cloud API v3: one `call(account, action, params)`. It
//! serialises the body once and signs exactly those bytes, paces calls (per-account create
//! rate, a global describe rate), and turns every failure into a `CallError` that knows
//! whether a retry may help. Secret keys go into the signature and nowhere else.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use serde_json::Value;
use vidgate_domain::Clock;

use super::account::{SERVICE, TencentAccount, VERSION};
use super::errors::classify;
use super::rate::TokenBucket;
use super::sign::{SignInput, sign};
use crate::{ErrorClass, ProviderError};

const JSON: &str = "application/json";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// The upstream answered with `Response.Error`.
    Api { code: String, message: String, request_id: Option<String> },
    /// The upstream answered with a non-200 HTTP status.
    Http { status: u16 },
    /// The call may or may not have reached the upstream (connect failure, timeout, reset).
    Transport { message: String },
    /// A 200 whose body is not the upstream's JSON envelope.
    Decode { message: String },
}

impl CallError {
    pub fn class(&self) -> ErrorClass {
        match self {
            CallError::Api { code, .. } => {
                if !super::errors::known(code) {
                    tracing::warn!(%code, "an upstream error code vidgate does not know; treating it as fatal");
                }
                classify(code)
            }
            CallError::Http { status } => {
                if *status >= 500 || *status == 429 {
                    ErrorClass::Retryable
                } else {
                    ErrorClass::Fatal
                }
            }
            CallError::Transport { .. } | CallError::Decode { .. } => ErrorClass::Retryable,
        }
    }

    pub fn code(&self) -> String {
        match self {
            CallError::Api { code, .. } => code.clone(),
            CallError::Http { status } => format!("HttpStatus{status}"),
            CallError::Transport { .. } => "NetworkError".into(),
            CallError::Decode { .. } => "BadResponse".into(),
        }
    }

    pub fn message(&self) -> String {
        match self {
            CallError::Api { message, request_id, .. } => match request_id {
                Some(id) => format!("{message} (upstream RequestId {id})"),
                None => message.clone(),
            },
            CallError::Http { status } => format!("the upstream answered HTTP {status}"),
            CallError::Transport { message } | CallError::Decode { message } => message.clone(),
        }
    }

    pub fn into_provider_error(self) -> ProviderError {
        ProviderError {
            class: self.class(),
            code: self.code(),
            message: self.message(),
            retry_after: None,
        }
    }
}

pub struct ApiClient {
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    create_limits: HashMap<String, TokenBucket>,
    describe_limit: TokenBucket,
}

impl ApiClient {
    pub fn new(
        accounts: &[TencentAccount],
        describe_rate: f64,
        timeout: Duration,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, crate::SetupError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            // The upstream never redirects; following one could send the body elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|source| crate::SetupError::HttpClient { what: "upstream", source })?;
        let create_limits = accounts
            .iter()
            .map(|a| (a.name.clone(), TokenBucket::new(a.create_rate, a.create_rate)))
            .collect();
        Ok(ApiClient {
            http,
            clock,
            create_limits,
            describe_limit: TokenBucket::new(describe_rate, describe_rate),
        })
    }

    async fn pace(&self, account: &TencentAccount, action: &str) {
        match action {
            "CreateAigcVideoTask" => {
                if let Some(b) = self.create_limits.get(&account.name) {
                    b.acquire().await;
                }
            }
            "DescribeTaskDetail" | "DescribeTasks" => self.describe_limit.acquire().await,
            _ => {}
        }
    }

    /// Calls `action` with `params` and returns `Response` (without `RequestId`). Each call
    /// is counted and timed (`vidgate_upstream_calls_total`, `…_call_duration_seconds`) by
    /// action and outcome code; the pacing wait is not part of the time.
    pub async fn call(
        &self,
        account: &TencentAccount,
        action: &str,
        params: &Value,
    ) -> Result<Value, CallError> {
        self.pace(account, action).await;
        let started = std::time::Instant::now();
        let result = self.send(account, action, params).await;
        let code = match &result {
            Ok(_) => "ok".to_owned(),
            Err(CallError::Api { code, .. }) => code.clone(),
            Err(CallError::Http { status }) => format!("HTTP{status}"),
            Err(CallError::Transport { .. }) => "NetworkError".to_owned(),
            Err(CallError::Decode { .. }) => "DecodeError".to_owned(),
        };
        let labels =
            [("provider", "tencent".to_owned()), ("action", action.to_owned()), ("code", code)];
        metrics::counter!("vidgate_upstream_calls_total", &labels).increment(1);
        metrics::histogram!("vidgate_upstream_call_duration_seconds", &labels)
            .record(started.elapsed().as_secs_f64());
        result
    }

    async fn send(
        &self,
        account: &TencentAccount,
        action: &str,
        params: &Value,
    ) -> Result<Value, CallError> {
        let body =
            serde_json::to_vec(params).map_err(|e| CallError::Decode { message: e.to_string() })?;
        let host = account.host();
        let timestamp = self.clock.now_ms().div_euclid(1000);
        let signed = sign(&SignInput {
            secret_id: &account.secret_id,
            secret_key: account.secret_key.expose(),
            service: SERVICE,
            host: &host,
            content_type: JSON,
            timestamp,
            payload: &body,
            extra_headers: &[("x-tc-action", action)],
        });
        let mut request = self
            .http
            .post(account.endpoint.clone())
            .header(HOST, &host)
            .header(CONTENT_TYPE, JSON)
            .header("X-TC-Action", action)
            .header("X-TC-Version", VERSION)
            .header("X-TC-Timestamp", timestamp.to_string())
            .header("X-TC-Language", "en-US")
            .header(AUTHORIZATION, &signed.authorization);
        if let Some(region) = &account.region {
            request = request.header("X-TC-Region", region);
        }
        let response = request.body(body).send().await.map_err(|e| CallError::Transport {
            message: format!("{action} to {} failed: {}", account.endpoint, without_url(&e)),
        })?;
        let status = response.status().as_u16();
        if status != 200 {
            return Err(CallError::Http { status });
        }
        let bytes = response.bytes().await.map_err(|e| CallError::Transport {
            message: format!("{action}: reading the answer failed: {}", without_url(&e)),
        })?;
        parse_envelope(&bytes)
    }
}

/// reqwest's errors print the URL; ours never carries secrets, but keep messages short.
fn without_url(e: &reqwest::Error) -> String {
    let mut msg = e.to_string();
    if let Some(url) = e.url() {
        msg = msg.replace(url.as_str(), "");
    }
    if e.is_timeout() { format!("timed out ({})", msg.trim()) } else { msg.trim().to_owned() }
}

/// `{"Response": {…, "RequestId"}}` or `{"Response": {"Error": {"Code", "Message"}, "RequestId"}}`.
pub fn parse_envelope(bytes: &[u8]) -> Result<Value, CallError> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| CallError::Decode {
        message: format!("the upstream's answer is not JSON: {e}"),
    })?;
    let Some(Value::Object(response)) = v.get("Response") else {
        return Err(CallError::Decode {
            message: "the upstream's answer has no Response object".into(),
        });
    };
    if let Some(error) = response.get("Error") {
        return Err(CallError::Api {
            code: error.get("Code").and_then(Value::as_str).unwrap_or("UnknownError").to_owned(),
            message: error.get("Message").and_then(Value::as_str).unwrap_or_default().to_owned(),
            request_id: response.get("RequestId").and_then(Value::as_str).map(str::to_owned),
        });
    }
    Ok(Value::Object(response.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_parse_into_results_and_classified_errors() {
        let ok = parse_envelope(br#"{"Response":{"TaskId":"t-1","RequestId":"r-1"}}"#).unwrap();
        assert_eq!(ok["TaskId"], "t-1");
        let err = parse_envelope(br#"{"Response":{"Error":{"Code":"RequestLimitExceeded","Message":"slow down"},"RequestId":"r-2"}}"#).unwrap_err();
        assert_eq!(err.class(), ErrorClass::Retryable);
        assert_eq!(err.code(), "RequestLimitExceeded");
        assert!(err.message().contains("r-2"));
        let fatal = parse_envelope(br#"{"Response":{"Error":{"Code":"AuthFailure.SignatureFailure","Message":"bad"},"RequestId":"r-3"}}"#).unwrap_err();
        assert_eq!(fatal.class(), ErrorClass::Fatal);
        for garbage in [&b"<html>502</html>"[..], b"{}", b"{\"Response\": 3}"] {
            assert_eq!(parse_envelope(garbage).unwrap_err().class(), ErrorClass::Retryable);
        }
    }

    #[test]
    fn http_statuses_retry_only_when_the_upstream_was_overloaded_or_broken() {
        assert_eq!(CallError::Http { status: 503 }.class(), ErrorClass::Retryable);
        assert_eq!(CallError::Http { status: 429 }.class(), ErrorClass::Retryable);
        assert_eq!(CallError::Http { status: 404 }.class(), ErrorClass::Fatal);
    }
}
