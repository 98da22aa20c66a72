//! Which upstream usage **Specification** (`AigcUsageDataItem.Specification`, the product the
//! upstream bills, e.g. `Kling3.0_720P`, `ViduQ2_Refer_720P_OffPeak`) a request is billed
//! under, by model, version, resolution, sound, reference images, scene type and off-peak.
//! The SDK (3.1.194) names products for part of the versions only; for the rest the answer is
//! `Unknown`, never a guess. The reconciliation of vidgate's books against the upstream's
//! usage data groups by it.

use super::Catalog;
use super::catalog::{Mode, ProductRow};
use crate::VideoRequest;
use crate::request::Switch;

/// A request's billed product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Specification {
    /// `product`, or its `_OffPeak` twin.
    Known { product: String, off_peak: bool },
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

impl Catalog {
    /// Whether the catalog knows this product name: one it maps requests to (or its
    /// off-peak twin), or one it knows no video request of its own is billed under.
    pub fn is_known_product(&self, name: &str) -> bool {
        let row = |n: &str| self.products.iter().any(|r| r.product == n);
        self.other_products.iter().any(|n| n == name)
            || row(name)
            || name
                .strip_suffix("_OffPeak")
                .is_some_and(|base| self.products.iter().any(|r| r.off_peak && r.product == base))
    }

    /// Every product a request of `model` `version` can be billed under (off-peak twins
    /// included), in the catalog's order; empty when it names none.
    pub fn products(&self, model: &str, version: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for row in self.products.iter().filter(|r| r.covers(model, version)) {
            let mut names = vec![row.product.clone()];
            if row.off_peak {
                names.push(format!("{}_OffPeak", row.product));
            }
            for n in names {
                if !out.contains(&n) {
                    out.push(n);
                }
            }
        }
        out
    }

    /// The product `req` is billed under.
    pub fn specification(&self, req: &VideoRequest) -> Specification {
        let rules = self.rules(&req.model_name, &req.model_version);
        let out = &req.output_config;
        let resolution =
            out.resolution.as_deref().or(rules.and_then(|r| r.default_resolution.as_deref()));
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
        let video_product = self
            .products
            .iter()
            .any(|r| r.covers(&req.model_name, &req.model_version) && r.mode == Mode::WithVideo);
        if undecidable(req, video && !video_product, category("audio")) {
            return Specification::Unknown;
        }
        let fits = |row: &ProductRow| {
            row.covers(&req.model_name, &req.model_version)
                && row.resolution.as_deref().is_none_or(|r| Some(r) == resolution)
                && match &row.mode {
                    Mode::Scene(s) => scene == Some(s.as_str()),
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
        let Some(row) = self.products.iter().find(|r| fits(r)) else {
            return Specification::Unknown;
        };
        // A product with no off-peak twin is billed as itself.
        Specification::Known { product: row.product.clone(), off_peak: off_peak && row.off_peak }
    }
}

/// Inputs whose product the SDK's list does not let vidgate tell: a voice (`voice_id`, an
/// audio file), subjects (`subject_infos`), or a video on a version with no video product
/// (of SDK 3.1.194's, only Kling O1 names one). Such a request is `unknown` rather than a
/// guess.
fn undecidable(req: &VideoRequest, unmapped_video: bool, audio: bool) -> bool {
    let voice = req.file_infos.iter().any(|f| f.extra.contains_key("voice_id"));
    let subjects = req.extra.get("subject_infos").is_some_and(|v| !v.is_null());
    voice || audio || subjects || unmapped_video
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ParseOptions, parse_create_request};
    use serde_json::json;

    fn spec(body: serde_json::Value) -> String {
        let req = parse_create_request(&body, &ParseOptions::default()).expect("a valid request");
        Catalog::built_in().specification(&req).to_string()
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
        let audio = json!({"type": "Url", "url": "https://e.com/a.mp3", "category": "Audio", "usage": "Reference"});
        let with_audio = json!({"model_name": "Kling", "model_version": "3.0", "prompt": "p",
                                "file_infos": [audio], "output_config": {"resolution": "720P"}});
        assert_eq!(spec(with_audio), "unknown", "an audio reference: the list does not say");
        let subjects = json!({"model_name": "Kling", "model_version": "3.0", "prompt": "p",
                              "subject_infos": [{"id": "s1"}], "output_config": {"resolution": "720P"}});
        assert_eq!(spec(subjects), "unknown", "subjects: the list does not say");
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
        let c = Catalog::built_in();
        for row in &c.products {
            assert!(c.is_known_product(&row.product), "{}", row.product);
            assert_eq!(c.is_known_product(&format!("{}_OffPeak", row.product)), row.off_peak);
        }
        assert!(c.is_known_product("ViduQ2_Refer_720P_OffPeak"));
        assert!(c.is_known_product("Qwen2.0"));
        assert!(!c.is_known_product("Kling9.9_8K"));
        assert!(!c.is_known_product("Kling3.0_720P_OffPeak"), "Kling has no off-peak twin");
    }
}
