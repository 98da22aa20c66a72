//! The sections of the configuration tree, one struct each, as `config/default.toml` lays
//! them out (the file documents every setting).

use std::fmt::Display;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};

use super::{ConfigError, Secret};

/// An optional setting: absent, or `""` (how the defaults file writes "not set"), is `None`;
/// anything else must parse.
fn empty_is_none<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: Display,
{
    match Option::<String>::deserialize(d)?.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => v.parse().map(Some).map_err(serde::de::Error::custom),
    }
}

/// A list of durations like `["10s", "1m"]`.
fn durations<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Duration>, D::Error> {
    Vec::<String>::deserialize(d)?
        .iter()
        .map(|s| {
            humantime::parse_duration(s).map_err(|e| {
                serde::de::Error::custom(format!("{s:?} is not a duration like 30s or 5m ({e})"))
            })
        })
        .collect()
}

/// What a process runs (`server.role`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The API and the workers.
    All,
    /// The API only (workers run elsewhere on the same PostgreSQL).
    Api,
    /// The workers only (and `/healthz`, `/readyz`).
    Worker,
}

impl Role {
    pub fn serves_api(self) -> bool {
        self != Role::Worker
    }

    pub fn runs_workers(self) -> bool {
        self != Role::Api
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::All => "all",
            Role::Api => "api",
            Role::Worker => "worker",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Role, String> {
        match s {
            "all" => Ok(Role::All),
            "api" => Ok(Role::Api),
            "worker" => Ok(Role::Worker),
            _ => Err(format!("must be \"all\", \"api\" or \"worker\", got {s:?}")),
        }
    }
}

/// Where requests go (`provider.kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// Tencent VOD when an account is configured, else the sandbox.
    Auto,
    Sandbox,
    Tencent,
}

/// How log lines are written (`log.format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub role: Role,
    #[serde(default, deserialize_with = "empty_is_none")]
    pub tls_cert: Option<PathBuf>,
    #[serde(default, deserialize_with = "empty_is_none")]
    pub tls_key: Option<PathBuf>,
    #[serde(default, deserialize_with = "empty_is_none")]
    pub public_url: Option<String>,
    /// Peers whose `X-Forwarded-Proto`/`-Host` headers are believed.
    pub trusted_proxies: vidgate_egress::AddressList,
    pub max_body_bytes: usize,
    #[serde(with = "humantime_serde")]
    pub shutdown_deadline: Duration,
    #[serde(with = "humantime_serde")]
    pub header_read_timeout: Duration,
    #[serde(with = "humantime_serde")]
    pub body_read_timeout: Duration,
    /// A response whose client reads nothing of it this long is dropped.
    #[serde(with = "humantime_serde")]
    pub write_stall_timeout: Duration,
    pub max_connections: usize,
    #[serde(default, deserialize_with = "empty_is_none")]
    pub metrics_listen: Option<SocketAddr>,
    pub dashboard: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    pub data_dir: PathBuf,
    /// May carry a password: a `Secret`.
    pub database_url: Secret,
    pub max_connections: u32,
    /// PostgreSQL: how long a batch of creates waits for the next create while they keep
    /// coming (`store/src/sql/linger.rs`); zero: it takes only what is waiting.
    #[serde(with = "humantime_serde")]
    pub create_linger: Duration,
    pub sqlite_durability: vidgate_store::sqlite::Durability,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueConfig {
    #[serde(with = "humantime_serde")]
    pub request_deadline: Duration,
    #[serde(with = "humantime_serde")]
    pub lease: Duration,
    pub max_submit_attempts: u32,
    #[serde(with = "humantime_serde")]
    pub retry_initial: Duration,
    #[serde(with = "humantime_serde")]
    pub retry_max: Duration,
    pub max_step_attempts: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesConfig {
    /// `false`: the alias of "pass unknown models and versions, check nothing" (it also lets
    /// unknown fields through).
    pub strict_model_rules: bool,
    /// A version of a known model the catalog does not list: `refuse` or `pass` (checked
    /// against the model's family limits, logged on the request).
    #[serde(default)]
    pub unknown_versions: vidgate_domain::request::UnknownVersions,
    /// Serve the default alias of every model version in the rule tables (`kling-2.1`, …).
    pub default_aliases: bool,
    /// More aliases (`[[rules.aliases]]`); one named as a default replaces it.
    #[serde(default)]
    pub aliases: Vec<vidgate_domain::models::aliases::Alias>,
    /// The operator's model-catalog file (TOML, or JSON by its `.json` name), laid over the
    /// built-in catalog.
    #[serde(default)]
    pub catalog: Option<std::path::PathBuf>,
}

impl RulesConfig {
    /// How creates are read under these settings.
    pub fn parse_options(&self) -> vidgate_domain::ParseOptions {
        match self.strict_model_rules {
            true => vidgate_domain::ParseOptions {
                strict_model_rules: true,
                unknown_versions: self.unknown_versions,
                catalog: None,
            },
            false => vidgate_domain::ParseOptions::LAX,
        }
    }
}

impl RulesConfig {
    /// The operator's catalog file, read and parsed (`None` when none is named).
    pub fn catalog_file(
        &self,
    ) -> Result<Option<vidgate_domain::models::format::CatalogFile>, super::ConfigError> {
        let Some(path) = &self.catalog else { return Ok(None) };
        vidgate_domain::models::format::CatalogFile::read(path)
            .map(Some)
            .map_err(|problem| super::ConfigError::Invalid { setting: "rules.catalog", problem })
    }

    /// The models this configuration serves: the catalog file over the built-in catalog, the
    /// configured aliases and prices over the catalog's. An entry that does not apply, or an
    /// alias that cannot be used, is named.
    pub fn models(
        &self,
        accounting: &AccountingConfig,
    ) -> Result<vidgate_domain::models::live::LiveModels, super::ConfigError> {
        let setup = vidgate_domain::models::live::ModelsSetup {
            file: self.catalog_file()?,
            default_aliases: self.default_aliases,
            aliases: self.aliases.clone(),
            default_prices: accounting.default_prices,
            prices: accounting.prices.clone(),
        };
        vidgate_domain::models::live::LiveModels::new(setup).map_err(|e| {
            let setting = if e.0.starts_with("alias") { "rules.aliases" } else { "rules.catalog" };
            super::ConfigError::Invalid { setting, problem: e.0 }
        })
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    pub kind: ProviderKind,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TencentSettings {
    pub secret_id: String,
    pub secret_key: Secret,
    pub sub_app_id: u64,
    pub endpoint: String,
    pub region: String,
    pub concurrency: i64,
    pub create_rate: f64,
    pub accounts: Vec<TencentAccountSettings>,
    pub describe_rate: f64,
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    #[serde(with = "humantime_serde")]
    pub poll_initial: Duration,
    pub poll_backoff: f64,
    #[serde(with = "humantime_serde")]
    pub poll_max: Duration,
    pub events: vidgate_providers::tencent::EventMode,
    pub callback_sign_key: Secret,
    pub reconcile_pages: usize,
}

/// One of several upstream accounts; unset fields take the `[tencent]` values.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TencentAccountSettings {
    pub name: String,
    pub secret_id: String,
    pub secret_key: Secret,
    pub sub_app_id: u64,
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub concurrency: Option<i64>,
    pub create_rate: Option<f64>,
}

impl TencentSettings {
    /// Whether any upstream account is configured.
    pub fn configured(&self) -> bool {
        !self.secret_id.is_empty() || !self.accounts.is_empty()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SandboxSettings {
    pub concurrency: i64,
    #[serde(with = "humantime_serde")]
    pub queue_delay: Duration,
    #[serde(with = "humantime_serde")]
    pub processing_time: Duration,
    #[serde(with = "humantime_serde")]
    pub poll_interval: Duration,
    pub fps: u32,
    pub moderation_blocklist: Vec<String>,
    #[serde(with = "humantime_serde")]
    pub fetch_timeout: Duration,
    pub max_input_bytes: u64,
    pub max_duration_secs: f64,
    pub max_resolution: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhooksConfig {
    /// Delay before each retry (`["10s", "1m", …]`).
    #[serde(deserialize_with = "durations")]
    pub retry_schedule: Vec<Duration>,
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    #[serde(with = "humantime_serde")]
    pub rotation_overlap: Duration,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EgressConfig {
    /// Private networks webhooks and input fetches may reach (parsed when the file loads).
    pub allow: vidgate_egress::EgressPolicy,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkersConfig {
    pub dispatcher_concurrency: usize,
    pub poller_concurrency: usize,
    pub webhook_concurrency: usize,
    #[serde(with = "humantime_serde")]
    pub idle_wait: Duration,
    #[serde(with = "humantime_serde")]
    pub reaper_interval: Duration,
    #[serde(with = "humantime_serde")]
    pub error_backoff: Duration,
    #[serde(with = "humantime_serde")]
    pub media_sweep_interval: Duration,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    pub format: LogFormat,
    pub level: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// Accepted as an API key (VIDGATE_BOOTSTRAP_KEY), for automation.
    #[serde(default)]
    pub bootstrap_key: Secret,
    /// How long an authenticated key is trusted without asking the store again.
    #[serde(default = "default_key_cache_ttl", with = "humantime_serde")]
    pub key_cache_ttl: Duration,
}

fn default_key_cache_ttl() -> Duration {
    Duration::from_secs(2)
}

/// `[limits]`: per-key defaults (a key may have its own) and the whole queue's size.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsSettings {
    pub create_rate: f64,
    pub create_burst: i64,
    pub read_rate: f64,
    pub read_burst: i64,
    pub max_queued_per_key: i64,
    pub max_queue_length: i64,
    pub max_streams_per_key: usize,
    pub unauthenticated_rate: f64,
    pub unauthenticated_burst: i64,
}

impl LimitsSettings {
    pub fn api(&self) -> vidgate_api::limits::LimitsConfig {
        vidgate_api::limits::LimitsConfig {
            create_rate: self.create_rate,
            create_burst: self.create_burst,
            read_rate: self.read_rate,
            read_burst: self.read_burst,
            max_queued_per_key: self.max_queued_per_key,
            max_queue_length: self.max_queue_length,
            max_streams_per_key: self.max_streams_per_key,
            unauthenticated_rate: self.unauthenticated_rate,
            unauthenticated_burst: self.unauthenticated_burst,
        }
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |setting, problem: String| Err(ConfigError::Invalid { setting, problem });
        for (setting, rate) in [
            ("limits.create_rate", self.create_rate),
            ("limits.read_rate", self.read_rate),
            ("limits.unauthenticated_rate", self.unauthenticated_rate),
        ] {
            if !rate.is_finite() || rate < 0.0 {
                return bad(
                    setting,
                    format!("must be 0 (no limit) or a positive number, got {rate}"),
                );
            }
        }
        for (setting, n) in [
            ("limits.create_burst", self.create_burst),
            ("limits.read_burst", self.read_burst),
            ("limits.max_queued_per_key", self.max_queued_per_key),
            ("limits.max_queue_length", self.max_queue_length),
            ("limits.unauthenticated_burst", self.unauthenticated_burst),
        ] {
            if n < 0 {
                return bad(setting, format!("must be 0 (no limit) or more, got {n}"));
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountingConfig {
    pub currency: String,
    pub default_prices: bool,
    pub prices: Vec<vidgate_domain::pricing::PriceRule>,
    pub max_running_per_key: i64,
    #[serde(with = "humantime_serde")]
    pub reconcile_for: Duration,
    /// Reconcile the previous upstream day daily (Tencent provider only).
    pub reconcile_daily: bool,
    pub reconcile_tolerance: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Label the credit series by key name too.
    pub per_key_labels: bool,
}

impl AccountingConfig {
    pub fn pricing(&self) -> vidgate_api::pricing::PricingConfig {
        vidgate_api::pricing::PricingConfig { currency: self.currency.clone() }
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |setting, problem: String| Err(ConfigError::Invalid { setting, problem });
        for (i, p) in self.prices.iter().enumerate() {
            if p.per_second.micros() < 0 || p.per_request.micros() < 0 {
                return bad(
                    "accounting.prices",
                    format!("row {} ({}): prices cannot be negative", i + 1, p.model),
                );
            }
        }
        if self.max_running_per_key < 0 {
            return bad("accounting.max_running_per_key", "must be 0 (no limit) or more".into());
        }
        // A detached job is settled at its hold when its window closes unasked-about: a window
        // shorter than a few polls would charge holds for jobs the upstream went on to fail.
        if self.reconcile_for < std::time::Duration::from_secs(60) {
            return bad(
                "accounting.reconcile_for",
                format!(
                    "must be at least 1m, got {}: jobs are followed until the upstream says how they ended (it bills what it ran), and settled at their hold if this window closes first",
                    humantime::format_duration(self.reconcile_for)
                ),
            );
        }
        Ok(())
    }
}

/// Where generated files are kept and how they are served (`[media]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MediaConfig {
    pub store: MediaStoreKind,
    /// The local store's directory; unset: `<data_dir>/media`.
    pub dir: Option<std::path::PathBuf>,
    /// Copy upstream outputs into the store; unset: on with the S3 store, off with local.
    pub mirror: Option<bool>,
    #[serde(with = "humantime_serde")]
    pub retention: Duration,
    #[serde(with = "humantime_serde")]
    pub url_ttl: Duration,
    pub serve: vidgate_api::ServeMode,
    pub max_bytes: u64,
    #[serde(with = "humantime_serde")]
    pub copy_timeout: Duration,
    pub part_size: usize,
    pub s3: S3Config,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaStoreKind {
    Local,
    S3,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Config {
    pub endpoint: Option<String>,
    pub bucket: String,
    pub region: String,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<Secret>,
    pub path_style: bool,
}

impl MediaConfig {
    pub fn mirrors(&self) -> bool {
        self.mirror.unwrap_or(self.store == MediaStoreKind::S3)
    }

    pub fn settings(&self, data_dir: &std::path::Path) -> vidgate_media::StoreSettings {
        match self.store {
            MediaStoreKind::Local => vidgate_media::StoreSettings::Local {
                dir: self.dir.clone().unwrap_or_else(|| data_dir.join("media")),
            },
            MediaStoreKind::S3 => vidgate_media::StoreSettings::S3(vidgate_media::S3Settings {
                endpoint: self.s3.endpoint.clone().filter(|e| !e.is_empty()),
                bucket: self.s3.bucket.clone(),
                region: self.s3.region.clone(),
                access_key_id: self.s3.access_key_id.clone().filter(|k| !k.is_empty()),
                secret_access_key: self.s3.secret_access_key.clone().filter(|k| !k.is_empty()),
                path_style: self.s3.path_style,
            }),
        }
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |setting, problem: &str| {
            Err(ConfigError::Invalid { setting, problem: problem.to_owned() })
        };
        if self.store == MediaStoreKind::S3 && self.s3.bucket.is_empty() {
            return bad("media.s3.bucket", "the S3 store needs a bucket");
        }
        if self.serve == vidgate_api::ServeMode::Redirect && self.store != MediaStoreKind::S3 {
            return bad(
                "media.serve",
                "\"redirect\" needs media.store = \"s3\" (a local directory cannot presign URLs)",
            );
        }
        if self.part_size < 5 << 20 {
            return bad("media.part_size", "must be at least 5 MiB (S3's smallest multipart part)");
        }
        if self.url_ttl.is_zero() || self.url_ttl > Duration::from_secs(7 * 86_400) {
            return bad(
                "media.url_ttl",
                "must be more than 0 and at most 7 days (S3's presigning limit)",
            );
        }
        if self.max_bytes == 0 {
            return bad("media.max_bytes", "must be more than 0");
        }
        Ok(())
    }
}
