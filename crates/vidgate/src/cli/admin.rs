//! Where `vidgate keys` and `vidgate usage` act: on the database (a host that reaches it), or
//! with `--url` on a running vidgate's `/admin/` routes with an admin key
//! (`VIDGATE_ADMIN_KEY`), so operators of a replicated deployment need no shell on the
//! database host. The same operations, the same output, either way, and the same audit log:
//! a change made on the database host is recorded with the actor `cli@<hostname>`.

use std::sync::Arc;

use clap::Args;
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};
use vidgate_domain::pricing::Credits;
use vidgate_domain::{Clock, SystemClock};
use vidgate_store::{
    GroupBy, KeyBudget, KeyLimits, KeyRecord, KeyRole, NewAudit, Store, StoreError, TopUp,
    UsageQuery,
};

use crate::bootstrap::new_key_record;
use crate::config::Config;
use crate::store_select::open_store;

#[derive(Debug, Clone, Default, Args)]
pub struct RemoteArgs {
    /// Act on a running vidgate over HTTP (its /admin/ routes) instead of on its database.
    #[arg(long, env = "VIDGATE_ADMIN_URL", global = true)]
    pub url: Option<String>,
    /// An admin key, for --url (`vidgate keys create --admin`, or the bootstrap key).
    #[arg(long, env = "VIDGATE_ADMIN_KEY", hide_env_values = true, global = true)]
    pub admin_key: Option<String>,
}

/// A key's money, as both sides report it (credits).
#[derive(Debug, Clone, Deserialize)]
pub struct BudgetLine {
    pub balance: f64,
    pub prepaid: bool,
    pub spent_today: f64,
    pub spent_this_month: f64,
    pub day_limit: Option<f64>,
    pub month_limit: Option<f64>,
}

/// A key, as both sides report it.
#[derive(Debug, Clone, Deserialize)]
pub struct KeyLine {
    pub name: String,
    pub prefix: String,
    pub role: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
    pub limits: KeyLimits,
    pub budget: Option<BudgetLine>,
}

/// One usage group (`UsageLine` of the API).
#[derive(Debug, Clone, Deserialize)]
pub struct UsageLine {
    pub group: String,
    pub requests: i64,
    pub succeeded: i64,
    pub released: i64,
    pub pending: i64,
    pub seconds: f64,
    pub spent: f64,
}

pub enum Admin {
    Local { store: Arc<dyn Store> },
    Remote { http: reqwest::Client, url: String, key: String },
}

fn credits(v: Credits) -> f64 {
    v.as_credits()
}

impl Admin {
    pub async fn open(remote: &RemoteArgs, config: &Config) -> Result<Admin, String> {
        match (&remote.url, &remote.admin_key) {
            (Some(url), Some(key)) => Ok(Admin::Remote {
                http: reqwest::Client::new(),
                url: url.trim_end_matches('/').to_owned(),
                key: key.clone(),
            }),
            (Some(_), None) => {
                Err("--url needs an admin key: --admin-key or VIDGATE_ADMIN_KEY".into())
            }
            (None, _) => open_store(config)
                .await
                .map(|store| Admin::Local { store })
                .map_err(|e| format!("{e:#}")),
        }
    }

    /// The store, for what only a database host may do (webhook secrets).
    pub fn local(&self) -> Result<&Arc<dyn Store>, String> {
        match self {
            Admin::Local { store } => Ok(store),
            Admin::Remote { .. } => {
                Err("this command needs the database (it is not offered over --url)".into())
            }
        }
    }

    /// A GET of the admin API (remote only).
    pub async fn get(&self, path: &str) -> Result<Value, String> {
        self.call(Method::GET, path, None).await
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Result<Value, String> {
        let Admin::Remote { http, url, key } = self else { return Err("not remote".into()) };
        let mut r = http.request(method, format!("{url}{path}")).bearer_auth(key);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let r = r.send().await.map_err(|e| format!("{url} did not answer: {e}"))?;
        let status = r.status();
        let text = r.text().await.map_err(|e| e.to_string())?;
        if !status.is_success() {
            let v: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
            let detail = match &v["detail"] {
                Value::String(s) => s.clone(),
                Value::Null => v.to_string(),
                other => other.to_string(),
            };
            return Err(format!("{status}: {detail}"));
        }
        Ok(if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        })
    }

    /// Records a change made here, on the database host, in the audit log (the admin API
    /// records its own): who (`cli@<hostname>`), what, to what, the change; never a secret.
    /// The change is made by then: a failure to record it is said on stderr, and the command
    /// still prints what it made (a new key or secret is shown only once).
    pub async fn audit_local(
        store: &Arc<dyn Store>,
        action: &str,
        target: &str,
        detail: Option<Value>,
    ) {
        let actor = cli_actor();
        let entry = NewAudit {
            at: SystemClock.now_ms(),
            actor_key_id: "cli".into(),
            actor_name: actor,
            action: action.into(),
            target: target.into(),
            detail,
        };
        if let Err(e) = store.record_audit(entry).await {
            eprintln!(
                "vidgate: warning: the change was made, but the audit log could not record it: {}",
                Self::store_err(e)
            );
        }
    }

    fn store_err(e: StoreError) -> String {
        match e {
            StoreError::Conflict(m) => m,
            other => other.to_string(),
        }
    }

    async fn local_line(store: &Arc<dyn Store>, k: &KeyRecord) -> Result<KeyLine, String> {
        let b = store.balance(&k.id, SystemClock.now_ms()).await.map_err(Self::store_err)?;
        Ok(KeyLine {
            name: k.name.clone(),
            prefix: k.prefix.clone(),
            role: k.role.as_str().into(),
            created_at: vidgate_api::rfc3339(k.created_at),
            revoked_at: k.revoked_at.map(vidgate_api::rfc3339),
            limits: k.limits,
            budget: b.map(|b| BudgetLine {
                balance: credits(b.balance),
                prepaid: b.budget.prepaid,
                spent_today: credits(b.spent_today),
                spent_this_month: credits(b.spent_this_month),
                day_limit: b.budget.day_limit.map(credits),
                month_limit: b.budget.month_limit.map(credits),
            }),
        })
    }

    /// Creates a key; returns it (shown only now).
    pub async fn create_key(
        &self,
        name: &str,
        admin: bool,
        limits: KeyLimits,
    ) -> Result<String, String> {
        match self {
            Admin::Local { store } => {
                let (key, mut record) = new_key_record(name, SystemClock.now_ms());
                record.limits = limits;
                record.role = if admin { KeyRole::Admin } else { KeyRole::User };
                let role = record.role.as_str();
                store.create_key(record).await.map_err(Self::store_err)?;
                let detail = json!({"role": role, "limits": limits});
                Self::audit_local(store, "key.create", name, Some(detail)).await;
                Ok(key)
            }
            Admin::Remote { .. } => {
                let body = json!({"name": name, "admin": admin, "limits": limits});
                let v = self.call(Method::POST, "/admin/keys", Some(body)).await?;
                v["key"].as_str().map(str::to_owned).ok_or_else(|| format!("unexpected answer {v}"))
            }
        }
    }

    pub async fn list(&self) -> Result<Vec<KeyLine>, String> {
        match self {
            Admin::Local { store } => {
                let mut out = Vec::new();
                for k in store.list_keys().await.map_err(Self::store_err)? {
                    out.push(Self::local_line(store, &k).await?);
                }
                Ok(out)
            }
            Admin::Remote { .. } => {
                let v = self.call(Method::GET, "/admin/keys", None).await?;
                serde_json::from_value(v).map_err(|e| format!("unexpected answer: {e}"))
            }
        }
    }

    /// The active key named `name`.
    pub async fn key(&self, name: &str) -> Result<KeyLine, String> {
        let missing = || format!("no active key named {name:?}");
        match self {
            Admin::Local { store } => {
                let k =
                    store.key_by_name(name).await.map_err(Self::store_err)?.ok_or_else(missing)?;
                Self::local_line(store, &k).await
            }
            Admin::Remote { .. } => {
                let keys = self.list().await?;
                keys.into_iter()
                    .find(|k| k.name == name && k.revoked_at.is_none())
                    .ok_or_else(missing)
            }
        }
    }

    pub async fn set_limits(&self, name: &str, limits: KeyLimits) -> Result<(), String> {
        match self {
            Admin::Local { store } => match store.set_key_limits(name, limits).await {
                Ok(true) => {
                    Self::audit_local(store, "key.limits", name, Some(json!(limits))).await;
                    Ok(())
                }
                Ok(false) => Err(format!("no active key named {name:?}")),
                Err(e) => Err(Self::store_err(e)),
            },
            Admin::Remote { .. } => {
                let path = format!("/admin/keys/{}/limits", urlencoding(name));
                self.call(Method::PUT, &path, Some(json!(limits))).await.map(|_| ())
            }
        }
    }

    pub async fn set_budget(&self, name: &str, budget: KeyBudget) -> Result<(), String> {
        match self {
            Admin::Local { store } => match store.set_key_budget(name, budget).await {
                Ok(true) => {
                    Self::audit_local(store, "key.budget", name, Some(budget_body(budget))).await;
                    Ok(())
                }
                Ok(false) => Err(format!("no active key named {name:?}")),
                Err(e) => Err(Self::store_err(e)),
            },
            Admin::Remote { .. } => {
                let path = format!("/admin/keys/{}/budget", urlencoding(name));
                self.call(Method::PUT, &path, Some(budget_body(budget))).await.map(|_| ())
            }
        }
    }

    pub async fn top_up(&self, name: &str, amount: Credits, note: &str) -> Result<(), String> {
        match self {
            Admin::Local { store } => {
                let key = store.key_by_name(name).await.map_err(Self::store_err)?;
                let key = key.ok_or_else(|| format!("no active key named {name:?}"))?;
                let line = format!("{}: {note}", cli_actor());
                let line = line.trim_end_matches([':', ' ']);
                match store.top_up(&key.id, amount, line, SystemClock.now_ms()).await {
                    Ok(TopUp::Done(_)) => {}
                    Ok(TopUp::NoSuchKey) => return Err(format!("no active key named {name:?}")),
                    Ok(TopUp::WouldOverdraw { balance }) => {
                        return Err(format!(
                            "key {name:?} is prepaid and its balance is {balance} credits: an adjustment of {amount} would take it below zero"
                        ));
                    }
                    Err(e) => return Err(Self::store_err(e)),
                }
                let detail = json!({"amount": amount.as_credits(), "note": note});
                Self::audit_local(store, "key.top_up", name, Some(detail)).await;
                Ok(())
            }
            Admin::Remote { .. } => {
                let body = json!({"amount": amount.as_credits(), "note": note});
                let path = format!("/admin/keys/{}/top-ups", urlencoding(name));
                self.call(Method::POST, &path, Some(body)).await.map(|_| ())
            }
        }
    }

    pub async fn revoke(&self, name: &str) -> Result<(), String> {
        match self {
            Admin::Local { store } => match store.revoke_key(name, SystemClock.now_ms()).await {
                Ok(true) => {
                    Self::audit_local(store, "key.revoke", name, None).await;
                    Ok(())
                }
                Ok(false) => Err(format!("no active key named {name:?}")),
                Err(e) => Err(Self::store_err(e)),
            },
            Admin::Remote { .. } => {
                let path = format!("/admin/keys/{}", urlencoding(name));
                self.call(Method::DELETE, &path, None).await.map(|_| ())
            }
        }
    }

    /// A usage report over UTC days `from..=to` (`YYYY-MM-DD`).
    pub async fn usage(
        &self,
        key: Option<&str>,
        from: &str,
        to: &str,
        group_by: GroupBy,
    ) -> Result<Vec<UsageLine>, String> {
        match self {
            Admin::Local { store } => {
                let key_id = match key {
                    Some(name) => Some(self.local_key_id(store, name).await?),
                    None => None,
                };
                let q = UsageQuery { key_id, from: from.into(), to: to.into(), group_by };
                let rows = store.usage(&q).await.map_err(Self::store_err)?;
                Ok(rows
                    .into_iter()
                    .map(|r| UsageLine {
                        group: r.group,
                        requests: r.requests,
                        succeeded: r.succeeded,
                        released: r.released,
                        pending: r.pending,
                        seconds: r.seconds,
                        spent: credits(r.spent),
                    })
                    .collect())
            }
            Admin::Remote { .. } => {
                let mut path =
                    format!("/admin/usage?from={from}&to={to}&group_by={}", group_by.as_str());
                if let Some(k) = key {
                    path.push_str(&format!("&key={}", urlencoding(k)));
                }
                let v = self.call(Method::GET, &path, None).await?;
                serde_json::from_value(v["rows"].clone())
                    .map_err(|e| format!("unexpected answer: {e}"))
            }
        }
    }

    async fn local_key_id(
        &self,
        store: &Arc<dyn Store>,
        name: &str,
    ) -> Result<vidgate_domain::KeyId, String> {
        let key = store.key_by_name(name).await.map_err(Self::store_err)?;
        key.map(|k| k.id).ok_or_else(|| format!("no active key named {name:?}"))
    }
}

/// A budget as the admin API takes it (and the audit log records it).
fn budget_body(budget: KeyBudget) -> Value {
    json!({"prepaid": budget.prepaid,
        "day_limit": budget.day_limit.map(credits),
        "month_limit": budget.month_limit.map(credits)})
}

/// Who the audit log names for a change made with this command line on the database host.
pub fn cli_actor() -> String {
    let host = ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()))
        .unwrap_or_else(|| "unknown-host".into());
    format!("cli@{host}")
}

/// A key name as one path segment.
fn urlencoding(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>().replace('+', "%20")
}
