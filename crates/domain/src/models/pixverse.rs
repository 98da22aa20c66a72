//! PixVerse (added 2026-04-14). Reference §3, SDK 3.1.194 (checked 2026-12-07): 1–15 s; the upstream
//! spells resolutions in lower case (`540p` … `4k`); eight aspect ratios. The seed's VOD doc
//! lists last-frame support only for GV, Kling and Vidu, so none here.

use super::{Durations, LastFrame, ModelTable, Values, VersionRules};

const BASE: VersionRules = VersionRules {
    durations: Durations::Whole { min: 1, max: 15 },
    default_duration: Some(5.0),
    resolutions: Values::OneOf(&["540p", "720p", "1080p", "2k", "4k"]),
    default_resolution: Some("720p"),
    aspect_ratios: Values::OneOf(&["16:9", "4:3", "1:1", "3:4", "9:16", "2:3", "3:2", "21:9"]),
    default_aspect_ratio: Some("16:9"),
    last_frame: LastFrame::NotSupported,
    max_images: 3,
    audio: None,
};

pub static TABLE: ModelTable = ModelTable {
    name: "PixVerse",
    as_of: "2026-12-07",
    source: "tencentcloud-sdk-python-vod 3.1.194 models.py (CreateAigcVideoTaskRequest, AigcVideoOutputConfig)",
    scene_types: &[],
    family: BASE,
    versions: &[("v5.6", BASE), ("v6", BASE), ("c1", BASE)],
};
