//! GV (Google Veo). Reference §3, SDK v1.3.166 (2026-08-21): 8 s only, 720P/1080P, 16:9 or
//! 9:16, up to 3 images; a last frame needs a first frame and excludes multi-image input.

use super::{Durations, LastFrame, ModelTable, Values, VersionRules};

const BASE: VersionRules = VersionRules {
    durations: Durations::OneOf(&[8.0]),
    default_duration: Some(8.0),
    resolutions: Values::OneOf(&["720P", "1080P"]),
    default_resolution: Some("720P"),
    aspect_ratios: Values::OneOf(&["16:9", "9:16"]),
    default_aspect_ratio: Some("16:9"),
    last_frame: LastFrame::Supported,
    max_images: 3,
    audio: Some(true),
};

pub static TABLE: ModelTable = ModelTable {
    name: "GV",
    as_of: "2026-08-21",
    source: "tencentcloud-sdk-go vod/v20180717 models.go @ 144f6c8d39 (v1.3.166)",
    versions: &[("3.1", BASE), ("3.1-fast", BASE)],
};
