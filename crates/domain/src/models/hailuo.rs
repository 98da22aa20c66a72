//! Hailuo (MiniMax). Reference §3, SDK 3.1.194 (checked 2026-12-07): 02/2.3/2.3-fast take 6 or 10 s
//! at 768P/1080P and no aspect ratio; H3 (added 2026-08-21) takes 4–15 s, up to 4K and six
//! aspect ratios (H3-Max, added by SDK 3.1.194, too). No audio, no last frame in the VOD API.

use super::{Durations, LastFrame, ModelTable, Values, VersionRules};

const CLASSIC: VersionRules = VersionRules {
    durations: Durations::OneOf(&[6.0, 10.0]),
    default_duration: Some(6.0),
    resolutions: Values::OneOf(&["768P", "1080P"]),
    default_resolution: Some("768P"),
    aspect_ratios: Values::NotSupported,
    default_aspect_ratio: None,
    last_frame: LastFrame::NotSupported,
    max_images: 1,
    audio: Some(false),
};

const H3: VersionRules = VersionRules {
    durations: Durations::Whole { min: 4, max: 15 },
    resolutions: Values::OneOf(&["768P", "1080P", "2K", "4K"]),
    aspect_ratios: Values::OneOf(&["21:9", "16:9", "4:3", "1:1", "3:4", "9:16"]),
    default_aspect_ratio: Some("16:9"),
    ..CLASSIC
};

/// Added by SDK 3.1.194: H3's documented limits (4–15 s, up to 4K); its first-and-last-frame
/// mode ("图生视频（即首尾帧视频）" in the AspectRatio doc) is passed for the upstream to decide.
const H3_MAX: VersionRules = VersionRules { last_frame: LastFrame::Supported, ..H3 };

pub static TABLE: ModelTable = ModelTable {
    name: "Hailuo",
    as_of: "2026-12-07",
    source: "tencentcloud-sdk-python-vod 3.1.194 models.py (CreateAigcVideoTaskRequest, AigcVideoOutputConfig)",
    scene_types: &[],
    family: CLASSIC,
    versions: &[
        ("02", CLASSIC),
        ("2.3", CLASSIC),
        ("2.3-fast", CLASSIC),
        ("H3", H3),
        ("H3_regen", H3),
        ("H3-Max", H3_MAX),
    ],
};
