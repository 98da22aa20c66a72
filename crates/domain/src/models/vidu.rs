//! Vidu (Shengshu). Reference §3, SDK 3.1.194 (checked 2026-12-07): 1–10 s at 720P/1080P; 4:3 and
//! 3:4 only on q2; last frame on q2-pro and q2-turbo per the VOD doc; scene type
//! `template_effect`. The versions SDK 3.1.194 added (q3-mix … lip-sync) take the family's
//! limits.

use super::{Durations, LastFrame, ModelTable, Values, VersionRules};

const BASE: VersionRules = VersionRules {
    durations: Durations::Whole { min: 1, max: 10 },
    default_duration: Some(5.0),
    resolutions: Values::OneOf(&["720P", "1080P"]),
    default_resolution: Some("720P"),
    aspect_ratios: Values::OneOf(&["16:9", "9:16", "1:1"]),
    default_aspect_ratio: Some("16:9"),
    last_frame: LastFrame::NotSupported,
    max_images: 3,
    audio: Some(true),
};

const Q2: VersionRules =
    VersionRules { aspect_ratios: Values::OneOf(&["16:9", "9:16", "4:3", "3:4", "1:1"]), ..BASE };
const Q2_LAST_FRAME: VersionRules = VersionRules { last_frame: LastFrame::Supported, ..BASE };
/// A version SDK 3.1.194 added: the family's documented limits; a last frame, which the SDK
/// documents for no Vidu version in particular, is passed for the upstream to decide.
const ADDED: VersionRules = VersionRules { last_frame: LastFrame::Supported, ..BASE };

pub static TABLE: ModelTable = ModelTable {
    name: "Vidu",
    as_of: "2026-12-07",
    source: "tencentcloud-sdk-python-vod 3.1.194 models.py (CreateAigcVideoTaskRequest, AigcVideoOutputConfig)",
    scene_types: &["template_effect"],
    family: BASE,
    versions: &[
        ("q2", Q2),
        ("q2-pro", Q2_LAST_FRAME),
        ("q2-turbo", Q2_LAST_FRAME),
        ("q3", BASE),
        ("q3-pro", BASE),
        ("q3-turbo", BASE),
        ("q3-mix", ADDED),
        ("q3-drama", ADDED),
        ("q3-ad", ADDED),
        ("scene", ADDED),
        ("avatar-q2-pro", ADDED),
        ("avatar-q2-turbo", ADDED),
        ("lip-sync", ADDED),
    ],
};
