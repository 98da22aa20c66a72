//! The emulator's configuration file (TOML), for `vidgate emulate tencent-vod --config FILE`.

use std::path::PathBuf;

use serde::Deserialize;

use crate::config::{EmulatorAccount, EmulatorConfig, Faults, parse_duration};

/// Every field is optional; the defaults are `EmulatorConfig::new`'s, plus one account.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmulatorFile {
    pub accounts: Option<Vec<EmulatorAccount>>,
    pub queue_time: Option<String>,
    pub processing_time: Option<String>,
    pub create_rate: Option<u32>,
    pub pull_wait: Option<String>,
    pub redelivery: Option<String>,
    pub public_url: Option<String>,
    pub fps: Option<u32>,
    pub push_url: Option<String>,
    pub push_sign_key: Option<String>,
    pub moderation_blocklist: Option<Vec<String>>,
    pub faults: Option<Faults>,
    pub output_padding: Option<u64>,
    pub file_rate: Option<u64>,
    pub extra_billed_seconds: Option<u64>,
    /// An operator's model-catalog file (vidgate's format), laid over the built-in catalog.
    pub catalog: Option<PathBuf>,
}

/// The account an emulator started without configuration accepts.
pub fn default_account() -> EmulatorAccount {
    EmulatorAccount {
        secret_id: "AKIDvidgateEmulator".into(),
        secret_key: "vidgate-emulator-secret-key".into(),
        sub_app_id: 251007502,
        concurrency: 1,
    }
}

/// The built-in catalog with the operator's file at `path` laid over it.
pub fn load_catalog(path: &std::path::Path) -> Result<vidgate_domain::models::Catalog, String> {
    use vidgate_domain::models::{Catalog, Origin, format::CatalogFile};
    let file = CatalogFile::read(path)?;
    Catalog::built_in()
        .overlay(&file, Origin::Operator)
        .map_err(|e| format!("{}: {e}", path.display()))
}

impl EmulatorFile {
    pub fn parse(text: &str) -> Result<EmulatorFile, String> {
        toml::from_str(text).map_err(|e| format!("invalid emulator configuration: {e}"))
    }

    pub fn into_config(
        self,
        media_dir: PathBuf,
        listen_url: String,
    ) -> Result<EmulatorConfig, String> {
        let mut c = EmulatorConfig::new(
            self.accounts.unwrap_or_else(|| vec![default_account()]),
            media_dir,
            listen_url,
        );
        if let Some(u) = self.public_url.filter(|u| !u.is_empty()) {
            c.public_url = u;
        }
        let dur = |v: Option<String>, d| {
            v.map(|s| parse_duration(&s)).transpose().map(|o| o.unwrap_or(d))
        };
        c.queue_time = dur(self.queue_time, c.queue_time)?;
        c.processing_time = dur(self.processing_time, c.processing_time)?;
        c.pull_wait = dur(self.pull_wait, c.pull_wait)?;
        c.redelivery = dur(self.redelivery, c.redelivery)?;
        if let Some(r) = self.create_rate {
            c.create_rate = r;
        }
        if let Some(f) = self.fps {
            c.fps = f.clamp(1, 60);
        }
        c.push_url = self.push_url.filter(|u| !u.is_empty());
        c.push_sign_key = self.push_sign_key.filter(|k| !k.is_empty());
        if let Some(b) = self.moderation_blocklist {
            c.moderation_blocklist = b;
        }
        if let Some(f) = self.faults {
            c.faults = f;
        }
        c.output_padding = self.output_padding.unwrap_or(0);
        c.file_rate = self.file_rate.unwrap_or(0);
        c.extra_billed_seconds = self.extra_billed_seconds.unwrap_or(0);
        if let Some(path) = self.catalog {
            c.catalog = std::sync::Arc::new(load_catalog(&path)?);
        }
        if c.accounts.is_empty() {
            return Err("the emulator needs at least one account".into());
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_sets_accounts_timings_and_faults() {
        let f = EmulatorFile::parse(
            r#"
            processing_time = "2s"
            [[accounts]]
            secret_id = "AKIDa"
            secret_key = "ka"
            sub_app_id = 1
            concurrency = 2
            [faults]
            internal_error = 0.1
            slow_delay = "1500ms"
            "#,
        )
        .unwrap();
        let c = f.into_config("/tmp/e".into(), "http://127.0.0.1:9000".into()).unwrap();
        assert_eq!(c.processing_time, std::time::Duration::from_secs(2));
        assert_eq!(c.accounts[0].concurrency, 2);
        assert_eq!(c.faults.internal_error, 0.1);
        assert_eq!(c.faults.slow_delay, Some(std::time::Duration::from_millis(1500)));
        assert!(EmulatorFile::parse("nonsense = 1").is_err());
    }
}
