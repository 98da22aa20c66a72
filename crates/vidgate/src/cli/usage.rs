//! `vidgate usage`: what keys spent, per day, model or key, as a table or CSV; on the
//! database or (`--url`) over a running vidgate's admin API.

use std::process::ExitCode;

use chrono::{Datelike, NaiveDate, Utc};
use clap::{Args, ValueEnum};
use vidgate_store::GroupBy;

use super::admin::{Admin, RemoteArgs, UsageLine};
use crate::config::Config;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Grouping {
    Day,
    Model,
    Key,
}

#[derive(Debug, Args)]
pub struct UsageArgs {
    /// Only this key (its name); default: every key.
    #[arg(long)]
    pub key: Option<String>,
    /// First UTC day (YYYY-MM-DD) [default: the first of this month].
    #[arg(long)]
    pub from: Option<NaiveDate>,
    /// Last UTC day, inclusive [default: today].
    #[arg(long)]
    pub to: Option<NaiveDate>,
    #[arg(long, value_enum, default_value = "day")]
    pub group_by: Grouping,
    /// Print CSV instead of a table.
    #[arg(long)]
    pub csv: bool,
}

fn print(rows: &[UsageLine], csv: bool) {
    let total = UsageLine {
        group: "total".into(),
        requests: rows.iter().map(|r| r.requests).sum(),
        succeeded: rows.iter().map(|r| r.succeeded).sum(),
        released: rows.iter().map(|r| r.released).sum(),
        pending: rows.iter().map(|r| r.pending).sum(),
        // `+ 0.0`: an empty float sum is -0.0, which would print as "-0".
        seconds: rows.iter().map(|r| r.seconds).sum::<f64>() + 0.0,
        spent: rows.iter().map(|r| r.spent).sum::<f64>() + 0.0,
    };
    if csv {
        println!("group,requests,succeeded,released,pending,seconds,spent");
        for r in rows {
            let group = if r.group.contains([',', '"', '\n']) {
                format!("\"{}\"", r.group.replace('"', "\"\""))
            } else {
                r.group.clone()
            };
            println!(
                "{group},{},{},{},{},{},{}",
                r.requests, r.succeeded, r.released, r.pending, r.seconds, r.spent
            );
        }
        return;
    }
    println!(
        "{:<40} {:>9} {:>9} {:>9} {:>8} {:>10} {:>12}",
        "GROUP", "REQUESTS", "SUCCEEDED", "RELEASED", "PENDING", "SECONDS", "SPENT"
    );
    for r in rows.iter().chain(std::iter::once(&total)) {
        println!(
            "{:<40} {:>9} {:>9} {:>9} {:>8} {:>10} {:>12}",
            r.group, r.requests, r.succeeded, r.released, r.pending, r.seconds, r.spent
        );
    }
}

pub async fn run(args: UsageArgs, config: Config, remote: RemoteArgs) -> ExitCode {
    let today = Utc::now().date_naive();
    let from = args.from.unwrap_or_else(|| today.with_day(1).unwrap_or(today));
    let to = args.to.unwrap_or(today);
    if to < from {
        return super::fail("--to is before --from");
    }
    let admin = match Admin::open(&remote, &config).await {
        Ok(a) => a,
        Err(e) => return super::fail(e),
    };
    let group_by = match args.group_by {
        Grouping::Day => GroupBy::Day,
        Grouping::Model => GroupBy::Model,
        Grouping::Key => GroupBy::Key,
    };
    match admin.usage(args.key.as_deref(), &from.to_string(), &to.to_string(), group_by).await {
        Ok(rows) => {
            print(&rows, args.csv);
            ExitCode::SUCCESS
        }
        Err(e) => super::fail(e),
    }
}
