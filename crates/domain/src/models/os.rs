//! OS (OpenAI Sora). Reference §3, SDK 3.1.194 (checked 2026-12-07): 4, 8 or 12 s, 720P only,
//! 16:9 or 9:16, one input image, no last frame.

use super::{Durations, LastFrame, ModelTable, Values, VersionRules};

const BASE: VersionRules = VersionRules {
    durations: Durations::OneOf(&[4.0, 8.0, 12.0]),
    default_duration: Some(8.0),
    resolutions: Values::OneOf(&["720P"]),
    default_resolution: Some("720P"),
    aspect_ratios: Values::OneOf(&["16:9", "9:16"]),
    default_aspect_ratio: Some("16:9"),
    last_frame: LastFrame::NotSupported,
    max_images: 1,
    audio: Some(true),
};

pub static TABLE: ModelTable = ModelTable {
    name: "OS",
    as_of: "2026-12-07",
    source: "tencentcloud-sdk-python-vod 3.1.194 models.py (CreateAigcVideoTaskRequest, AigcVideoOutputConfig)",
    scene_types: &[],
    family: BASE,
    versions: &[("2.0", BASE)],
};
