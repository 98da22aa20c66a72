//! `vidgate keys create|list|limits|budget|top-up|revoke|secret|rotate-secret`, on the
//! database or (`--url`) over a running vidgate's admin API. `create` prints the key as the
//! only line on stdout, so scripts can capture it.

use std::process::ExitCode;

use clap::Subcommand;
use vidgate_domain::pricing::Credits;
use vidgate_domain::{Clock, SystemClock};
use vidgate_store::KeyBudget;

use super::admin::{Admin, BudgetLine, KeyLine, RemoteArgs};
use super::key_limits::{LimitArgs, describe};
use crate::config::Config;

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key and print it (shown only now).
    Create {
        /// A unique name for the key.
        #[arg(long)]
        name: String,
        /// An admin key: it may manage keys and read anyone's usage over `/admin/`.
        #[arg(long)]
        admin: bool,
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// List keys (names, prefixes, roles, state, own limits, balance; never the keys).
    List,
    /// Show a key's own limits, or change them with the flags (`default` resets one).
    Limits {
        /// The key's name.
        name: String,
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// Show a key's budget and spend, or change its budget with the flags.
    Budget {
        /// The key's name.
        name: String,
        /// Refuse creates its balance cannot cover (true or false).
        #[arg(long, value_name = "BOOL")]
        prepaid: Option<bool>,
        /// Most credits it may spend per UTC day [number | none].
        #[arg(long, value_name = "CREDITS", value_parser = limit)]
        day_limit: Option<Limit>,
        /// Most credits it may spend per calendar month (UTC) [number | none].
        #[arg(long, value_name = "CREDITS", value_parser = limit)]
        month_limit: Option<Limit>,
    },
    /// Add credits to a key's balance (a negative amount takes them away).
    TopUp {
        /// The key's name.
        name: String,
        /// Credits.
        #[arg(allow_hyphen_values = true)]
        amount: f64,
        /// Why (kept in the ledger).
        #[arg(long, default_value = "")]
        note: String,
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

/// A spending limit flag's value: credits, or `none` (no limit).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limit(Option<f64>);

fn limit(raw: &str) -> Result<Limit, String> {
    if raw.eq_ignore_ascii_case("none") {
        return Ok(Limit(None));
    }
    match raw.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(Limit(Some(v))),
        _ => Err(format!("expected credits ≥ 0 or \"none\", got {raw:?}")),
    }
}

fn budget_line(b: Option<&BudgetLine>) -> String {
    let Some(b) = b else { return "-".into() };
    let mut parts = vec![format!("balance={}", b.balance)];
    if b.prepaid {
        parts.push("prepaid".into());
    }
    parts.push(format!("today={}", b.spent_today));
    parts.push(format!("month={}", b.spent_this_month));
    if let Some(l) = b.day_limit {
        parts.push(format!("day_limit={l}"));
    }
    if let Some(l) = b.month_limit {
        parts.push(format!("month_limit={l}"));
    }
    parts.join(" ")
}

fn print_keys(keys: &[KeyLine]) {
    println!(
        "{:<24} {:<12} {:<6} {:<26} {:<34} {:<40} BUDGET",
        "NAME", "PREFIX", "ROLE", "CREATED", "STATE", "LIMITS"
    );
    for k in keys {
        let state =
            k.revoked_at.as_ref().map_or_else(|| "active".into(), |r| format!("revoked {r}"));
        println!(
            "{:<24} {:<12} {:<6} {:<26} {state:<34} {:<40} {}",
            k.name,
            k.prefix,
            k.role,
            k.created_at,
            describe(&k.limits),
            budget_line(k.budget.as_ref())
        );
    }
}

fn done(result: Result<(), String>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => super::fail(e),
    }
}

pub async fn run(command: KeysCommand, config: Config, remote: RemoteArgs) -> ExitCode {
    let admin = match Admin::open(&remote, &config).await {
        Ok(a) => a,
        Err(e) => return super::fail(e),
    };
    done(match command {
        KeysCommand::Create { name, admin: is_admin, limits } => {
            create(&admin, &name, is_admin, &limits).await
        }
        KeysCommand::List => admin.list().await.map(|keys| print_keys(&keys)),
        KeysCommand::Limits { name, limits } => set_limits(&admin, &name, &limits).await,
        KeysCommand::Budget { name, prepaid, day_limit, month_limit } => {
            set_budget(&admin, &name, prepaid, day_limit, month_limit).await
        }
        KeysCommand::TopUp { name, amount, note } => top_up(&admin, &name, amount, &note).await,
        KeysCommand::Revoke { name } => {
            admin.revoke(&name).await.map(|()| eprintln!("vidgate: revoked key {name:?}"))
        }
        KeysCommand::Secret { name } => show_secret(&admin, &name).await,
        KeysCommand::RotateSecret { name } => {
            let overlap =
                i64::try_from(config.webhooks.rotation_overlap.as_millis()).unwrap_or(i64::MAX / 2);
            rotate_secret(&admin, &name, overlap).await
        }
    })
}

async fn create(
    admin: &Admin,
    name: &str,
    is_admin: bool,
    limits: &LimitArgs,
) -> Result<(), String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 64 {
        return Err("a key name must be 1 to 64 characters".into());
    }
    let key = admin.create_key(name, is_admin, limits.apply(Default::default())).await?;
    println!("{key}");
    Ok(())
}

async fn set_limits(admin: &Admin, name: &str, limits: &LimitArgs) -> Result<(), String> {
    let next = limits.apply(admin.key(name).await?.limits);
    if !limits.is_empty() {
        admin.set_limits(name, next).await?;
    }
    println!("{}", describe(&next));
    Ok(())
}

async fn set_budget(
    admin: &Admin,
    name: &str,
    prepaid: Option<bool>,
    day_limit: Option<Limit>,
    month_limit: Option<Limit>,
) -> Result<(), String> {
    let key = admin.key(name).await?;
    let current = key.budget.as_ref();
    if prepaid.is_some() || day_limit.is_some() || month_limit.is_some() {
        let to_credits = |v: Option<f64>| v.and_then(Credits::from_credits);
        let budget = KeyBudget {
            prepaid: prepaid.unwrap_or(current.is_some_and(|b| b.prepaid)),
            day_limit: to_credits(day_limit.map_or(current.and_then(|b| b.day_limit), |l| l.0)),
            month_limit: to_credits(
                month_limit.map_or(current.and_then(|b| b.month_limit), |l| l.0),
            ),
        };
        admin.set_budget(name, budget).await?;
    }
    println!("{}", budget_line(admin.key(name).await?.budget.as_ref()));
    Ok(())
}

async fn top_up(admin: &Admin, name: &str, amount: f64, note: &str) -> Result<(), String> {
    let credits = Credits::from_credits(amount)
        .filter(|c| *c != Credits::ZERO)
        .ok_or("the amount must be a non-zero number of credits")?;
    admin.top_up(name, credits, note).await?;
    println!("{}", budget_line(admin.key(name).await?.budget.as_ref()));
    Ok(())
}

/// Prints a key's webhook signing secret (making one if it has none); database host only.
async fn show_secret(admin: &Admin, name: &str) -> Result<(), String> {
    let store = admin.local()?;
    let missing = || format!("no active key named {name:?}");
    let key = store.key_by_name(name).await.map_err(|e| e.to_string())?.ok_or_else(missing)?;
    let secret = match store.webhook_secrets(&key.id, SystemClock.now_ms()).await {
        Ok(Some(s)) => Some(s.current),
        Ok(None) => store
            .init_webhook_secret(&key.id, &vidgate_workers::webhooks::new_secret())
            .await
            .map_err(|e| e.to_string())?,
        Err(e) => return Err(e.to_string()),
    };
    let secret = secret.ok_or_else(missing)?;
    // Who read a signing secret is worth knowing; the secret is not.
    Admin::audit_local(store, "key.secret_read", name, None).await;
    println!("{secret}");
    Ok(())
}

/// Gives a key a new webhook signing secret; the old one is still sent for `overlap` ms.
async fn rotate_secret(admin: &Admin, name: &str, overlap: i64) -> Result<(), String> {
    let store = admin.local()?;
    let secret = vidgate_workers::webhooks::new_secret();
    let until = SystemClock.now_ms() + overlap;
    match store.rotate_webhook_secret(name, &secret, until).await {
        Ok(true) => {
            Admin::audit_local(store, "key.rotate_secret", name, None).await;
            println!("{secret}");
            Ok(())
        }
        Ok(false) => Err(format!("no active key named {name:?}")),
        Err(e) => Err(e.to_string()),
    }
}
