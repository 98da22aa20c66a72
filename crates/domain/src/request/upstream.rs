//! The request in the upstream's own words: snake_case fields become Tencent's PascalCase
//! (`model_name` → `ModelName`), with the few names that are not plain PascalCase spelled
//! out (`enable_bgm` → `EnableBGM`). Fields vidgate does not know are converted the same way,
//! so newer upstream parameters pass through without a release.

use serde_json::{Map, Value};

use super::VideoRequest;

/// Upstream names that plain PascalCase conversion would get wrong.
const EXCEPTIONS: &[(&str, &str)] = &[("enable_bgm", "EnableBGM")];

/// `first_frame_url` → `FirstFrameUrl`.
pub fn pascal_case(snake: &str) -> String {
    if let Some((_, upstream)) = EXCEPTIONS.iter().find(|(s, _)| *s == snake) {
        return (*upstream).to_owned();
    }
    snake
        .split('_')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut c = p.chars();
            c.next().map(|f| f.to_uppercase().chain(c).collect::<String>()).unwrap_or_default()
        })
        .collect()
}

/// `FirstFrameUrl` → `first_frame_url` (the inverse of `pascal_case`).
pub fn snake_case(pascal: &str) -> String {
    if let Some((snake, _)) = EXCEPTIONS.iter().find(|(_, p)| *p == pascal) {
        return (*snake).to_owned();
    }
    let mut out = String::with_capacity(pascal.len() + 4);
    for (i, c) in pascal.chars().enumerate() {
        if c.is_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// An upstream-shaped body back in the seed's snake_case (the emulator validates with it).
pub fn from_upstream(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter().map(|(k, v)| (snake_case(k), from_upstream(v))).collect::<Map<_, _>>(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(from_upstream).collect()),
        other => other.clone(),
    }
}

fn convert(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter().map(|(k, v)| (pascal_case(k), convert(v))).collect::<Map<_, _>>(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(convert).collect()),
        other => other.clone(),
    }
}

/// The request as the upstream's `CreateAigcVideoTask` body (without `SubAppId`, `SessionId`
/// and the other fields the provider adds). `Duration` stays a float and `TasksPriority` an
/// integer, as the upstream's types say.
pub fn to_upstream(req: &VideoRequest) -> Value {
    let mut v = serde_json::to_value(req).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut v {
        // vidgate enforces the caller's session_id itself; the upstream's SessionId is
        // vidgate's own request id, set by the provider.
        map.remove("session_id");
        if req.tasks_priority == 0 {
            map.remove("tasks_priority");
        }
        if map.get("output_config").is_some_and(|o| o.as_object().is_some_and(Map::is_empty)) {
            map.remove("output_config");
        }
    }
    convert(&v)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::request::{ParseOptions, parse_create_request};

    #[test]
    fn names_follow_the_upstreams_spelling() {
        assert_eq!(pascal_case("model_name"), "ModelName");
        assert_eq!(pascal_case("file_id"), "FileId");
        assert_eq!(pascal_case("enable_bgm"), "EnableBGM");
        assert_eq!(pascal_case("input_compliance_check"), "InputComplianceCheck");
        assert_eq!(pascal_case("url"), "Url");
    }

    #[test]
    fn snake_case_inverts_pascal_case() {
        for s in [
            "model_name",
            "file_id",
            "enable_bgm",
            "input_compliance_check",
            "url",
            "tasks_priority",
        ] {
            assert_eq!(snake_case(&pascal_case(s)), s);
        }
        assert_eq!(
            from_upstream(&serde_json::json!({"OutputConfig": {"EnableBGM": "Enabled"}})),
            serde_json::json!({"output_config": {"enable_bgm": "Enabled"}})
        );
    }

    #[test]
    fn the_seed_example_maps_to_upstream_types_and_names() {
        let body = json!({
            "model_name": "Kling", "model_version": "1.6", "prompt": "p", "tasks_priority": "10",
            "session_id": "mine", "session_context": "ctx", "seed": 42,
            "file_infos": [{"type": "Url", "url": "https://e.com/a.png", "usage": "FirstFrame"}],
            "output_config": {"duration": "8", "resolution": "1080P", "enable_bgm": "Enabled"}
        });
        let req = parse_create_request(&body, &ParseOptions::default()).unwrap();
        let up = to_upstream(&req);
        assert_eq!(up["ModelName"], "Kling");
        assert_eq!(up["TasksPriority"], json!(10));
        assert!(up["OutputConfig"]["Duration"].is_f64());
        assert_eq!(up["OutputConfig"]["Duration"], json!(8.0));
        assert_eq!(up["OutputConfig"]["EnableBGM"], "Enabled");
        assert_eq!(
            up["FileInfos"][0],
            json!({"Type": "Url", "Url": "https://e.com/a.png", "Usage": "FirstFrame"})
        );
        assert_eq!(up["SessionContext"], "ctx");
        assert_eq!(up["Seed"], 42);
        assert!(up.get("SessionId").is_none());
    }

    /// The SDK's newer request fields reach the upstream under its names: `Procedure`,
    /// `SubjectInfos` (entries passed as given, keys in the upstream's case), `InputRegion`,
    /// `SceneType`, and video/audio references in `FileInfos` (`Category`, `ReferenceType`,
    /// `KeepOriginalSound`); ill-typed values are refused at their field.
    #[test]
    fn newer_sdk_fields_reach_the_upstream_under_its_names() {
        let body = json!({
            "model_name": "Kling", "model_version": "O1", "prompt": "p",
            "procedure": "my-flow", "input_region": "OverseaUSWest",
            "subject_infos": [{"subject_id": "s1"}],
            "file_infos": [
                {"type": "Url", "url": "https://e.com/v.mp4", "category": "Video",
                 "usage": "Reference", "reference_type": "base", "keep_original_sound": "Enabled"},
                {"type": "Url", "url": "https://e.com/a.mp3", "category": "Audio", "usage": "Reference"}
            ]
        });
        let req = parse_create_request(&body, &ParseOptions::default()).unwrap();
        let up = to_upstream(&req);
        assert_eq!(up["Procedure"], "my-flow");
        assert_eq!(up["InputRegion"], "OverseaUSWest");
        assert_eq!(up["SubjectInfos"], json!([{"SubjectId": "s1"}]), "{up}");
        assert_eq!(up["FileInfos"][0]["Category"], "Video");
        assert_eq!(up["FileInfos"][0]["ReferenceType"], "base");
        assert_eq!(up["FileInfos"][0]["KeepOriginalSound"], "Enabled");
        assert_eq!(up["FileInfos"][1]["Category"], "Audio");
        // A file given as itself (`Type: Base64`) goes under the SDK's names, and comes back.
        let mut b = body.clone();
        b["file_infos"] =
            json!([{"type": "Base64", "base64": "iVBORw0KGgo=", "category": "Image"}]);
        let req = parse_create_request(&b, &ParseOptions::default()).unwrap();
        let up = to_upstream(&req);
        assert_eq!(
            up["FileInfos"][0],
            json!({"Type": "Base64", "Base64": "iVBORw0KGgo=", "Category": "Image"})
        );
        assert_eq!(from_upstream(&up)["file_infos"], b["file_infos"]);
        for (field, bad, at) in [
            ("procedure", json!(7), "body.procedure"),
            ("subject_infos", json!(["not an object"]), "body.subject_infos.0"),
        ] {
            let mut b = body.clone();
            b[field] = bad;
            let err = parse_create_request(&b, &ParseOptions::default()).unwrap_err();
            assert!(err.iter().any(|e| e.path() == at), "{field}: {err:?}");
        }
        let mut b = body.clone();
        b["file_infos"][1]["category"] = json!("Hologram");
        let err = parse_create_request(&b, &ParseOptions::default()).unwrap_err();
        assert!(err.iter().any(|e| e.path() == "body.file_infos.1.category"), "{err:?}");
    }
}
