//! Hunyuan (Tencent). Reference §3, SDK v1.3.166 (2026-08-21): only the version is
//! documented; durations, resolutions and aspect ratios are passed through unchecked.

use super::{Durations, LastFrame, ModelTable, Values, VersionRules};

const BASE: VersionRules = VersionRules {
    durations: Durations::Undocumented,
    default_duration: None,
    resolutions: Values::Undocumented,
    default_resolution: None,
    aspect_ratios: Values::Undocumented,
    default_aspect_ratio: None,
    last_frame: LastFrame::NotSupported,
    max_images: 1,
    audio: None,
};

pub static TABLE: ModelTable = ModelTable {
    name: "Hunyuan",
    as_of: "2026-08-21",
    source: "tencentcloud-sdk-go vod/v20180717 models.go @ 144f6c8d39 (v1.3.166)",
    versions: &[("1.5", BASE)],
};
