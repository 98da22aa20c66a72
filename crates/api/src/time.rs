//! Timestamps on the wire: RFC 3339 in UTC with milliseconds.

use vidgate_domain::Millis;
pub use vidgate_domain::rfc3339;

pub fn secs_between(from: Millis, to: Millis) -> f64 {
    (to - from).max(0) as f64 / 1000.0
}
