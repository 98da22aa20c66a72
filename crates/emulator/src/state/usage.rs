//! `DescribeAigcUsageData` as SDK 3.1.194 models it: per usage product (`Specification`), one
//! `TaskStatDataItem {Time, Count, Usage}` per day of the range, days counted in UTC+8 as the
//! upstream counts them. It is computed from the emulator's own jobs, never from vidgate's:
//! every job that finished with a video is billed on the day it finished, whatever became of
//! the request that asked for it (cancelled, timed out, deleted); a failed job is not billed.

use std::collections::BTreeMap;

use chrono::{DateTime, Days, NaiveDate};
use serde_json::{Value, json};

use super::{Emulator, Outcome};
use crate::auth::ApiError;

/// The upstream's day: UTC+8.
const UTC8_HOURS: i64 = 8;
/// The longest range one query may span.
const MAX_DAYS: u64 = 90;
/// `PageSize` above this is cut to it.
const MAX_PAGE: usize = 200;

/// The query's range and paging, checked as the upstream checks them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct UsageQuery {
    pub start: NaiveDate,
    pub end: NaiveDate,
    /// Only `Video` has rows here (the emulator makes only videos).
    pub video: bool,
    /// An API key filter: the emulator's jobs are made with signed calls, under no API key.
    pub api_keys: bool,
    pub offset: usize,
    pub page_size: usize,
}

fn day_of(field: &str, v: Option<&Value>) -> Result<NaiveDate, ApiError> {
    let Some(text) = v.and_then(Value::as_str) else {
        return Err(("MissingParameter", format!("{field} is required (an ISO date)")));
    };
    // `2026-12-01`, or a date-time whose date part is the day (`2026-12-01T00:00:00+08:00`).
    let date = text.get(..10).filter(|_| text.len() == 10 || text[10..].starts_with('T'));
    date.and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()).ok_or_else(|| {
        ("InvalidParameterValue", format!("{field} {text:?} is not an ISO date (2026-12-01)"))
    })
}

impl UsageQuery {
    pub(crate) fn parse(params: &Value) -> Result<UsageQuery, ApiError> {
        let start = day_of("StartTime", params.get("StartTime"))?;
        let end = day_of("EndTime", params.get("EndTime"))?;
        if end < start {
            return Err(("InvalidParameterValue", "EndTime must not be before StartTime".into()));
        }
        if (end - start).num_days() as u64 >= MAX_DAYS {
            return Err((
                "InvalidParameterValue",
                format!("a query spans at most {MAX_DAYS} days"),
            ));
        }
        let video = match params.get("AigcType").and_then(Value::as_str) {
            None | Some("Video") => true,
            Some(
                "Image" | "Text" | "Audio" | "SceneAigcVideo" | "SceneAigcImage" | "SceneAigcTime"
                | "TextDetail",
            ) => false,
            Some(other) => {
                return Err(("InvalidParameterValue", format!("AigcType {other:?} is not a type")));
            }
        };
        let page_size = match params.get("PageSize") {
            None | Some(Value::Null) => MAX_PAGE,
            Some(v) => match v.as_u64() {
                Some(n) if n > 0 => (n as usize).min(MAX_PAGE),
                _ => {
                    return Err((
                        "InvalidParameterValue",
                        "PageSize must be a positive integer".into(),
                    ));
                }
            },
        };
        let offset = match params.get("ScrollToken").and_then(Value::as_str) {
            None | Some("") => 0,
            Some(t) => t.parse().map_err(|_| {
                ("InvalidParameterValue", format!("ScrollToken {t:?} is not one this API gave"))
            })?,
        };
        let key = |k| params.get(k).is_some_and(|v| !v.is_null());
        Ok(UsageQuery {
            start,
            end,
            video,
            api_keys: key("APIKey") || key("APIKeys"),
            offset,
            page_size,
        })
    }
}

/// The upstream day (UTC+8) of a moment.
pub(crate) fn upstream_day(ms: i64) -> NaiveDate {
    let utc = DateTime::from_timestamp_millis(ms).unwrap_or_default().naive_utc();
    (utc + chrono::Duration::hours(UTC8_HOURS)).date()
}

impl Emulator {
    /// `AigcUsageDataSet` of `sub_app_id`'s jobs for `q`.
    pub(crate) fn usage_data(&self, sub_app_id: u64, q: &UsageQuery) -> Value {
        // Specification → day → (count, usage).
        let mut by_spec: BTreeMap<String, BTreeMap<NaiveDate, (i64, i64)>> = BTreeMap::new();
        if q.video && !q.api_keys {
            let inner = self.lock();
            for t in inner.tasks.values().filter(|t| t.sub_app_id == sub_app_id) {
                let (Some(Outcome::Success(f)), Some(done)) = (&t.outcome, t.finish_ms) else {
                    continue;
                };
                let day = upstream_day(done);
                if day < q.start || day > q.end {
                    continue;
                }
                let spec = self.config.catalog.specification(&t.request).to_string();
                let slot = by_spec.entry(spec).or_default().entry(day).or_default();
                slot.0 += 1;
                slot.1 += self.billed_seconds(f);
            }
        }
        let items: Vec<Value> = by_spec
            .into_iter()
            .skip(q.offset)
            .take(q.page_size)
            .map(|(spec, days)| {
                let mut data = Vec::new();
                let mut day = q.start;
                while day <= q.end {
                    let (count, usage) = days.get(&day).copied().unwrap_or_default();
                    data.push(json!({"Time": format!("{day}T00:00:00+08:00"), "Count": count, "Usage": usage}));
                    let Some(next) = day.checked_add_days(Days::new(1)) else { break };
                    day = next;
                }
                json!({"Specification": spec, "DataSet": data})
            })
            .collect();
        json!({"AigcUsageDataSet": items})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_the_upstreams_and_bad_queries_are_named() {
        // 2026-12-01T16:30:00Z is 2026-12-02 00:30 in UTC+8.
        assert_eq!(upstream_day(1_796_142_600_000).to_string(), "2026-12-02");
        let q = |v: Value| UsageQuery::parse(&v).map_err(|e| e.0);
        let ok = q(json!({"StartTime": "2026-12-01", "EndTime": "2026-12-02T00:00:00+08:00", "AigcType": "Video", "PageSize": 500})).unwrap();
        assert_eq!(
            (ok.start.to_string(), ok.end.to_string(), ok.page_size),
            ("2026-12-01".into(), "2026-12-02".into(), 200)
        );
        assert_eq!(q(json!({"EndTime": "2026-12-01"})), Err("MissingParameter"));
        assert_eq!(
            q(json!({"StartTime": "12/01/2026", "EndTime": "2026-12-01"})),
            Err("InvalidParameterValue")
        );
        assert_eq!(
            q(json!({"StartTime": "2026-12-02", "EndTime": "2026-12-01"})),
            Err("InvalidParameterValue")
        );
        assert_eq!(
            q(json!({"StartTime": "2026-01-01", "EndTime": "2026-12-01"})),
            Err("InvalidParameterValue")
        );
        assert_eq!(
            q(json!({"StartTime": "2026-12-01", "EndTime": "2026-12-01", "AigcType": "Hologram"})),
            Err("InvalidParameterValue")
        );
        assert_eq!(
            q(json!({"StartTime": "2026-12-01", "EndTime": "2026-12-01", "ScrollToken": "x"})),
            Err("InvalidParameterValue")
        );
    }
}
