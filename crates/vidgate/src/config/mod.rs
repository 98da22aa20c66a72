//! One typed configuration tree. Defaults live in `config/default.toml` (embedded, printed by
//! `vidgate config default`); a file, `VIDGATE_*` variables and flags override them. Invalid
//! settings stop startup with a message naming the setting. Secrets are redacted in `Debug`.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::Deserialize;

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
    pub metrics: MetricsConfig,
}

/// Overrides from flags, applied last (`Overrides::settings` names the setting of each).
#[derive(Debug, Default)]
pub struct Overrides {
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub role: Option<String>,
    pub tls_cert: Option<String>,
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
            .merge(nested(short_env()));
        figment = figment.merge(nested(overrides.settings()));
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
        self.rules.models(&self.accounting)?;
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

/// The short environment variables and the setting each sets: the one mapping. Flags are not
/// read from the environment by clap; a variable reaches its setting only through this table.
const SHORT_ENV: &[(&str, &str)] = &[
    ("VIDGATE_LISTEN", "server.listen"),
    ("VIDGATE_ROLE", "server.role"),
    ("VIDGATE_TLS_CERT", "server.tls_cert"),
    ("VIDGATE_TLS_KEY", "server.tls_key"),
    ("VIDGATE_DATA_DIR", "store.data_dir"),
    ("DATABASE_URL", "store.database_url"),
    ("VIDGATE_BOOTSTRAP_KEY", "auth.bootstrap_key"),
    ("VIDGATE_EGRESS_ALLOW", "egress.allow"),
    ("VIDGATE_PROVIDER", "provider.kind"),
    ("TENCENTCLOUD_SECRET_ID", "tencent.secret_id"),
    ("TENCENTCLOUD_SECRET_KEY", "tencent.secret_key"),
    ("VIDGATE_TENCENT_ENDPOINT", "tencent.endpoint"),
    ("VIDGATE_TENCENT_SUBAPP_ID", "tencent.sub_app_id"),
];

/// The settings the short environment variables set (empty ones are unset).
fn short_env() -> Vec<(&'static str, String)> {
    SHORT_ENV
        .iter()
        .filter_map(|(name, setting)| {
            std::env::var(name).ok().filter(|v| !v.is_empty()).map(|v| (*setting, v))
        })
        .collect()
}

/// `section.key` settings as one nested layer of text values, numbers where `NUMERIC` says.
fn nested(settings: Vec<(&'static str, String)>) -> Serialized<serde_json::Value> {
    let mut root = serde_json::Map::new();
    for (setting, value) in settings {
        let (section, key) = setting.split_once('.').expect("settings are section.key");
        let value = match NUMERIC.contains(&setting) {
            true => value.trim().parse::<u64>().map_or(value.into(), serde_json::Value::from),
            false => value.into(),
        };
        let table = root.entry(section).or_insert_with(|| serde_json::json!({}));
        table[key] = value;
    }
    Serialized::defaults(serde_json::Value::Object(root))
}

/// Short forms whose setting is a number (a value that is not one is passed as given, for
/// extraction to name as invalid).
const NUMERIC: &[&str] = &["tencent.sub_app_id"];

impl Overrides {
    /// The settings these flags set.
    fn settings(&self) -> Vec<(&'static str, String)> {
        let data_dir = self.data_dir.as_ref().map(|d| d.display().to_string());
        [
            ("server.listen", self.listen.clone()),
            ("store.data_dir", data_dir),
            ("store.database_url", self.database_url.clone()),
            ("server.role", self.role.clone()),
            ("server.tls_cert", self.tls_cert.clone()),
            ("server.tls_key", self.tls_key.clone()),
        ]
        .into_iter()
        .filter_map(|(setting, v)| v.map(|v| (setting, v)))
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each short form names a setting the configuration has, so a renamed setting cannot
    /// leave its variable or flag setting nothing.
    #[test]
    fn every_short_form_names_a_setting_and_sets_it() {
        let defaults = Figment::from(Toml::string(DEFAULT_TOML));
        let o = Overrides {
            listen: Some("127.0.0.1:1".into()),
            data_dir: Some("/d".into()),
            database_url: Some("postgres://h/db".into()),
            role: Some("api".into()),
            tls_cert: Some("/c".into()),
            tls_key: Some("/k".into()),
        };
        let flags = o.settings();
        assert_eq!(flags.len(), 6, "every flag is mapped");
        for setting in SHORT_ENV.iter().map(|(_, s)| *s).chain(flags.iter().map(|(s, _)| *s)) {
            let known = defaults.find_value(setting).is_ok() || setting == "auth.bootstrap_key";
            assert!(known, "{setting} is not a setting");
        }
        let layer = Figment::from(nested(flags));
        assert_eq!(layer.extract_inner::<String>("server.listen").unwrap(), "127.0.0.1:1");
        assert_eq!(layer.extract_inner::<String>("store.data_dir").unwrap(), "/d");
        let sub_app = nested(vec![("tencent.sub_app_id", " 42 ".into())]);
        assert_eq!(Figment::from(sub_app).extract_inner::<u64>("tencent.sub_app_id").unwrap(), 42);
        let bad = nested(vec![("tencent.sub_app_id", "x1".into())]);
        assert_eq!(Figment::from(bad).extract_inner::<String>("tencent.sub_app_id").unwrap(), "x1");
    }

    #[test]
    fn the_embedded_defaults_are_valid() {
        Config::defaults().validate().unwrap();
    }

    #[test]
    fn the_create_linger_is_read_bounded_and_may_be_turned_off() {
        let c = Config::defaults();
        assert_eq!(c.store.create_linger, std::time::Duration::from_micros(300));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.toml");
        std::fs::write(&path, "[store]\ncreate_linger = \"0s\"\n").unwrap();
        let c = Config::load(Some(&path), &Overrides::default()).unwrap();
        assert!(c.store.create_linger.is_zero());
        std::fs::write(&path, "[store]\ncreate_linger = \"6ms\"\n").unwrap();
        let err = Config::load(Some(&path), &Overrides::default()).unwrap_err().to_string();
        assert!(err.contains("store.create_linger") && err.contains("5ms"), "{err}");
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
