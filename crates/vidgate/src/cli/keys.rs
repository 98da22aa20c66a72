//! `vidgate keys create|list|revoke|limits|secret|rotate-secret`. `create` prints the key as
//! the only line on stdout, so scripts can capture it.

use std::process::ExitCode;

use clap::Subcommand;
use vidgate_domain::{Clock, SystemClock};
use vidgate_store::StoreError;

use super::key_limits::{LimitArgs, describe};
use crate::bootstrap::new_key_record;
use crate::config::Config;
use crate::store_select::open_store;
use vidgate_api::rfc3339;

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key and print it (shown only now).
    Create {
        /// A unique name for the key.
        #[arg(long)]
        name: String,
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// List keys (names, prefixes, state, own limits; never the keys).
    List,
    /// Show a key's own limits, or change them with the flags (`default` resets one).
    Limits {
        /// The key's name.
        name: String,
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// Revoke a key by name; it stops working within `auth.key_cache_ttl` (2 s).
    Revoke {
        /// The key's name.
        name: String,
    },
    /// Print the key's webhook signing secret (`whsec_…`), the only line on stdout.
    Secret {
        /// The key's name.
        name: String,
    },
    /// Replace the key's webhook signing secret and print the new one. The old secret keeps
    /// signing beside it for `webhooks.rotation_overlap` (24 h), so receivers can switch over.
    RotateSecret {
        /// The key's name.
        name: String,
    },
}

pub async fn run(command: KeysCommand, config: Config) -> ExitCode {
    let store = match open_store(&config).await {
        Ok(s) => s,
        Err(e) => return super::fail(format!("{e:#}")),
    };
    let now = SystemClock.now_ms();
    match command {
        KeysCommand::Create { name, limits } => {
            let name = name.trim();
            if name.is_empty() || name.len() > 64 {
                return super::fail("a key name must be 1 to 64 characters");
            }
            let (key, mut record) = new_key_record(name, now);
            record.limits = limits.apply(record.limits);
            match store.create_key(record).await {
                Ok(_) => {
                    println!("{key}");
                    ExitCode::SUCCESS
                }
                Err(StoreError::Conflict(m)) => super::fail(m),
                Err(e) => super::fail(e),
            }
        }
        KeysCommand::List => match store.list_keys().await {
            Ok(keys) => {
                println!(
                    "{:<24} {:<12} {:<26} {:<34} LIMITS",
                    "NAME", "PREFIX", "CREATED", "STATE"
                );
                for k in keys {
                    let state = k
                        .revoked_at
                        .map(|r| format!("revoked {}", rfc3339(r)))
                        .unwrap_or_else(|| "active".into());
                    println!(
                        "{:<24} {:<12} {:<26} {state:<34} {}",
                        k.name,
                        k.prefix,
                        rfc3339(k.created_at),
                        describe(&k.limits)
                    );
                }
                ExitCode::SUCCESS
            }
            Err(e) => super::fail(e),
        },
        KeysCommand::Secret { name } => match store.key_by_name(&name).await {
            Ok(Some(key)) => {
                let secret = match store.webhook_secrets(&key.id, now).await {
                    Ok(Some(s)) => Ok(Some(s.current)),
                    Ok(None) => {
                        store
                            .init_webhook_secret(&key.id, &vidgate_workers::webhooks::new_secret())
                            .await
                    }
                    Err(e) => Err(e),
                };
                match secret {
                    Ok(Some(s)) => {
                        println!("{s}");
                        ExitCode::SUCCESS
                    }
                    Ok(None) => super::fail(format!("no active key named {name:?}")),
                    Err(e) => super::fail(e),
                }
            }
            Ok(None) => super::fail(format!("no active key named {name:?}")),
            Err(e) => super::fail(e),
        },
        KeysCommand::RotateSecret { name } => {
            let secret = vidgate_workers::webhooks::new_secret();
            let overlap =
                i64::try_from(config.webhooks.rotation_overlap.as_millis()).unwrap_or(i64::MAX / 2);
            match store.rotate_webhook_secret(&name, &secret, now + overlap).await {
                Ok(true) => {
                    println!("{secret}");
                    ExitCode::SUCCESS
                }
                Ok(false) => super::fail(format!("no active key named {name:?}")),
                Err(e) => super::fail(e),
            }
        }
        KeysCommand::Limits { name, limits } => {
            let current = match store.key_by_name(&name).await {
                Ok(Some(k)) => k.limits,
                Ok(None) => return super::fail(format!("no active key named {name:?}")),
                Err(e) => return super::fail(e),
            };
            let next = limits.apply(current);
            if !limits.is_empty() {
                match store.set_key_limits(&name, next).await {
                    Ok(true) => {}
                    Ok(false) => return super::fail(format!("no active key named {name:?}")),
                    Err(e) => return super::fail(e),
                }
            }
            println!("{}", describe(&next));
            ExitCode::SUCCESS
        }
        KeysCommand::Revoke { name } => match store.revoke_key(&name, now).await {
            Ok(true) => {
                eprintln!("vidgate: revoked key {name:?}");
                ExitCode::SUCCESS
            }
            Ok(false) => super::fail(format!("no active key named {name:?}")),
            Err(e) => super::fail(e),
        },
    }
}
