//! The webhook sender: one delivery attempt per `run_once`. It claims a due delivery, freezes
//! its payload on the first attempt (fal's `{request_id, gateway_request_id, status, payload,
//! error}`), signs it the Standard Webhooks way (`webhook-id`, `webhook-timestamp`,
//! `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, a second signature
//! during a secret rotation) and POSTs it through the egress guard, never following
//! redirects. 2xx delivers; network errors, timeouts, 429 and 5xx retry on the schedule
//! (honouring `Retry-After`); anything else, or an exhausted schedule, fails the delivery.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use vidgate_domain::{ErrorType, Millis, TaskState};
use vidgate_egress::EgressPolicy;
use vidgate_store::{Attempt, AttemptResult, Delivery, TaskRecord};
use vidgate_wire::{ContentUrls, ResultBody, Signing, WebhookPayload};

use crate::context::{WorkerContext, ms, with_renewal};
use crate::{Outcome, Worker, WorkerError};

/// `v1,<signature>` for one secret (`whsec_<base64>`; a secret without the prefix is used raw).
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> String {
    let key = secret
        .strip_prefix("whsec_")
        .and_then(|b| STANDARD.decode(b).ok())
        .unwrap_or_else(|| secret.as_bytes().to_vec());
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes keys of any length");
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// A new signing secret: `whsec_` + 32 random bytes, base64.
pub fn new_secret() -> String {
    let bytes: Vec<u8> = (0..32).map(|_| rand::random::<u8>()).collect();
    format!("whsec_{}", STANDARD.encode(bytes))
}

/// fal's webhook body. Media URLs vidgate serves itself are made absolute on `base` and signed
/// with the owning key's hash (no key: they go out unsigned; no base: they stay relative).
pub fn payload(task: &TaskRecord, base: Option<&str>, signing: Signing<'_>) -> WebhookPayload {
    match (&task.state(), &task.result()) {
        (TaskState::Succeeded, Some(result)) => {
            let urls = match base {
                Some(base) => ContentUrls { base, signing },
                None => ContentUrls { base: "", signing: Signing { key_hash: None, ..signing } },
            };
            WebhookPayload::ok(task.id, ResultBody::present(task.id, result, urls))
        }
        _ => {
            let error_type = task.error_type().cloned().unwrap_or(ErrorType::UpstreamError);
            let error = task.error().unwrap_or("the request failed").to_owned();
            WebhookPayload::error(task.id, error, error_type)
        }
    }
}

pub struct WebhookSender {
    ctx: Arc<WorkerContext>,
    policy: EgressPolicy,
    http: reqwest::Client,
    /// Delay before retry n (after attempt n failed); attempts = schedule.len() + 1.
    schedule: Vec<Duration>,
}

/// `Retry-After` is honoured up to this.
const RETRY_AFTER_MAX: Duration = Duration::from_secs(3600);

enum Sent {
    Answer {
        status: u16,
        retry_after: Option<Duration>,
    },
    /// The egress guard refused the target: retrying cannot help.
    Blocked(String),
    Error(String),
}

impl WebhookSender {
    pub fn new(
        ctx: Arc<WorkerContext>,
        policy: EgressPolicy,
        timeout: Duration,
        schedule: Vec<Duration>,
    ) -> Result<Self, vidgate_providers::SetupError> {
        let http = policy.client(timeout).map_err(vidgate_providers::SetupError::egress)?;
        Ok(WebhookSender { ctx, policy, http, schedule })
    }

    async fn secrets(&self, key_id: &vidgate_domain::KeyId) -> Result<Vec<String>, WorkerError> {
        let now = self.ctx.now();
        let secrets = match self.ctx.store.webhook_secrets(key_id, now).await? {
            Some(s) => s,
            None => {
                // Keys made before webhooks existed get their secret on first use.
                let current = self
                    .ctx
                    .store
                    .init_webhook_secret(key_id, &new_secret())
                    .await?
                    .unwrap_or_default();
                vidgate_store::WebhookSecrets { current, previous: None }
            }
        };
        Ok(std::iter::once(secrets.current)
            .chain(secrets.previous)
            .filter(|s| !s.is_empty())
            .collect())
    }

    async fn send(&self, d: &Delivery, body: &str, secrets: &[String]) -> Sent {
        if let Err(e) = self.policy.check_url(&d.url) {
            return Sent::Blocked(e.to_string());
        }
        let timestamp = self.ctx.now().div_euclid(1000);
        let signature: Vec<String> =
            secrets.iter().map(|s| sign(s, &d.id, timestamp, body.as_bytes())).collect();
        let request = self
            .http
            .post(&d.url)
            .header("content-type", "application/json")
            .header("user-agent", "vidgate-webhooks")
            .header("webhook-id", d.id.as_str())
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature.join(" "))
            .body(body.to_owned());
        match request.send().await {
            Ok(r) => {
                let retry_after = r
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(|s| Duration::from_secs(s).min(RETRY_AFTER_MAX));
                Sent::Answer { status: r.status().as_u16(), retry_after }
            }
            Err(e) => {
                if let Some(refused) = vidgate_egress::refusal(&e) {
                    return Sent::Blocked(refused.to_string());
                }
                // Without the URL: its query string may carry the receiver's own token.
                Sent::Error(if e.is_timeout() {
                    "timed out".to_owned()
                } else {
                    error_chain(&e.without_url())
                })
            }
        }
    }

    fn next_attempt(&self, d: &Delivery, retry_after: Option<Duration>) -> AttemptResult {
        let Some(delay) = self.schedule.get(d.attempts as usize) else {
            return AttemptResult::Failed;
        };
        let jittered = delay.mul_f64(0.8 + 0.4 * rand::random::<f64>());
        let wait = retry_after.map_or(jittered, |r| r.max(jittered));
        AttemptResult::RetryAt(self.ctx.now() + ms(wait))
    }
}

#[async_trait]
impl Worker for WebhookSender {
    fn name(&self) -> &'static str {
        "webhook-sender"
    }

    async fn run_once(&self) -> Result<Outcome, WorkerError> {
        let ctx = &self.ctx;
        let now = ctx.now();
        let Some(d) = ctx.store.claim_due_delivery(now, now + ms(ctx.lease)).await? else {
            return Ok(Outcome::Idle);
        };
        let Some(body) = self.body_of(&d).await? else { return Ok(Outcome::Worked) };
        let secrets = self.secrets(&d.key_id).await?;
        let started = Instant::now();
        let sent = if secrets.is_empty() {
            // Never sign with an empty secret: a receiver could not tell it from a forgery.
            Sent::Blocked("the request's API key has no webhook signing secret (revoked?)".into())
        } else {
            let renew = |until| ctx.store.extend_delivery_lease(&d, until);
            with_renewal(ctx, &d.id, renew, self.send(&d, &body, &secrets)).await
        };
        let duration_ms = started.elapsed().as_millis() as i64;
        let at = ctx.now();
        let (attempt, result) = self.judge(&d, sent, at, duration_ms);
        crate::metrics::webhook_attempt(result, started);
        let recorded = ctx.store.record_attempt(&d, &attempt, result, at).await?;
        let span = tracing::info_span!("webhook", request_id = %d.task_id, delivery = %d.id);
        let _entered = span.enter(); // no await below
        match (recorded, result) {
            (false, _) => {
                tracing::warn!(
                    "lost the delivery's lease while sending; the attempt was not recorded"
                )
            }
            (true, AttemptResult::Delivered) => {
                tracing::info!(status = ?attempt.status, "webhook delivered")
            }
            (true, other) => {
                let outcome = other.as_str();
                tracing::warn!(outcome, status = ?attempt.status, error = ?attempt.error, "webhook attempt failed")
            }
        }
        Ok(Outcome::Worked)
    }
}

impl WebhookSender {
    /// The bytes every attempt of `d` sends: frozen at its first attempt. `None`: nothing to
    /// send now (the request is gone, which fails the delivery; or another sender took it).
    async fn body_of(&self, d: &Delivery) -> Result<Option<String>, WorkerError> {
        if let Some(p) = &d.payload {
            return Ok(Some(p.clone()));
        }
        let ctx = &self.ctx;
        let now = ctx.now();
        let Some(task) = ctx.store.get_task_any(d.task_id).await? else {
            let error = Some("the request no longer exists".into());
            let gone = Attempt { at: now, status: None, error, duration_ms: 0 };
            ctx.store.record_attempt(d, &gone, AttemptResult::Failed, now).await?;
            return Ok(None);
        };
        let base = ctx.public_url.as_deref().or(task.public_base.as_deref());
        let hash = ctx.store.active_key_hash(&task.key_id).await?;
        let ttl_secs = ctx.media_url_ttl.as_secs() as i64;
        let signing = Signing { key_hash: hash.as_deref(), now, ttl_secs };
        // Plain data with string keys: serializing it cannot fail.
        let body = serde_json::to_string(&payload(&task, base, signing)).unwrap_or_default();
        if !ctx.store.freeze_payload(d, &body).await? {
            // Another sender holds the delivery now (our lease ran out): it sends.
            tracing::warn!(delivery = %d.id, "lost the delivery's lease before sending");
            return Ok(None);
        }
        Ok(Some(body))
    }

    /// What an attempt's answer means: delivered, worth another try (429, 5xx, a network
    /// error), or refused for good.
    fn judge(
        &self,
        d: &Delivery,
        sent: Sent,
        at: Millis,
        duration_ms: i64,
    ) -> (Attempt, AttemptResult) {
        let answered = |status: u16, error: Option<String>| Attempt {
            at,
            status: Some(i64::from(status)),
            error,
            duration_ms,
        };
        match sent {
            Sent::Answer { status, .. } if (200..300).contains(&status) => {
                (answered(status, None), AttemptResult::Delivered)
            }
            Sent::Answer { status, retry_after } if status == 429 || status >= 500 => {
                (answered(status, None), self.next_attempt(d, retry_after))
            }
            Sent::Answer { status, .. } => {
                let refused = Some("the receiver refused it; not retried".into());
                (answered(status, refused), AttemptResult::Failed)
            }
            Sent::Blocked(e) => {
                (Attempt { at, status: None, error: Some(e), duration_ms }, AttemptResult::Failed)
            }
            Sent::Error(e) => (
                Attempt { at, status: None, error: Some(e), duration_ms },
                self.next_attempt(d, None),
            ),
        }
    }
}

/// An error and its causes on one line ("error sending request: connection refused").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_follow_the_standard_webhooks_example() {
        // The example of the Standard Webhooks specification.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            sign(secret, id, 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[tokio::test]
    async fn a_failed_attempts_error_names_no_url() {
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        // Nothing listens on port 9; the URL carries a receiver's token in its query.
        let e =
            client.post("http://127.0.0.1:9/hook?token=receiver-secret").send().await.unwrap_err();
        assert!(format!("{e}").contains("receiver-secret"), "reqwest itself names the URL");
        let text = error_chain(&e.without_url());
        assert!(!text.contains("receiver-secret") && !text.contains("/hook"), "{text}");
        assert!(text.contains("connect") || text.contains("refused"), "the cause stays: {text}");
    }

    #[test]
    fn new_secrets_are_prefixed_base64_of_32_bytes() {
        let s = new_secret();
        assert!(s.starts_with("whsec_"));
        assert_eq!(STANDARD.decode(&s[6..]).unwrap().len(), 32);
        assert_ne!(s, new_secret());
    }
}
