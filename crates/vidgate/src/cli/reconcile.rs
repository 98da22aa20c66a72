//! `vidgate usage reconcile`: an upstream day (UTC+8) or range of vidgate's books against what
//! the upstream reported on its tasks and what its usage API billed, as a table or JSON; exits
//! non-zero when they do not agree. On the database (with the configured upstream), or over
//! a running vidgate's admin API (`--url`, `GET /admin/reconcile`).

use std::process::ExitCode;
use std::sync::Arc;

use chrono::NaiveDate;
use clap::Args;
use serde_json::Value;

use super::admin::{Admin, RemoteArgs};
use crate::config::Config;

#[derive(Debug, Args)]
pub struct ReconcileArgs {
    /// The upstream day (UTC+8), YYYY-MM-DD [default: yesterday's].
    #[arg(long)]
    pub date: Option<NaiveDate>,
    /// The last day of a range starting at --date (at most 90 days).
    #[arg(long)]
    pub to: Option<NaiveDate>,
    /// Seconds two sides may differ by and still agree.
    #[arg(long, default_value_t = 0.0)]
    pub tolerance: f64,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

fn figure(v: &Value) -> String {
    if v.is_null() {
        return "-".into();
    }
    format!("{}/{}s", v["jobs"], v["seconds"].as_f64().unwrap_or(0.0))
}

fn print(report: &Value) {
    println!(
        "upstream days {} to {} ({}), tolerance {} s; jobs/seconds",
        report["from"].as_str().unwrap_or("?"),
        report["to"].as_str().unwrap_or("?"),
        report["timezone"].as_str().unwrap_or("UTC+8"),
        report["tolerance_seconds"]
    );
    println!(
        "{:<11} {:<20} {:<28} {:>12} {:>12} {:>12} {:>8}",
        "DAY", "ACCOUNT", "SPECIFICATION", "LEDGER", "TASKS", "UPSTREAM", "DIFF"
    );
    for l in report["lines"].as_array().map_or(&[][..], Vec::as_slice) {
        println!(
            "{:<11} {:<20} {:<28} {:>12} {:>12} {:>12} {:>8}{}",
            l["day"].as_str().unwrap_or(""),
            l["account"].as_str().unwrap_or(""),
            l["specification"].as_str().unwrap_or(""),
            figure(&l["ledger"]),
            figure(&l["tasks"]),
            figure(&l["upstream"]),
            l["difference"],
            if l["agrees"] == true { "" } else { "  ✗" }
        );
    }
    let findings = report["findings"].as_array().map_or(&[][..], Vec::as_slice);
    for f in findings {
        let ids: Vec<&str> = f["request_ids"]
            .as_array()
            .map_or(&[][..], Vec::as_slice)
            .iter()
            .filter_map(Value::as_str)
            .collect();
        println!(
            "{} {} {}: {}{}",
            f["cause"].as_str().unwrap_or(""),
            f["day"].as_str().unwrap_or(""),
            f["specification"].as_str().unwrap_or(""),
            f["detail"].as_str().unwrap_or(""),
            if ids.is_empty() { String::new() } else { format!(" (requests {})", ids.join(", ")) }
        );
    }
    if report["agrees"] == true {
        println!("the books agree");
    } else {
        println!("the books do not agree: {} finding(s)", findings.len());
    }
}

async fn local(
    config: &Config,
    from: NaiveDate,
    to: NaiveDate,
    tolerance: f64,
) -> Result<Value, String> {
    let store = crate::store_select::open_store(config).await.map_err(|e| format!("{e:#}"))?;
    let clock: Arc<dyn vidgate_domain::Clock> = Arc::new(vidgate_domain::SystemClock);
    // The sandbox has no usage API: without Tencent the upstream column stays empty.
    let provider = match config.uses_tencent() {
        true => {
            let tencent = crate::provider_select::tencent_config(&config.tencent)
                .map_err(|e| format!("{e:#}"))?;
            let p = vidgate_providers::tencent::TencentProvider::new(tencent, clock)
                .map_err(|e| e.to_string())?;
            Some(p)
        }
        false => None,
    };
    let provider = provider.as_ref().map(|p| p as &dyn vidgate_providers::Provider);
    let report = vidgate_api::reconcile::reconcile(store.as_ref(), provider, from, to, tolerance)
        .await
        .map_err(|e| e.to_string())?;
    serde_json::to_value(report).map_err(|e| e.to_string())
}

pub async fn run(args: ReconcileArgs, config: Config, remote: RemoteArgs) -> ExitCode {
    let now = chrono::Utc::now().timestamp_millis();
    let yesterday = vidgate_api::reconcile::upstream_day(now).pred_opt().unwrap_or_default();
    let from = args.date.unwrap_or(yesterday);
    let to = args.to.unwrap_or(from);
    let report = if remote.url.is_some() {
        let admin = match Admin::open(&remote, &config).await {
            Ok(a) => a,
            Err(e) => return super::fail(e),
        };
        let path = format!("/admin/reconcile?from={from}&to={to}&tolerance={}", args.tolerance);
        admin.get(&path).await
    } else {
        local(&config, from, to, args.tolerance).await
    };
    let report = match report {
        Ok(r) => r,
        Err(e) => return super::fail(e),
    };
    if args.json {
        println!("{report:#}");
    } else {
        print(&report);
    }
    if report["agrees"] == true { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}
