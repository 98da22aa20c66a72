//! Picks the upstream provider from the configuration: Tencent VOD when an account is
//! configured (or `provider.kind = "tencent"`), else the local sandbox.

use std::sync::Arc;

use anyhow::Context;
use vidgate_domain::Clock;
use vidgate_egress::EgressPolicy;
use vidgate_providers::Provider;
use vidgate_providers::sandbox::{SandboxConfig, SandboxProvider};
use vidgate_providers::tencent::{TencentAccount, TencentConfig, TencentProvider};

use crate::config::{Config, TencentSettings};

pub fn open_provider(
    config: &Config,
    clock: Arc<dyn Clock>,
    egress: &EgressPolicy,
    media: &vidgate_media::MediaStore,
    models: &Arc<vidgate_domain::models::live::LiveModels>,
) -> anyhow::Result<Arc<dyn Provider>> {
    if config.uses_tencent() {
        let provider = TencentProvider::new(tencent_config(&config.tencent)?, clock)?;
        return Ok(Arc::new(provider));
    }
    let s = &config.sandbox;
    Ok(Arc::new(SandboxProvider::new(
        SandboxConfig {
            media: media.clone(),
            scratch_dir: config.scratch_dir(),
            concurrency: s.concurrency,
            queue_delay: s.queue_delay,
            processing_time: s.processing_time,
            poll_interval: s.poll_interval,
            fps: s.fps,
            moderation_blocklist: s.moderation_blocklist.clone(),
            egress: egress.clone(),
            fetch_timeout: s.fetch_timeout,
            max_input_bytes: s.max_input_bytes,
            models: models.clone(),
        },
        clock,
    )?))
}

fn endpoint(url: &str) -> anyhow::Result<url::Url> {
    url::Url::parse(url).with_context(|| format!("{url:?} is not a URL"))
}

/// The single account of the flat settings, then every `[[tencent.accounts]]` entry.
pub fn tencent_config(t: &TencentSettings) -> anyhow::Result<TencentConfig> {
    let region = |r: &str| Some(r.to_owned()).filter(|r| !r.is_empty());
    let mut accounts = Vec::new();
    if !t.secret_id.is_empty() {
        accounts.push(TencentAccount {
            name: "default".into(),
            secret_id: t.secret_id.clone(),
            secret_key: t.secret_key.clone(),
            sub_app_id: t.sub_app_id,
            endpoint: endpoint(&t.endpoint)?,
            region: region(&t.region),
            concurrency: t.concurrency,
            create_rate: t.create_rate,
        });
    }
    for a in &t.accounts {
        accounts.push(TencentAccount {
            name: a.name.clone(),
            secret_id: a.secret_id.clone(),
            secret_key: a.secret_key.clone(),
            sub_app_id: a.sub_app_id,
            endpoint: endpoint(a.endpoint.as_deref().unwrap_or(&t.endpoint))?,
            region: region(a.region.as_deref().unwrap_or(&t.region)),
            concurrency: a.concurrency.unwrap_or(t.concurrency),
            create_rate: a.create_rate.unwrap_or(t.create_rate),
        });
    }
    Ok(TencentConfig {
        accounts,
        describe_rate: t.describe_rate,
        request_timeout: t.request_timeout,
        poll_initial: t.poll_initial,
        poll_backoff: t.poll_backoff,
        poll_max: t.poll_max,
        events: t.events,
        callback_sign_key: Some(t.callback_sign_key.clone()).filter(|k| !k.is_empty()),
        reconcile_pages: t.reconcile_pages,
    })
}
