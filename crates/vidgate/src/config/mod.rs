//! One typed configuration tree. Defaults live in `config/default.toml` (embedded, printed by
//! `vidgate config default`); a file, `VIDGATE_*` variables and flags override them. Invalid
//! settings stop startup with a message naming the setting. Secrets are redacted in `Debug`.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

pub const DEFAULT_TOML: &str = include_str!("../../config/default.toml");

pub use vidgate_domain::Secret;

mod sections;
mod validate;
pub use sections::*;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub store: StoreConfig,
    pub queue: QueueConfig,
    pub rules: RulesConfig,
    pub provider: ProviderConfig,
    pub tencent: TencentSettings,
    pub sandbox: SandboxSettings,
    pub webhooks: WebhooksConfig,
    pub egress: EgressConfig,
    pub workers: WorkersConfig,
    pub log: LogConfig,
    #[serde(default)]
    pub auth: AuthConfig,
    pub limits: LimitsSettings,
    pub accounting: AccountingConfig,
    pub media: MediaConfig,
}

/// Overrides from flags and the short environment variables, applied last.
#[derive(Debug, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid configuration: {0}")]
    Load(String),
    #[error("invalid configuration: {setting}: {problem}")]
    Invalid { setting: &'static str, problem: String },
}

impl Config {
    /// Defaults → `file` → `VIDGATE_<SECTION>__<KEY>` → short env forms → `overrides`.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Config, ConfigError> {
        let mut figment = Figment::from(Toml::string(DEFAULT_TOML));
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError::Load(format!(
                    "config file {} does not exist",
                    path.display()
                )));
            }
            figment = figment.merge(Toml::file(path));
        }
        figment = figment
            .merge(Env::prefixed("VIDGATE_").filter(|k| k.as_str().contains("__")).split("__"))
            .merge(short_env());
        let mut nested = serde_json::Map::new();
        let mut put = |section: &str, key: &str, v: serde_json::Value| {
            nested.entry(section).or_insert_with(|| serde_json::json!({}))[key] = v;
        };
        if let Some(l) = &overrides.listen {
            put("server", "listen", l.clone().into());
        }
        if let Some(d) = &overrides.data_dir {
            put("store", "data_dir", d.display().to_string().into());
        }
        if let Some(u) = &overrides.database_url {
            put("store", "database_url", u.clone().into());
        }
        if let Some(r) = &overrides.role {
            put("server", "role", r.clone().into());
        }
        if let Some(c) = &overrides.tls_cert {
            put("server", "tls_cert", c.clone().into());
        }
        if let Some(k) = &overrides.tls_key {
            put("server", "tls_key", k.clone().into());
        }
        figment = figment.merge(Serialized::defaults(serde_json::Value::Object(nested)));
        let config: Config = figment.extract().map_err(|e| ConfigError::Load(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// The defaults alone (tests start from these).
    pub fn defaults() -> Config {
        let config: Config =
            Figment::from(Toml::string(DEFAULT_TOML)).extract().expect("embedded defaults parse");
        config
    }

    /// Checks every section (`validate.rs`); the first invalid setting stops startup, named.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.server.validate()?;
        self.store.validate()?;
        self.queue.validate()?;
        self.rules.alias_catalog()?;
        self.limits.validate()?;
        self.accounting.validate()?;
        self.media.validate()?;
        self.auth.validate()?;
        self.sandbox.validate()?;
        self.webhooks.validate()?;
        self.workers.validate()?;
        if self.uses_tencent() {
            self.tencent.validate()?;
        }
        Ok(())
    }

    pub fn tls(&self) -> bool {
        self.server.tls_cert.is_some()
    }

    /// Whether requests go to Tencent VOD (else the sandbox).
    pub fn uses_tencent(&self) -> bool {
        match self.provider.kind {
            ProviderKind::Tencent => true,
            ProviderKind::Auto => self.tencent.configured(),
            ProviderKind::Sandbox => false,
        }
    }

    /// Where renders are written before they go into the media store.
    pub fn scratch_dir(&self) -> PathBuf {
        self.store.data_dir.join("scratch")
    }
}

/// The documented short environment variables.
fn short_env() -> Serialized<serde_json::Value> {
    let mut v = serde_json::json!({});
    let var = |name: &str| std::env::var(name).ok().filter(|s| !s.is_empty());
    let mut server = serde_json::Map::new();
    if let Some(x) = var("VIDGATE_LISTEN") {
        server.insert("listen".into(), x.into());
    }
    if let Some(x) = var("VIDGATE_ROLE") {
        server.insert("role".into(), x.into());
    }
    for (name, key) in [("VIDGATE_TLS_CERT", "tls_cert"), ("VIDGATE_TLS_KEY", "tls_key")] {
        if let Some(x) = var(name) {
            server.insert(key.into(), x.into());
        }
    }
    if !server.is_empty() {
        v["server"] = server.into();
    }
    let mut store = serde_json::Map::new();
    if let Some(x) = var("VIDGATE_DATA_DIR") {
        store.insert("data_dir".into(), x.into());
    }
    if let Some(x) = var("DATABASE_URL") {
        store.insert("database_url".into(), x.into());
    }
    if !store.is_empty() {
        v["store"] = store.into();
    }
    if let Some(x) = var("VIDGATE_BOOTSTRAP_KEY") {
        v["auth"] = serde_json::json!({"bootstrap_key": x});
    }
    if let Some(x) = var("VIDGATE_EGRESS_ALLOW") {
        v["egress"] = serde_json::json!({"allow": x});
    }
    if let Some(x) = var("VIDGATE_PROVIDER") {
        v["provider"] = serde_json::json!({"kind": x});
    }
    let mut tencent = serde_json::Map::new();
    for (name, key) in [
        ("TENCENTCLOUD_SECRET_ID", "secret_id"),
        ("TENCENTCLOUD_SECRET_KEY", "secret_key"),
        ("VIDGATE_TENCENT_ENDPOINT", "endpoint"),
    ] {
        if let Some(x) = var(name) {
            tencent.insert(key.into(), x.into());
        }
    }
    if let Some(x) = var("VIDGATE_TENCENT_SUBAPP_ID") {
        // A number when it is one; otherwise the string, which extraction then names as invalid.
        let value = x
            .trim()
            .parse::<u64>()
            .map(serde_json::Value::from)
            .unwrap_or(serde_json::Value::from(x));
        tencent.insert("sub_app_id".into(), value);
    }
    if !tencent.is_empty() {
        v["tencent"] = tencent.into();
    }
    Serialized::defaults(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_defaults_are_valid() {
        Config::defaults().validate().unwrap();
    }

    #[test]
    fn secrets_are_redacted_in_debug_output() {
        let mut c = Config::defaults();
        c.store.database_url = Secret::new("postgres://u:hunter2@db/x");
        c.auth.bootstrap_key = Secret::new("vg_supersecret");
        let printed = format!("{c:?}");
        assert!(!printed.contains("hunter2"));
        assert!(!printed.contains("supersecret"));
        assert!(printed.contains("[redacted]"));
    }

    #[test]
    fn invalid_settings_are_named() {
        let mut c = Config::defaults();
        c.sandbox.fps = 0;
        assert!(c.validate().unwrap_err().to_string().contains("sandbox.fps"));
        let o = Overrides { listen: Some("nowhere".into()), ..Overrides::default() };
        assert!(Config::load(None, &o).unwrap_err().to_string().contains("server.listen"));
        let o = Overrides { tls_cert: Some("/c.pem".into()), ..Overrides::default() };
        assert!(Config::load(None, &o).unwrap_err().to_string().contains("server.tls_cert"));
    }

    #[test]
    fn a_file_overrides_defaults_and_unknown_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.toml");
        std::fs::write(&path, "[sandbox]\nfps = 12\n").unwrap();
        let c = Config::load(Some(&path), &Overrides::default()).unwrap();
        assert_eq!(c.sandbox.fps, 12);
        std::fs::write(&path, "[sandbox]\nfsp = 12\n").unwrap();
        let err = Config::load(Some(&path), &Overrides::default()).unwrap_err().to_string();
        assert!(err.contains("fsp"), "{err}");
        // A choice outside its set names the setting and the choices.
        std::fs::write(&path, "[server]\nrole = \"boss\"\n").unwrap();
        let err = Config::load(Some(&path), &Overrides::default()).unwrap_err().to_string();
        assert!(err.contains("server.role") && err.contains("worker"), "{err}");
    }

    #[test]
    fn tencent_is_chosen_only_when_an_account_is_configured_and_then_checked() {
        let mut c = Config::defaults();
        assert!(!c.uses_tencent());
        c.tencent.secret_id = "AKIDx".into();
        assert!(c.uses_tencent());
        assert!(c.validate().unwrap_err().to_string().contains("tencent.secret_key"));
        c.tencent.secret_key = Secret::new("k");
        assert!(c.validate().unwrap_err().to_string().contains("tencent.sub_app_id"));
        c.tencent.sub_app_id = 1;
        c.validate().unwrap();
        c.provider.kind = ProviderKind::Sandbox;
        assert!(!c.uses_tencent());
        let mut c = Config::defaults();
        c.provider.kind = ProviderKind::Tencent;
        assert!(c.validate().unwrap_err().to_string().contains("no account"));
    }

    #[test]
    fn flags_override_everything() {
        let o = Overrides {
            listen: Some("127.0.0.1:9999".into()),
            data_dir: Some("/tmp/x".into()),
            role: Some("worker".into()),
            database_url: None,
            ..Overrides::default()
        };
        let c = Config::load(None, &o).unwrap();
        assert_eq!(c.server.listen, "127.0.0.1:9999".parse().unwrap());
        assert_eq!(c.server.metrics_listen, None, "\"\" in the defaults reads as not set");
        assert_eq!(c.store.data_dir, PathBuf::from("/tmp/x"));
        assert_eq!(c.server.role, Role::Worker);
    }
}
