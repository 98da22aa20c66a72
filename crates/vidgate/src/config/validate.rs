//! Each configuration section checks its own settings; `Config::validate` runs them all. A
//! problem names the setting, so startup stops with something an operator can fix.

use std::time::Duration;

use super::{
    AuthConfig, ConfigError, QueueConfig, SandboxSettings, ServerConfig, StoreConfig,
    TencentSettings, WebhooksConfig, WorkersConfig,
};

/// A refusal of `setting`, saying what is wrong with it.
fn bad(setting: &'static str, problem: impl Into<String>) -> Result<(), ConfigError> {
    Err(ConfigError::Invalid { setting, problem: problem.into() })
}

fn is_http_url(u: &str) -> bool {
    matches!(url::Url::parse(u), Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
}

impl ServerConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return bad("server.tls_cert", "set both tls_cert and tls_key, or neither");
        }
        if let Some(public_url) = &self.public_url
            && !is_http_url(public_url)
        {
            return bad("server.public_url", format!("{public_url:?} is not an http(s) URL"));
        }
        if self.max_body_bytes < 1024 {
            return bad(
                "server.max_body_bytes",
                format!("must be at least 1024, got {}", self.max_body_bytes),
            );
        }
        if self.max_connections == 0 {
            return bad("server.max_connections", "must be at least 1");
        }
        for (setting, timeout) in [
            ("server.header_read_timeout", self.header_read_timeout),
            ("server.body_read_timeout", self.body_read_timeout),
            ("server.write_stall_timeout", self.write_stall_timeout),
        ] {
            if timeout.is_zero() {
                return bad(setting, "must be more than 0");
            }
        }
        Ok(())
    }
}

/// The longest `store.create_linger`: a gap is how long the last create of a batch may wait
/// for the next, and past a few milliseconds that is a delay, not a batch filling.
const MAX_CREATE_LINGER: Duration = Duration::from_millis(5);

impl StoreConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_connections == 0 {
            return bad("store.max_connections", "must be at least 1");
        }
        if self.create_linger > MAX_CREATE_LINGER {
            return bad("store.create_linger", "must be at most 5ms (0s turns it off)");
        }
        Ok(())
    }
}

impl QueueConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_step_attempts == 0 {
            return bad("queue.max_step_attempts", "must be at least 1");
        }
        if self.max_submit_attempts == 0 {
            return bad("queue.max_submit_attempts", "must be at least 1");
        }
        if self.lease < Duration::from_millis(300) {
            return bad("queue.lease", "must be at least 300ms");
        }
        if self.request_deadline < Duration::from_secs(1) {
            return bad("queue.request_deadline", "must be at least 1s");
        }
        Ok(())
    }
}

impl AuthConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bootstrap = self.bootstrap_key.expose().chars().count();
        let min = crate::bootstrap::BOOTSTRAP_MIN_CHARS;
        if bootstrap > 0 && bootstrap < min {
            return bad(
                "auth.bootstrap_key",
                format!(
                    "VIDGATE_BOOTSTRAP_KEY must be at least {min} characters (it is {bootstrap}): it is an API key"
                ),
            );
        }
        Ok(())
    }
}

impl SandboxSettings {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if vidgate_domain::dimensions::short_side(&self.max_resolution).is_none() {
            return bad(
                "sandbox.max_resolution",
                format!("must be like \"1080P\" or \"4K\", got {:?}", self.max_resolution),
            );
        }
        if self.max_duration_secs.is_nan() || self.max_duration_secs <= 0.0 {
            return bad("sandbox.max_duration_secs", "must be more than 0");
        }
        if self.concurrency < 1 {
            return bad(
                "sandbox.concurrency",
                format!("must be at least 1, got {}", self.concurrency),
            );
        }
        if !(1..=60).contains(&self.fps) {
            return bad("sandbox.fps", format!("must be between 1 and 60, got {}", self.fps));
        }
        if self.poll_interval.is_zero() {
            return bad("sandbox.poll_interval", "must be more than 0");
        }
        Ok(())
    }
}

impl WebhooksConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.timeout.is_zero() {
            return bad("webhooks.timeout", "must be more than 0");
        }
        Ok(())
    }
}

impl WorkersConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.dispatcher_concurrency == 0 {
            return bad("workers.dispatcher_concurrency", "must be at least 1");
        }
        if self.poller_concurrency == 0 {
            return bad("workers.poller_concurrency", "must be at least 1");
        }
        Ok(())
    }
}

impl TencentSettings {
    /// Checked when Tencent VOD is the upstream.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !self.configured() {
            return bad(
                "tencent",
                "provider.kind is \"tencent\" but no account is configured (set TENCENTCLOUD_SECRET_ID, TENCENTCLOUD_SECRET_KEY and VIDGATE_TENCENT_SUBAPP_ID, or [[tencent.accounts]])",
            );
        }
        if !self.secret_id.is_empty() {
            if self.secret_key.is_empty() {
                return bad("tencent.secret_key", "is empty (TENCENTCLOUD_SECRET_KEY)");
            }
            if self.sub_app_id == 0 {
                return bad(
                    "tencent.sub_app_id",
                    "must be the VOD application id (VIDGATE_TENCENT_SUBAPP_ID)",
                );
            }
        }
        if !is_http_url(&self.endpoint) {
            return bad("tencent.endpoint", format!("{:?} is not an http(s) URL", self.endpoint));
        }
        self.validate_accounts()?;
        let account_limits = self.accounts.iter().filter_map(|a| a.concurrency);
        if self.concurrency < 1 || account_limits.into_iter().any(|c| c < 1) {
            return bad("tencent.concurrency", "must be at least 1");
        }
        if self.create_rate <= 0.0 || self.describe_rate <= 0.0 {
            return bad("tencent.create_rate", "rates must be more than 0");
        }
        if self.events == vidgate_providers::tencent::EventMode::Push
            && self.callback_sign_key.expose().len() < 8
        {
            // Without a key anyone could post "finished" events to the callback route.
            return bad(
                "tencent.callback_sign_key",
                "push mode needs the SignKey set with ModifyEventConfig (at least 8 characters)",
            );
        }
        Ok(())
    }

    fn validate_accounts(&self) -> Result<(), ConfigError> {
        let mut names = std::collections::HashSet::new();
        for a in &self.accounts {
            if a.name.is_empty() || !names.insert(a.name.as_str()) {
                return bad(
                    "tencent.accounts",
                    format!("every account needs a unique name (got {:?})", a.name),
                );
            }
            if a.secret_id.is_empty() || a.secret_key.is_empty() || a.sub_app_id == 0 {
                return bad(
                    "tencent.accounts",
                    format!("account {:?} needs secret_id, secret_key and sub_app_id", a.name),
                );
            }
            if a.endpoint.as_deref().is_some_and(|u| !is_http_url(u)) {
                return bad(
                    "tencent.accounts",
                    format!("account {:?} has an endpoint that is not an http(s) URL", a.name),
                );
            }
        }
        Ok(())
    }
}
