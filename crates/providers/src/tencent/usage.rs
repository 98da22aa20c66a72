//! `DescribeAigcUsageData` (SDK 3.1.194): the query for a range of upstream days and the
//! answer read into `UpstreamUsage` rows, summed over accounts.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde_json::{Value, json};

use crate::UpstreamUsage;

/// Video usage of `sub_app_id` for the days `from..=to`.
pub fn query(sub_app_id: u64, from: NaiveDate, to: NaiveDate) -> Value {
    json!({"StartTime": from.to_string(), "EndTime": to.to_string(), "AigcType": "Video",
           "SubAppId": sub_app_id, "PageSize": 200})
}

/// The rows of an answer; a row whose `Time` is not a day is an error, never skipped.
pub fn parse(v: &Value) -> Result<Vec<UpstreamUsage>, String> {
    let mut out = Vec::new();
    let items = v.get("AigcUsageDataSet").and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
    for item in items {
        let spec = item.get("Specification").and_then(Value::as_str).unwrap_or("unknown");
        let data = item.get("DataSet").and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
        for d in data {
            let time = d.get("Time").and_then(Value::as_str).unwrap_or_default();
            let day = time
                .get(..10)
                .and_then(|t| NaiveDate::parse_from_str(t, "%Y-%m-%d").ok())
                .ok_or_else(|| format!("Time {time:?} of {spec} is not a day"))?;
            out.push(UpstreamUsage {
                day,
                specification: spec.to_owned(),
                count: d.get("Count").and_then(Value::as_i64).unwrap_or(0),
                usage: d.get("Usage").and_then(Value::as_i64).unwrap_or(0),
            });
        }
    }
    Ok(out)
}

/// One row per day and product (several accounts' rows added up).
pub fn sum(rows: Vec<UpstreamUsage>) -> Vec<UpstreamUsage> {
    let mut by: BTreeMap<(NaiveDate, String), (i64, i64)> = BTreeMap::new();
    for r in rows {
        let e = by.entry((r.day, r.specification)).or_default();
        e.0 += r.count;
        e.1 += r.usage;
    }
    by.into_iter()
        .map(|((day, specification), (count, usage))| UpstreamUsage {
            day,
            specification,
            count,
            usage,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_reads_into_days_and_accounts_add_up() {
        let v = json!({"AigcUsageDataSet": [{"Specification": "Kling3.0_720P", "DataSet": [
            {"Time": "2026-12-01T00:00:00+08:00", "Count": 2, "Usage": 10}]}]});
        let rows = parse(&v).unwrap();
        assert_eq!(rows[0].day.to_string(), "2026-12-01");
        let twice = sum(rows.iter().cloned().chain(rows.iter().cloned()).collect());
        assert_eq!((twice.len(), twice[0].count, twice[0].usage), (1, 4, 20));
        let bad = json!({"AigcUsageDataSet": [{"Specification": "x", "DataSet": [{"Time": "yesterday"}]}]});
        assert!(parse(&bad).unwrap_err().contains("yesterday"));
    }
}
