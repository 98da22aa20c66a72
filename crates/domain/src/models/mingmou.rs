//! Mingmou (Tencent). Reference §3, SDK 3.1.194 (checked 2026-12-07): only the version is
//! documented; durations, resolutions and aspect ratios are passed through unchecked.

use super::{ModelTable, VersionRules};

const BASE: VersionRules = VersionRules::UNDOCUMENTED;

pub static TABLE: ModelTable = ModelTable {
    name: "Mingmou",
    as_of: "2026-12-07",
    source: "tencentcloud-sdk-python-vod 3.1.194 models.py (CreateAigcVideoTaskRequest, AigcVideoOutputConfig)",
    scene_types: &[],
    family: BASE,
    versions: &[("1.0", BASE)],
};
