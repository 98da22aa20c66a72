//! Mingmou (Tencent). Reference §3, SDK 3.1.194 (checked 2026-12-07): only the version is
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
    name: "Mingmou",
    as_of: "2026-12-07",
    source: "tencentcloud-sdk-python-vod 3.1.194 models.py (CreateAigcVideoTaskRequest, AigcVideoOutputConfig)",
    scene_types: &[],
    versions: &[("1.0", BASE)],
};
