//! GV (Google Veo). Reference §3, SDK 3.1.194 (checked 2026-12-07): 8 s only, 720P/1080P, 16:9 or
//! 9:16, up to 3 images; a last frame needs a first frame and excludes multi-image input.
//! 3.1-lite and omni (added by SDK 3.1.194) take the family's limits.

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
    as_of: "2026-12-07",
    source: "tencentcloud-sdk-python-vod 3.1.194 models.py (CreateAigcVideoTaskRequest, AigcVideoOutputConfig)",
    scene_types: &[],
    family: BASE,
    versions: &[("3.1", BASE), ("3.1-fast", BASE), ("3.1-lite", BASE), ("omni", BASE)],
};
