//! Timestamps on the wire: RFC 3339 in UTC with milliseconds.

use chrono::{DateTime, SecondsFormat};
use vidgate_domain::Millis;

pub fn rfc3339(ms: Millis) -> String {
    DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
        .unwrap_or_default()
}

pub fn secs_between(from: Millis, to: Millis) -> f64 {
    (to - from).max(0) as f64 / 1000.0
}
