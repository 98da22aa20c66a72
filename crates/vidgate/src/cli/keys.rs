//! `vidgate keys create|list|revoke`. `create` prints the key as the only line on stdout, so
//! scripts can capture it.

use std::process::ExitCode;

use clap::Subcommand;
use vidgate_domain::{Clock, SystemClock};
use vidgate_store::StoreError;

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
    },
    /// List keys (names, prefixes, state; never the keys).
    List,
    /// Revoke a key by name; it stops working at once.
    Revoke {
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
        KeysCommand::Create { name } => {
            let name = name.trim();
            if name.is_empty() || name.len() > 64 {
                return super::fail("a key name must be 1 to 64 characters");
            }
            let (key, record) = new_key_record(name, now);
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
                println!("{:<24} {:<12} {:<26} STATE", "NAME", "PREFIX", "CREATED");
                for k in keys {
                    let state = k
                        .revoked_at
                        .map(|r| format!("revoked {}", rfc3339(r)))
                        .unwrap_or_else(|| "active".into());
                    println!(
                        "{:<24} {:<12} {:<26} {state}",
                        k.name,
                        k.prefix,
                        rfc3339(k.created_at)
                    );
                }
                ExitCode::SUCCESS
            }
            Err(e) => super::fail(e),
        },
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
