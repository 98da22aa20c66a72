//! Kling (Kuaishou). SDK 3.1.194: durations 3–15 s (default 5), 720P/1080P, 16:9, 9:16 or
//! 1:1; last frame only on 2.1 at 1080P per the VOD doc; scene types `motion_control`,
//! `avatar_i2v`, `lip_sync`. 3.0-turbo and scene (added by 3.1.194) take the family's limits.

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

/// A version SDK 3.1.194 added: the family's documented limits; a last frame, which the SDK
/// documents for no Kling version in particular, is passed for the upstream to decide.
const ADDED: VersionRules = VersionRules { last_frame: LastFrame::Supported, ..BASE };

const V2_1: VersionRules =
    VersionRules { last_frame: LastFrame::OnlyAtResolution("1080P"), ..BASE };

pub static TABLE: ModelTable = ModelTable {
    name: "Kling",
    as_of: "2026-12-07",
    source: "tencentcloud-sdk-python-vod 3.1.194 models.py (CreateAigcVideoTaskRequest, AigcVideoOutputConfig)",
    scene_types: &["motion_control", "avatar_i2v", "lip_sync"],
    family: BASE,
    versions: &[
        ("1.6", BASE),
        ("2.0", BASE),
        ("2.1", V2_1),
        ("2.5", BASE),
        ("2.6", BASE),
        ("O1", BASE),
        ("3.0", BASE),
        ("3.0-Omni", BASE),
        ("3.0-turbo", ADDED),
        ("scene", ADDED),
    ],
};
