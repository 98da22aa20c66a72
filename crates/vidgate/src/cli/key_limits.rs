//! `vidgate keys limits NAME` and the limit flags of `keys create`: a key's own limits,
//! overriding `[limits]`. Each flag takes a number, or `default` to go back to the configured
//! value; 0 turns that limit off for the key.

use std::str::FromStr;

use clap::Args;
use vidgate_store::KeyLimits;

/// A flag's value: a number for this key, or back to the configured default.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Setting<T> {
    Default,
    Value(T),
}

fn setting<T: FromStr + PartialOrd + Default>(raw: &str) -> Result<Setting<T>, String> {
    if raw.eq_ignore_ascii_case("default") {
        return Ok(Setting::Default);
    }
    match raw.parse::<T>() {
        Ok(v) if v >= T::default() => Ok(Setting::Value(v)),
        _ => Err(format!("expected a number ≥ 0 or \"default\", got {raw:?}")),
    }
}

#[derive(Debug, Clone, Default, Args)]
pub struct LimitArgs {
    /// Create calls per second (token bucket refill) [number | default; 0: no limit].
    #[arg(long, value_name = "N", allow_hyphen_values = true, value_parser = setting::<f64>)]
    pub create_rate: Option<Setting<f64>>,
    /// Create calls allowed in a burst (the bucket's size) [number | default].
    #[arg(long, value_name = "N", allow_hyphen_values = true, value_parser = setting::<i64>)]
    pub create_burst: Option<Setting<i64>>,
    /// Requests the key may have waiting in the queue [number | default; 0: no limit].
    #[arg(long, value_name = "N", allow_hyphen_values = true, value_parser = setting::<i64>)]
    pub max_queued: Option<Setting<i64>>,
    /// Largest create body in bytes (server.max_body_bytes still caps it) [number | default].
    #[arg(long, value_name = "BYTES", allow_hyphen_values = true, value_parser = setting::<i64>)]
    pub max_body_bytes: Option<Setting<i64>>,
    /// Upstream slots the key's requests may hold at once [number | default; 0: no limit].
    #[arg(long, value_name = "N", allow_hyphen_values = true, value_parser = setting::<i64>)]
    pub max_running: Option<Setting<i64>>,
    /// Seconds the key's kept media lives [number | default; 0: until deleted].
    #[arg(long, value_name = "SECS", allow_hyphen_values = true, value_parser = setting::<i64>)]
    pub media_retention: Option<Setting<i64>>,
}

impl LimitArgs {
    pub fn is_empty(&self) -> bool {
        self.create_rate.is_none()
            && self.create_burst.is_none()
            && self.max_queued.is_none()
            && self.max_body_bytes.is_none()
            && self.max_running.is_none()
            && self.media_retention.is_none()
    }

    /// `current` with these flags applied.
    pub fn apply(&self, current: KeyLimits) -> KeyLimits {
        fn set<T: Copy>(flag: Option<Setting<T>>, now: Option<T>) -> Option<T> {
            match flag {
                None => now,
                Some(Setting::Default) => None,
                Some(Setting::Value(v)) => Some(v),
            }
        }
        KeyLimits {
            create_rate: set(self.create_rate, current.create_rate),
            create_burst: set(self.create_burst, current.create_burst),
            max_queued: set(self.max_queued, current.max_queued),
            max_body_bytes: set(self.max_body_bytes, current.max_body_bytes),
            max_running: set(self.max_running, current.max_running),
            media_retention_secs: set(self.media_retention, current.media_retention_secs),
        }
    }
}

/// One line for listings: the key's own limits, or `defaults`.
pub fn describe(l: &KeyLimits) -> String {
    let mut parts = Vec::new();
    if let Some(r) = l.create_rate {
        parts.push(format!("create_rate={r}"));
    }
    if let Some(b) = l.create_burst {
        parts.push(format!("create_burst={b}"));
    }
    if let Some(q) = l.max_queued {
        parts.push(format!("max_queued={q}"));
    }
    if let Some(r) = l.max_running {
        parts.push(format!("max_running={r}"));
    }
    if let Some(b) = l.max_body_bytes {
        parts.push(format!("max_body_bytes={b}"));
    }
    if let Some(s) = l.media_retention_secs {
        parts.push(format!("media_retention={s}s"));
    }
    if parts.is_empty() { "defaults".into() } else { parts.join(" ") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_set_reset_or_keep_each_limit() {
        let current =
            KeyLimits { create_rate: Some(1.0), max_queued: Some(5), ..KeyLimits::default() };
        let args = LimitArgs {
            create_rate: Some(Setting::Default),
            create_burst: Some(Setting::Value(9)),
            ..LimitArgs::default()
        };
        let next = args.apply(current);
        assert_eq!(
            next,
            KeyLimits { create_burst: Some(9), max_queued: Some(5), ..KeyLimits::default() }
        );
        assert_eq!(describe(&next), "create_burst=9 max_queued=5");
        assert_eq!(describe(&KeyLimits::default()), "defaults");
        assert!(setting::<i64>("-1").is_err());
        assert!(setting::<f64>("fast").is_err());
        assert_eq!(setting::<f64>("DEFAULT"), Ok(Setting::Default));
    }
}
