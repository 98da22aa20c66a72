//! Which upstream usage **Specification** (`AigcUsageDataItem.Specification`, the product the
//! upstream bills, e.g. `Kling3.0_720P`, `ViduQ2_Refer_720P_OffPeak`) a request is billed
//! under, by model, version, resolution, sound, reference images, scene type and off-peak.
//! The SDK (3.1.194) names products for part of the versions only; for the rest the answer is
//! `Unknown`, never a guess. The reconciliation of vidgate's books against the upstream's
//! usage data groups by it.

use crate::VideoRequest;
use crate::request::Switch;

/// A request's billed product.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Specification {
    /// `product`, or its `_OffPeak` twin.
    Known { product: &'static str, off_peak: bool },
    /// The SDK names no product for this model, version and options.
    Unknown,
}

impl std::fmt::Display for Specification {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Specification::Known { product, off_peak: false } => f.write_str(product),
            Specification::Known { product, off_peak: true } => write!(f, "{product}_OffPeak"),
            Specification::Unknown => f.write_str("unknown"),
        }
    }
}

/// What picks a product besides the model and version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Any request of the versions.
    Any,
    /// Without / with `audio_generation: Enabled`.
    Silent,
    Sound,
    /// Without / with an image of `usage: Reference` in `file_infos`.
    Plain,
    Reference,
    /// Without / with a `category: Video` file in `file_infos` (a reference or edited video).
    NoVideo,
    WithVideo,
    /// With this `scene_type`.
    Scene(&'static str),
}

/// One product: model, versions, resolution (`None`: any), mode, name. Off-peak products are
/// the name with `_OffPeak` where `OFF_PEAK` lists it.
struct Row(&'static str, &'static [&'static str], Option<&'static str>, Mode, &'static str);

const KLING_ALL: &[&str] =
    &["1.6", "2.0", "2.1", "2.5", "2.6", "O1", "3.0", "3.0-Omni", "3.0-turbo", "scene"];

/// The video products of SDK 3.1.194's list, scene rows first (a scene names its product
/// whatever the version).
const ROWS: &[Row] = &[
    Row(
        "Kling",
        &["2.6"],
        Some("720P"),
        Mode::Scene("motion_control"),
        "Kling2.6MotionControl_720P",
    ),
    Row(
        "Kling",
        &["2.6"],
        Some("1080P"),
        Mode::Scene("motion_control"),
        "Kling2.6MotionControl_1080P",
    ),
    Row(
        "Kling",
        &["3.0"],
        Some("720P"),
        Mode::Scene("motion_control"),
        "Kling3.0MotionControl_720P",
    ),
    Row(
        "Kling",
        &["3.0"],
        Some("1080P"),
        Mode::Scene("motion_control"),
        "Kling3.0MotionControl_1080P",
    ),
    Row("Kling", KLING_ALL, Some("720P"), Mode::Scene("avatar_i2v"), "Kling_Avatar_I2v_720P"),
    Row("Kling", KLING_ALL, Some("1080P"), Mode::Scene("avatar_i2v"), "Kling_Avatar_I2v_1080P"),
    Row(
        "Vidu",
        &["q2", "q2-pro", "q2-turbo", "q3", "q3-pro", "q3-turbo", "scene"],
        None,
        Mode::Scene("template_effect"),
        "Vidu_TemplateEffect",
    ),
    Row("Kling", &["2.0", "2.1"], Some("720P"), Mode::Any, "Kling2.0&2.1std_720P"),
    Row("Kling", &["2.0", "2.1"], Some("1080P"), Mode::Any, "Kling2.0&2.1pro_1080P"),
    Row("Kling", &["2.5"], Some("720P"), Mode::Any, "Kling2.5pro_720P"),
    Row("Kling", &["2.5"], Some("1080P"), Mode::Any, "Kling2.5pro_1080P"),
    Row("Kling", &["O1"], Some("720P"), Mode::NoVideo, "KlingO1_NoVideo_720P"),
    Row("Kling", &["O1"], Some("1080P"), Mode::NoVideo, "KlingO1_NoVideo_1080P"),
    Row("Kling", &["O1"], Some("720P"), Mode::WithVideo, "KlingO1_720P"),
    Row("Kling", &["O1"], Some("1080P"), Mode::WithVideo, "KlingO1_1080P"),
    Row("Kling", &["2.6"], None, Mode::Silent, "Kling2.6"),
    Row("Kling", &["2.6"], None, Mode::Sound, "Kling2.6Sound"),
    Row("Kling", &["3.0"], Some("720P"), Mode::Silent, "Kling3.0_720P"),
    Row("Kling", &["3.0"], Some("1080P"), Mode::Silent, "Kling3.0_1080P"),
    Row("Kling", &["3.0"], Some("720P"), Mode::Sound, "Kling3.0Sound_720P"),
    Row("Kling", &["3.0"], Some("1080P"), Mode::Sound, "Kling3.0Sound_1080P"),
    Row("Hailuo", &["02", "2.3"], Some("768P"), Mode::Any, "Hailuo02&2.3_768P"),
    Row("Hailuo", &["02", "2.3"], Some("1080P"), Mode::Any, "Hailuo02&2.3_1080P"),
    Row("Hailuo", &["2.3-fast"], Some("768P"), Mode::Any, "Hailuo2.3fast_768P"),
    Row("Hailuo", &["2.3-fast"], Some("1080P"), Mode::Any, "Hailuo2.3fast_1080P"),
    Row("Vidu", &["q2"], Some("720P"), Mode::Plain, "ViduQ2_720P"),
    Row("Vidu", &["q2"], Some("1080P"), Mode::Plain, "ViduQ2_1080P"),
    Row("Vidu", &["q2"], Some("720P"), Mode::Reference, "ViduQ2_Refer_720P"),
    Row("Vidu", &["q2"], Some("1080P"), Mode::Reference, "ViduQ2_Refer_1080P"),
    Row("Vidu", &["q2-pro"], Some("720P"), Mode::Plain, "ViduQ2pro_720P"),
    Row("Vidu", &["q2-pro"], Some("1080P"), Mode::Plain, "ViduQ2pro_1080P"),
    Row("Vidu", &["q2-pro"], Some("720P"), Mode::Reference, "ViduQ2pro_Refer_720P"),
    Row("Vidu", &["q2-pro"], Some("1080P"), Mode::Reference, "ViduQ2pro_Refer_1080P"),
    Row("Vidu", &["q2-turbo"], Some("720P"), Mode::Any, "ViduQ2turbo_720P"),
    Row("Vidu", &["q2-turbo"], Some("1080P"), Mode::Any, "ViduQ2turbo_1080P"),
    Row("Vidu", &["q3"], Some("720P"), Mode::Reference, "ViduQ3_Refer_720P"),
    Row("Vidu", &["q3"], Some("1080P"), Mode::Reference, "ViduQ3_Refer_1080P"),
    Row("Vidu", &["q3-pro"], Some("720P"), Mode::Any, "ViduQ3pro_720P"),
    Row("Vidu", &["q3-pro"], Some("1080P"), Mode::Any, "ViduQ3pro_1080P"),
    Row("Vidu", &["q3-turbo"], Some("720P"), Mode::Any, "ViduQ3turbo_720P"),
    Row("Vidu", &["q3-turbo"], Some("1080P"), Mode::Any, "ViduQ3turbo_1080P"),
    Row("GV", &["3.1"], None, Mode::Any, "Veo3.1Standard"),
    Row("GV", &["3.1-fast"], None, Mode::Any, "Veo3.1Fast"),
    Row("Hunyuan", &["1.5"], Some("720P"), Mode::Any, "Hunyuan1.5_720P"),
    Row("Hunyuan", &["1.5"], Some("1080P"), Mode::Any, "Hunyuan1.5_1080P"),
    Row("Mingmou", &["1.0"], Some("720P"), Mode::Any, "Mingmou1.0_720P"),
    Row("Mingmou", &["1.0"], Some("1080P"), Mode::Any, "Mingmou1.0_1080P"),
];

/// Products that have an `_OffPeak` twin (`output_config.off_peak: Enabled`).
const OFF_PEAK: &[&str] = &[
    "ViduQ2_720P",
    "ViduQ2_1080P",
    "ViduQ2_Refer_720P",
    "ViduQ2_Refer_1080P",
    "ViduQ2pro_720P",
    "ViduQ2pro_1080P",
    "ViduQ2pro_Refer_720P",
    "ViduQ2pro_Refer_1080P",
    "ViduQ2turbo_720P",
    "ViduQ2turbo_1080P",
    "ViduQ3_Refer_720P",
    "ViduQ3_Refer_1080P",
    "ViduQ3pro_720P",
    "ViduQ3pro_1080P",
    "ViduQ3turbo_720P",
    "ViduQ3turbo_1080P",
];

/// Names of the SDK's list that no video request vidgate accepts is billed under, each with
/// why: image products (`CreateAigcImageTask`), other VOD AI products, resolutions the create
/// documentation does not allow (540P, 2K, 4K for Vidu and Kling 3.0), and products whose
/// deciding input vidgate does not send (a custom voice, a reference video).
const NOT_VIDEO_REQUESTS: &[&str] = &[
    // Image generation.
    "Qwen2.0",
    "Hunyuan3.0_1K",
    "Hunyuan3.0_2K",
    "Hunyuan3.0_4K",
    "Mingmou1.0_1K",
    "Mingmou1.0_2K",
    "Mingmou1.0_4K",
    "ViduQ2_T2i_1080P",
    "ViduQ2_T2i_2K",
    "ViduQ2_T2i_4K",
    "ViduQ2_I2i_1080P",
    "ViduQ2_I2i_2K",
    "ViduQ2_I2i_4K",
    "ViduQ2_Refer2i_1080P",
    "ViduQ2_Refer2i_2K",
    "ViduQ2_Refer2i_4K",
    "Kling2.1_T2i_1K2K",
    "Kling2.1_T2i_4K",
    "Kling2.1_Refer2i_1K",
    "Kling2.1_Refer2i_2K",
    "Kling2.1_Refer2i_4K",
    // Other AI products of VOD.
    "Kling_Identifyface",
    "ImageProductImage",
    "ImageChangeClothes",
    "VideoProductShowcase",
    "ImageOutPainting",
    "FaceInfo",
    "CustomVoice",
    "Subject",
    // A custom voice: which input makes a request bill as one the SDK does not say, so a
    // request with voice or subject inputs maps to `unknown` (see `undecidable`).
    "Kling3.0CustomVoice_720P",
    "Kling3.0CustomVoice_1080P",
    "Kling3.0CustomVoice_2K",
    "Kling3.0CustomVoice_4K",
    // Resolutions the create documentation does not offer for the model.
    "ViduQ2_Refer_540P",
    "ViduQ2_Refer_540P_OffPeak",
    "ViduQ3_Refer_2K",
    "ViduQ3_Refer_2K_OffPeak",
    "ViduQ3_Refer_4K",
    "ViduQ3_Refer_4K_OffPeak",
    "ViduQ3pro_540P",
    "ViduQ3pro_540P_OffPeak",
    "ViduQ3turbo_540P",
    "ViduQ3turbo_540P_OffPeak",
    "ViduQ3turbo_2K",
    "ViduQ3turbo_2K_OffPeak",
    "ViduQ3turbo_4K",
    "ViduQ3turbo_4K_OffPeak",
    "Kling3.0MotionControl_2K",
    "Kling3.0MotionControl_4K",
    // The upstream's own name for a task it could not classify.
    "unknown",
];

/// Whether the catalog knows this name: a product it maps requests to, or one it knows no
/// video request of its own is billed under.
pub fn is_known(name: &str) -> bool {
    NOT_VIDEO_REQUESTS.contains(&name)
        || ROWS.iter().any(|r| r.4 == name)
        || name.strip_suffix("_OffPeak").is_some_and(|base| OFF_PEAK.contains(&base))
}

/// Every product a request of `model` `version` can be billed under (off-peak twins
/// included), in the list's order; empty when the SDK names none.
pub fn products(model: &str, version: &str) -> Vec<String> {
    let mut out = Vec::new();
    for row in ROWS.iter().filter(|r| r.0 == model && r.1.contains(&version)) {
        out.push(row.4.to_owned());
        if OFF_PEAK.contains(&row.4) {
            out.push(format!("{}_OffPeak", row.4));
        }
    }
    out
}

/// The product `req` is billed under.
pub fn of(req: &VideoRequest) -> Specification {
    let rules = super::rules(&req.model_name, &req.model_version);
    let out = &req.output_config;
    let resolution = out.resolution.as_deref().or(rules.and_then(|r| r.default_resolution));
    let scene = req.extra.get("scene_type").and_then(|v| v.as_str());
    let sound = out.audio_generation == Some(Switch::Enabled);
    let reference = req.file_infos.iter().any(|f| {
        f.extra
            .get("usage")
            .and_then(|u| u.as_str())
            .is_some_and(|u| u.eq_ignore_ascii_case("reference"))
    });
    let off_peak = out.extra.get("off_peak").and_then(|v| v.as_str()) == Some("Enabled");
    let category = |c: &str| {
        req.file_infos.iter().any(|f| {
            f.extra
                .get("category")
                .and_then(|v| v.as_str())
                .is_some_and(|v| v.eq_ignore_ascii_case(c))
        })
    };
    let video = category("video");
    if undecidable(req, video, category("audio")) {
        return Specification::Unknown;
    }
    let fits = |row: &Row| {
        row.0 == req.model_name
            && row.1.contains(&req.model_version.as_str())
            && row.2.is_none_or(|r| Some(r) == resolution)
            && match row.3 {
                Mode::Scene(s) => scene == Some(s),
                _ if scene.is_some() => false,
                Mode::Any => true,
                Mode::Silent => !sound,
                Mode::Sound => sound,
                Mode::Plain => !reference,
                Mode::Reference => reference,
                Mode::NoVideo => !video,
                Mode::WithVideo => video,
            }
    };
    let Some(row) = ROWS.iter().find(|r| fits(r)) else { return Specification::Unknown };
    // A product with no off-peak twin is billed as itself.
    Specification::Known { product: row.4, off_peak: off_peak && OFF_PEAK.contains(&row.4) }
}

/// Inputs whose product the SDK's list does not let vidgate tell: a voice (`voice_id`, an
/// audio file), subjects (`subject_infos`), or a video on a model with no video product
/// (only Kling O1 names one). Such a request is `unknown` rather than a guess.
fn undecidable(req: &VideoRequest, video: bool, audio: bool) -> bool {
    let voice = req.file_infos.iter().any(|f| f.extra.contains_key("voice_id"));
    let subjects = req.extra.get("subject_infos").is_some_and(|v| !v.is_null());
    let video_product = req.model_name == "Kling" && req.model_version == "O1";
    voice || audio || subjects || (video && !video_product)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ParseOptions, parse_create_request};
    use serde_json::json;

    fn spec(body: serde_json::Value) -> String {
        let req = parse_create_request(&body, &ParseOptions::default()).expect("a valid request");
        of(&req).to_string()
    }

    #[test]
    fn a_request_maps_to_the_product_the_upstream_bills_it_under() {
        let k = |v: &str, out: serde_json::Value| json!({"model_name": "Kling", "model_version": v, "prompt": "p", "output_config": out});
        assert_eq!(spec(k("3.0", json!({"resolution": "720P"}))), "Kling3.0_720P");
        assert_eq!(
            spec(k("3.0", json!({"resolution": "1080P", "audio_generation": "Enabled"}))),
            "Kling3.0Sound_1080P"
        );
        assert_eq!(spec(k("2.6", json!({"audio_generation": "Enabled"}))), "Kling2.6Sound");
        assert_eq!(spec(k("2.1", json!({}))), "Kling2.0&2.1std_720P", "the default resolution");
        let mut motion = k("3.0", json!({"resolution": "720P"}));
        motion["scene_type"] = json!("motion_control");
        assert_eq!(spec(motion), "Kling3.0MotionControl_720P");
        let mut avatar = k("3.0-turbo", json!({"resolution": "1080P"}));
        avatar["scene_type"] = json!("avatar_i2v");
        assert_eq!(spec(avatar), "Kling_Avatar_I2v_1080P");
        let h = json!({"model_name": "Hailuo", "model_version": "02", "prompt": "p"});
        assert_eq!(spec(h), "Hailuo02&2.3_768P");
        let v = json!({"model_name": "Vidu", "model_version": "q2", "prompt": "p",
            "file_infos": [{"type": "Url", "url": "https://e.com/a.png", "usage": "Reference"}],
            "output_config": {"off_peak": "Enabled"}});
        assert_eq!(spec(v), "ViduQ2_Refer_720P_OffPeak");
        assert_eq!(
            spec(json!({"model_name": "GV", "model_version": "3.1-fast", "prompt": "p"})),
            "Veo3.1Fast"
        );
    }

    /// Kling O1 bills a request with a video input as its video product; inputs the list does
    /// not let vidgate tell (a voice, subjects, a video elsewhere) are `unknown`.
    #[test]
    fn inputs_pick_the_product_or_leave_it_unknown() {
        let video = json!({"type": "Url", "url": "https://e.com/v.mp4", "category": "Video", "usage": "Reference"});
        let o1 = |files: serde_json::Value| {
            json!({"model_name": "Kling", "model_version": "O1", "prompt": "p", "file_infos": files,
                   "output_config": {"resolution": "1080P"}})
        };
        assert_eq!(spec(o1(json!([video.clone()]))), "KlingO1_1080P");
        let image = json!({"type": "Url", "url": "https://e.com/a.png"});
        assert_eq!(spec(o1(json!([image]))), "KlingO1_NoVideo_1080P");
        let voiced = json!({"type": "Url", "url": "https://e.com/a.png", "voice_id": "v1"});
        let k30 = json!({"model_name": "Kling", "model_version": "3.0", "prompt": "p",
                         "file_infos": [voiced], "output_config": {"resolution": "720P"}});
        assert_eq!(spec(k30), "unknown", "a custom voice may bill as Kling3.0CustomVoice");
        let edit = json!({"model_name": "Vidu", "model_version": "q2", "prompt": "p", "file_infos": [video]});
        assert_eq!(spec(edit), "unknown", "the list names no Vidu video-editing product");
    }

    #[test]
    fn where_the_sdk_names_no_product_the_answer_is_unknown() {
        for (m, v) in [
            ("Kling", "3.0-turbo"),
            ("Vidu", "q3-mix"),
            ("GV", "omni"),
            ("OS", "2.0"),
            ("PixVerse", "v6"),
        ] {
            let body = json!({"model_name": m, "model_version": v, "prompt": "p"});
            assert_eq!(spec(body), "unknown", "{m} {v}");
        }
    }

    #[test]
    fn every_mapped_product_is_a_known_name() {
        for row in ROWS {
            assert!(is_known(row.4), "{}", row.4);
        }
        for name in OFF_PEAK {
            assert!(ROWS.iter().any(|r| r.4 == *name), "{name} has no row");
            assert!(is_known(&format!("{name}_OffPeak")));
        }
        assert!(!is_known("Kling9.9_8K"));
    }
}
