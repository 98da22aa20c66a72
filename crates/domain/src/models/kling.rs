//! Kling (Kuaishou). Reference §3, SDK v1.3.166 (2026-08-21): durations 3–15 s since
//! 2026-06-11 (before: 5 or 10); last frame only on 2.1 at 1080P per the VOD doc.

use super::{Durations, LastFrame, ModelTable, Values, VersionRules};

const BASE: VersionRules = VersionRules {
    durations: Durations::Whole { min: 3, max: 15 },
    default_duration: Some(5.0),
    resolutions: Values::OneOf(&["720P", "1080P"]),
    default_resolution: Some("720P"),
    aspect_ratios: Values::OneOf(&["16:9", "9:16", "1:1"]),
    default_aspect_ratio: Some("16:9"),
    last_frame: LastFrame::NotSupported,
    max_images: 3,
    audio: Some(true),
};

const V2_1: VersionRules =
    VersionRules { last_frame: LastFrame::OnlyAtResolution("1080P"), ..BASE };

pub static TABLE: ModelTable = ModelTable {
    name: "Kling",
    as_of: "2026-08-21",
    source: "tencentcloud-sdk-go vod/v20180717 models.go @ 144f6c8d39 (v1.3.166)",
    versions: &[
        ("1.6", BASE),
        ("2.0", BASE),
        ("2.1", V2_1),
        ("2.5", BASE),
        ("2.6", BASE),
        ("O1", BASE),
        ("3.0", BASE),
        ("3.0-Omni", BASE),
    ],
};
