//! The emulator's settings: accounts, timings, faults.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmulatorAccount {
    pub secret_id: String,
    pub secret_key: String,
    pub sub_app_id: u64,
    /// Tasks processing at once; more wait (Tencent's default quota is 1).
    #[serde(default = "one")]
    pub concurrency: usize,
}

fn one() -> usize {
    1
}

/// Shares (0..1) of calls or tasks that go wrong on purpose.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Calls answered `InternalError`.
    pub internal_error: f64,
    /// Calls answered `RequestLimitExceeded`.
    pub rate_limited: f64,
    /// Calls answered HTTP 503 with an HTML body.
    pub http_5xx: f64,
    /// Calls answered only after `slow_delay`.
    pub slow: f64,
    #[serde(with = "humantime_serde_opt")]
    pub slow_delay: Option<Duration>,
    /// Calls whose connection is dropped. A dropped `CreateAigcVideoTask` was accepted first:
    /// the caller cannot know the job exists (the case `SessionId` dedup exists for).
    pub drop: f64,
    /// Tasks that finish with `ErrCode` ≠ 0 (`ModelGenerateFailed`).
    pub task_failure: f64,
    /// The first this many `CreateAigcVideoTask` calls are answered `InternalError`, with no
    /// job made, whatever the dice say (a refused attempt, on demand).
    pub refuse_first_creates: u64,
    /// The next this many `CreateAigcVideoTask` calls make their job and then drop the
    /// connection, whatever the dice say (a lost answer, on demand).
    pub drop_first_creates: u64,
    /// Seed of the fault dice, for repeatable runs.
    pub seed: u64,
}

/// Durations as "500ms"/"2s" strings, optional.
mod humantime_serde_opt {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let s: Option<String> = Option::deserialize(d)?;
        s.map(|s| super::parse_duration(&s).map_err(serde::de::Error::custom)).transpose()
    }
}

/// Parses "250ms", "2s", "1m", "1h".
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) =
        s.split_at(s.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(s.len()));
    let n: f64 = num.parse().map_err(|_| format!("{s:?} is not a duration like 500ms or 2s"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" | "" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("{s:?} is not a duration like 500ms or 2s")),
    };
    Ok(Duration::from_secs_f64(secs))
}

#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    pub accounts: Vec<EmulatorAccount>,
    /// Shortest time a task waits upstream before it may start processing.
    pub queue_time: Duration,
    /// How long a task processes (progress rises over it).
    pub processing_time: Duration,
    /// `CreateAigcVideoTask` calls per second per account; more are `RequestLimitExceeded`.
    pub create_rate: u32,
    /// How long `PullEvents` waits for an event before answering with none.
    pub pull_wait: Duration,
    /// An event not confirmed this long after delivery is delivered again.
    pub redelivery: Duration,
    /// Signatures older or newer than this are `AuthFailure.SignatureExpire`.
    pub max_skew: Duration,
    /// Base URL of this emulator, for `FileUrl`s.
    pub public_url: String,
    /// Where rendered videos are kept.
    pub media_dir: PathBuf,
    pub fps: u32,
    /// Push mode: POST each completion event here.
    pub push_url: Option<String>,
    /// Push mode: sign callbacks with `Sign = md5(key + T)`.
    pub push_sign_key: Option<String>,
    /// Prompts containing these words fail moderation.
    pub moderation_blocklist: Vec<String>,
    pub faults: Faults,
    /// Bytes of padding appended to every output file, so tests can have the upstream hand
    /// out large files (a gateway mirroring them must stream, not buffer).
    pub output_padding: u64,
    /// Serve `/files/` at most this many bytes per second (0: as fast as possible), so a copy
    /// takes long enough to be interrupted.
    pub file_rate: u64,
    /// Seconds added to every finished video's `Usage.OutputSeconds`: an upstream that bills
    /// more than the video it was asked for, so tests can prove a charge stays within its hold.
    pub extra_billed_seconds: u64,
    /// The model catalog creates are validated and rendered by: vidgate's built-in one, with
    /// the operator's catalog file laid over it when one is named (the same file vidgate's
    /// `rules.catalog` names), so the two accept the same versions.
    pub catalog: std::sync::Arc<vidgate_domain::models::Catalog>,
}

impl EmulatorConfig {
    pub fn new(accounts: Vec<EmulatorAccount>, media_dir: PathBuf, public_url: String) -> Self {
        EmulatorConfig {
            accounts,
            queue_time: Duration::from_secs(1),
            processing_time: Duration::from_secs(5),
            create_rate: 20,
            pull_wait: Duration::from_secs(5),
            redelivery: Duration::from_secs(30),
            max_skew: Duration::from_secs(300),
            public_url,
            media_dir,
            fps: 12,
            push_url: None,
            push_sign_key: None,
            moderation_blocklist: vec!["emulator-moderation-test".into()],
            faults: Faults::default(),
            output_padding: 0,
            file_rate: 0,
            extra_billed_seconds: 0,
            catalog: std::sync::Arc::new(vidgate_domain::models::Catalog::built_in().clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_in_the_usual_units() {
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("2s").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert!(parse_duration("soon").is_err());
    }
}
