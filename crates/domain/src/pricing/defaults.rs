//! The price rows vidgate ships: one set per model in the rule tables, so every accepted
//! request has a quote out of the box. They are EXAMPLES to show the shape of a price table,
//! not Tencent's prices; set yours under `[[accounting.prices]]`.
//!
//! Shape: per second of video by resolution tier (480–540p 0.05, 720–768p 0.10, 1080p 0.20,
//! 2K 0.30, 4K 0.40 credits), sound on at 1.5×; models whose rules document no durations are
//! priced per request (1 credit) instead, since there is no length to multiply.

use chrono::NaiveDate;

use super::{Credits, PriceRule};
use crate::models::{Durations, MODELS, Values};

/// The day the example prices start.
fn since() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default()
}

/// Micro-credits per second for a resolution name, by its tier.
fn per_second_micros(resolution: &str) -> i64 {
    let r = resolution.to_ascii_lowercase();
    if r.contains("4k") {
        400_000
    } else if r.contains("2k") {
        300_000
    } else if r.contains("1080") {
        200_000
    } else if r.contains("480") || r.contains("540") {
        50_000
    } else {
        100_000
    }
}

pub(super) fn rules() -> Vec<PriceRule> {
    let mut out = Vec::new();
    for table in MODELS {
        let row = |resolution: Option<&str>, audio: Option<bool>, per_second: i64, per_request| {
            PriceRule {
                model: table.name.into(),
                version: None,
                resolution: resolution.map(Into::into),
                audio,
                per_second: Credits::from_micros(per_second),
                per_request: Credits::from_micros(per_request),
                from: since(),
            }
        };
        let timed = table.versions.iter().all(|(_, r)| r.durations != Durations::Undocumented);
        if !timed {
            out.push(row(None, None, 0, 1_000_000));
            continue;
        }
        // Any resolution the tables do not name (strict rules off) costs the 720p rate.
        out.push(row(None, None, 100_000, 0));
        out.push(row(None, Some(true), 150_000, 0));
        let mut names: Vec<&str> = Vec::new();
        for (_, rules) in table.versions {
            if let Values::OneOf(rs) = rules.resolutions {
                for r in rs {
                    if !names.iter().any(|n| n.eq_ignore_ascii_case(r)) {
                        names.push(r);
                    }
                }
            }
        }
        for r in names {
            let base = per_second_micros(r);
            out.push(row(Some(r), None, base, 0));
            out.push(row(Some(r), Some(true), base * 3 / 2, 0));
        }
    }
    out
}
