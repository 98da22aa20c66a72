//! Three-way reconciliation of an upstream day (UTC+8, as the upstream counts days): (a)
//! vidgate's ledger, what customers were charged for, in jobs and seconds; (b) what the
//! upstream reported on the tasks vidgate followed (`Output.Usage`); (c) what the upstream's
//! usage API (`DescribeAigcUsageData`) says it billed. Per account (key) and usage product
//! (`Specification`, as each request was priced), with the request ids behind any difference
//! it can attribute. The upstream knows no accounts, so (c) is compared with the sum of every
//! account's (b) per day and product.
//!
//! A request belongs to the day vidgate saw it end; the upstream counts the day its job
//! finished. They differ only for a job that ends within a poll of midnight (UTC+8).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{NaiveDate, NaiveTime};
use serde::Serialize;
use utoipa::ToSchema;
use vidgate_domain::KeyId;
use vidgate_providers::Provider;
use vidgate_store::{BookRow, Store};

/// The upstream's days are UTC+8.
pub const UPSTREAM_UTC_OFFSET_HOURS: i64 = 8;

/// Jobs and seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, ToSchema)]
pub struct Figure {
    pub jobs: i64,
    pub seconds: f64,
}

impl Figure {
    fn add(&mut self, seconds: f64) {
        self.jobs += 1;
        self.seconds += seconds;
    }

    fn differs(&self, other: &Figure, tolerance: f64) -> bool {
        self.jobs != other.jobs || (self.seconds - other.seconds).abs() > tolerance
    }
}

/// One line of the table.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Line {
    #[schema(value_type = String)]
    pub day: NaiveDate,
    /// A key's name, or `all` for the upstream's side (it knows no accounts).
    pub account: String,
    pub specification: String,
    /// (a) What vidgate's ledger charged for.
    pub ledger: Figure,
    /// (b) What the upstream reported on the tasks vidgate followed.
    pub tasks: Figure,
    /// (c) What the upstream's usage API says it billed (`all` lines only; `None`: this
    /// upstream has no usage API).
    pub upstream: Option<Figure>,
    /// Seconds: the largest gap between the sides this line compares.
    pub difference: f64,
    pub agrees: bool,
}

/// A difference and the requests behind it, where they are known.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Finding {
    /// `missing_settlement`, `charged_other_than_reported`, `settled_without_report`,
    /// `unrecorded_upstream_jobs`, `unexplained_upstream_usage`, `missing_upstream_usage`.
    pub cause: String,
    #[schema(value_type = String)]
    pub day: NaiveDate,
    pub specification: String,
    pub request_ids: Vec<String>,
    pub detail: String,
}

/// The reconciliation of `from..=to`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Report {
    #[schema(value_type = String)]
    pub from: NaiveDate,
    #[schema(value_type = String)]
    pub to: NaiveDate,
    /// The days are the upstream's: `UTC+8`.
    pub timezone: String,
    /// Seconds two sides may differ by and still agree.
    pub tolerance_seconds: f64,
    pub lines: Vec<Line>,
    pub findings: Vec<Finding>,
    pub agrees: bool,
}

/// Why a reconciliation could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("the store: {0}")]
    Store(#[from] vidgate_store::StoreError),
    #[error("the upstream's usage API: {0}")]
    Upstream(String),
    #[error("{0}")]
    Range(String),
}

/// The UTC milliseconds an upstream day starts at.
pub fn day_start_ms(day: NaiveDate) -> i64 {
    let utc = day.and_time(NaiveTime::MIN).and_utc().timestamp_millis();
    utc - UPSTREAM_UTC_OFFSET_HOURS * 3_600_000
}

/// The upstream day of a moment.
pub fn upstream_day(ms: i64) -> NaiveDate {
    let shifted = ms + UPSTREAM_UTC_OFFSET_HOURS * 3_600_000;
    chrono::DateTime::from_timestamp_millis(shifted).unwrap_or_default().date_naive()
}

type Cell = (NaiveDate, String, String);

/// Reconciles `from..=to` (at most 90 days, the upstream's limit per query).
pub async fn reconcile(
    store: &dyn Store,
    provider: Option<&dyn Provider>,
    from: NaiveDate,
    to: NaiveDate,
    tolerance_seconds: f64,
) -> Result<Report, ReconcileError> {
    if to < from || (to - from).num_days() >= 90 {
        return Err(ReconcileError::Range(format!(
            "{from}..{to}: give a range of 1 to 90 days, the first not after the last"
        )));
    }
    let end = to.succ_opt().unwrap_or(to);
    let books = store.books(day_start_ms(from), day_start_ms(end)).await?;
    let names: HashMap<KeyId, String> =
        store.list_keys().await?.into_iter().map(|k| (k.id, k.name)).collect();
    let upstream = match provider {
        Some(p) => {
            p.usage_data(from, to).await.map_err(|e| ReconcileError::Upstream(e.to_string()))?
        }
        None => None,
    };
    Ok(compare(&books, &names, upstream.as_deref(), from, to, tolerance_seconds))
}

/// The comparison itself, pure.
pub fn compare(
    books: &[BookRow],
    names: &HashMap<KeyId, String>,
    upstream: Option<&[vidgate_providers::UpstreamUsage]>,
    from: NaiveDate,
    to: NaiveDate,
    tolerance: f64,
) -> Report {
    let mut per_key: BTreeMap<Cell, (Figure, Figure)> = BTreeMap::new();
    let mut findings: Vec<Finding> = Vec::new();
    let mut missing: BTreeMap<(NaiveDate, String), Vec<String>> = BTreeMap::new();
    let mut mischarged: BTreeMap<(NaiveDate, String), Vec<String>> = BTreeMap::new();
    let mut unreported: BTreeMap<(NaiveDate, String), Vec<String>> = BTreeMap::new();
    for b in books {
        let day = upstream_day(b.finished_at);
        let spec = b.specification.clone().unwrap_or_else(|| "unpriced".to_owned());
        let account = names.get(&b.key_id).cloned().unwrap_or_else(|| b.key_id.to_string());
        let cell = per_key.entry((day, account, spec.clone())).or_default();
        let reported = b.reported.as_ref().map(|u| u.output_seconds.unwrap_or(0.0));
        match (b.settled, reported) {
            (Some(settled), Some(r)) => {
                // Settled at its hold (no seconds on the row): charged for what was reported.
                let charged = settled.unwrap_or(r);
                cell.0.add(charged);
                cell.1.add(r);
                if (charged - r).abs() > tolerance {
                    mischarged.entry((day, spec)).or_default().push(b.request_id.clone());
                }
            }
            (Some(settled), None) => {
                cell.0.add(settled.unwrap_or(0.0));
                unreported.entry((day, spec)).or_default().push(b.request_id.clone());
            }
            (None, Some(r)) => {
                cell.1.add(r);
                missing.entry((day, spec)).or_default().push(b.request_id.clone());
            }
            (None, None) => {}
        }
    }
    for ((day, specification), request_ids) in missing {
        let detail = format!(
            "{} request(s) the upstream reported usage for have no settlement in the ledger",
            request_ids.len()
        );
        findings.push(Finding {
            cause: "missing_settlement".into(),
            day,
            specification,
            request_ids,
            detail,
        });
    }
    for ((day, specification), request_ids) in mischarged {
        let detail = "the seconds settled differ from the seconds the upstream reported".to_owned();
        findings.push(Finding {
            cause: "charged_other_than_reported".into(),
            day,
            specification,
            request_ids,
            detail,
        });
    }
    for ((day, specification), request_ids) in unreported {
        let detail = "settled although the upstream reported no usage on the task".to_owned();
        findings.push(Finding {
            cause: "settled_without_report".into(),
            day,
            specification,
            request_ids,
            detail,
        });
    }
    let mut lines: Vec<Line> = Vec::new();
    let mut totals: BTreeMap<(NaiveDate, String), (Figure, Figure, Vec<String>)> = BTreeMap::new();
    for ((day, account, spec), (ledger, tasks)) in &per_key {
        let difference = (ledger.seconds - tasks.seconds).abs();
        let agrees = !ledger.differs(tasks, tolerance);
        lines.push(Line {
            day: *day,
            account: account.clone(),
            specification: spec.clone(),
            ledger: *ledger,
            tasks: *tasks,
            upstream: None,
            difference,
            agrees,
        });
        let t = totals.entry((*day, spec.clone())).or_default();
        t.0.jobs += ledger.jobs;
        t.0.seconds += ledger.seconds;
        t.1.jobs += tasks.jobs;
        t.1.seconds += tasks.seconds;
    }
    if let Some(rows) = upstream {
        let mut seen: BTreeSet<(NaiveDate, String)> = BTreeSet::new();
        for u in rows.iter().filter(|u| u.count > 0 || u.usage > 0) {
            let key = (u.day, u.specification.clone());
            seen.insert(key.clone());
            let up = Figure { jobs: u.count, seconds: u.usage as f64 };
            let (ledger, tasks) = totals.get(&key).map(|t| (t.0, t.1)).unwrap_or_default();
            let difference =
                (up.seconds - tasks.seconds).abs().max((ledger.seconds - tasks.seconds).abs());
            let agrees = !up.differs(&tasks, tolerance) && !ledger.differs(&tasks, tolerance);
            if tasks.jobs == 0 {
                findings.push(Finding {
                    cause: "unexplained_upstream_usage".into(), day: u.day, specification: u.specification.clone(), request_ids: Vec::new(),
                    detail: format!("the upstream billed {} job(s), {} s under a product vidgate recorded no request of", up.jobs, u.usage),
                });
            } else if up.jobs > tasks.jobs || up.seconds > tasks.seconds + tolerance {
                findings.push(Finding {
                    cause: "unrecorded_upstream_jobs".into(),
                    day: u.day,
                    specification: u.specification.clone(),
                    request_ids: Vec::new(),
                    detail: format!(
                        "the upstream billed {} job(s), {} s; vidgate recorded {} job(s), {} s",
                        up.jobs, up.seconds, tasks.jobs, tasks.seconds
                    ),
                });
            }
            lines.push(Line {
                day: u.day,
                account: "all".into(),
                specification: u.specification.clone(),
                ledger,
                tasks,
                upstream: Some(up),
                difference,
                agrees,
            });
        }
        for ((day, spec), (ledger, tasks, _)) in &totals {
            if seen.contains(&(*day, spec.clone())) || tasks.jobs == 0 {
                continue;
            }
            let up = Figure::default();
            findings.push(Finding {
                cause: "missing_upstream_usage".into(),
                day: *day,
                specification: spec.clone(),
                request_ids: Vec::new(),
                detail: format!(
                    "vidgate recorded {} job(s), {} s the upstream's usage data does not show",
                    tasks.jobs, tasks.seconds
                ),
            });
            lines.push(Line {
                day: *day,
                account: "all".into(),
                specification: spec.clone(),
                ledger: *ledger,
                tasks: *tasks,
                upstream: Some(up),
                difference: tasks.seconds,
                agrees: false,
            });
        }
    }
    lines.sort_by(|a, b| {
        (a.day, &a.specification, &a.account).cmp(&(b.day, &b.specification, &b.account))
    });
    let agrees = findings.is_empty() && lines.iter().all(|l| l.agrees);
    Report {
        from,
        to,
        timezone: format!("UTC+{UPSTREAM_UTC_OFFSET_HOURS}"),
        tolerance_seconds: tolerance,
        lines,
        findings,
        agrees,
    }
}

/// Puts a report's outcome in the metrics: whether the books agreed, the findings by cause,
/// the largest difference and when it ran.
pub fn record(report: &Report, now_ms: i64) {
    metrics::gauge!("vidgate_reconcile_agrees").set(if report.agrees { 1.0 } else { 0.0 });
    let mut by_cause: BTreeMap<&str, f64> = BTreeMap::new();
    for cause in [
        "missing_settlement",
        "charged_other_than_reported",
        "settled_without_report",
        "unrecorded_upstream_jobs",
        "unexplained_upstream_usage",
        "missing_upstream_usage",
    ] {
        by_cause.insert(cause, 0.0);
    }
    for f in &report.findings {
        *by_cause.entry(f.cause.as_str()).or_default() += 1.0;
    }
    for (cause, n) in by_cause {
        metrics::gauge!("vidgate_reconcile_findings", "cause" => cause.to_owned()).set(n);
    }
    let worst = report.lines.iter().map(|l| l.difference).fold(0.0, f64::max);
    metrics::gauge!("vidgate_reconcile_difference_seconds").set(worst);
    metrics::gauge!("vidgate_reconcile_last_run_timestamp_seconds").set(now_ms as f64 / 1000.0);
}

/// Reconciles the previous upstream day as of `now_ms` and records it; what the daily worker
/// runs (and tests call by hand).
pub async fn previous_day(
    store: &dyn Store,
    provider: &dyn Provider,
    now_ms: i64,
    tolerance: f64,
) -> Result<Report, ReconcileError> {
    let day = upstream_day(now_ms).pred_opt().unwrap_or_default();
    let report = reconcile(store, Some(provider), day, day, tolerance).await?;
    record(&report, now_ms);
    if report.agrees {
        tracing::info!(%day, "reconciliation: the books agree with the upstream's");
    } else {
        tracing::warn!(%day, findings = report.findings.len(), "reconciliation: the books do not agree with the upstream's; GET /admin/reconcile?date={day} says where");
    }
    Ok(report)
}

/// Milliseconds from `now_ms` to the next 01:00 of an upstream day (an hour after the day
/// ends, so the upstream's figures for it are complete).
pub fn until_next_run(now_ms: i64) -> i64 {
    let day_ms = 86_400_000;
    let offset = UPSTREAM_UTC_OFFSET_HOURS * 3_600_000;
    let into_day = (now_ms + offset).rem_euclid(day_ms);
    let one_am = 3_600_000;
    if into_day < one_am { one_am - into_day } else { day_ms - into_day + one_am }
}

/// Runs `previous_day` at start and then daily at 01:00 UTC+8, until `stop`.
pub async fn daily(
    store: std::sync::Arc<dyn Store>,
    provider: std::sync::Arc<dyn Provider>,
    clock: std::sync::Arc<dyn vidgate_domain::Clock>,
    tolerance: f64,
    stop: tokio_util::sync::CancellationToken,
) {
    loop {
        let now = clock.now_ms();
        if let Err(e) = previous_day(store.as_ref(), provider.as_ref(), now, tolerance).await {
            tracing::warn!(error = %e, "reconciliation could not run; it is tried again tomorrow");
        }
        let wait = std::time::Duration::from_millis(until_next_run(clock.now_ms()) as u64);
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_and_runs_are_the_upstreams() {
        // 2026-12-01T16:30:00Z is 00:30 on 2026-12-02 in UTC+8.
        let t = 1_796_142_600_000;
        assert_eq!(upstream_day(t).to_string(), "2026-12-02");
        assert_eq!(upstream_day(day_start_ms(upstream_day(t))), upstream_day(t));
        assert_eq!(until_next_run(t), 30 * 60_000, "half an hour to 01:00");
        assert_eq!(until_next_run(t + 30 * 60_000), 86_400_000, "at 01:00: the next day's");
    }

    fn book(id: &str, settled: Option<Option<f64>>, reported: Option<f64>) -> BookRow {
        BookRow {
            request_id: id.into(),
            key_id: KeyId::from("k1"),
            finished_at: 1_796_142_600_000,
            specification: Some("Kling3.0_720P".into()),
            reported: reported
                .map(|s| vidgate_domain::Usage { output_seconds: Some(s), ..Default::default() }),
            settled,
        }
    }

    /// The causes the emulator cannot provoke: a settlement for other seconds than the
    /// upstream reported, one with no report, and requests the upstream's data does not show.
    #[test]
    fn each_difference_is_named_with_its_requests() {
        let day = upstream_day(1_796_142_600_000);
        let names = HashMap::from([(KeyId::from("k1"), "team".to_owned())]);
        let books = [
            book("ok", Some(Some(5.0)), Some(5.0)),
            book("other", Some(Some(5.0)), Some(3.0)),
            book("unreported", Some(Some(4.0)), None),
        ];
        let r = compare(&books, &names, Some(&[]), day, day, 0.0);
        assert!(!r.agrees);
        let named = |cause: &str| {
            r.findings.iter().find(|f| f.cause == cause).map(|f| f.request_ids.clone())
        };
        assert_eq!(named("charged_other_than_reported"), Some(vec!["other".to_owned()]));
        assert_eq!(named("settled_without_report"), Some(vec!["unreported".to_owned()]));
        assert_eq!(named("missing_upstream_usage"), Some(vec![]));
        let team = r.lines.iter().find(|l| l.account == "team").expect("a line per account");
        assert_eq!((team.ledger.jobs, team.tasks.jobs), (3, 2));
        // Within the tolerance, the seconds agree.
        let close = [book("a", Some(Some(5.0)), Some(4.5))];
        let r = compare(&close, &names, None, day, day, 1.0);
        assert!(r.agrees, "{r:?}");
    }
}
