//! `CreateAigcVideoTask` parameters checked the way the upstream checks them: its own types
//! (`TasksPriority` an integer, `Duration` a number), its length limits and error codes, then
//! the per-model rules vidgate keeps (the same tables, read from the upstream's names).

use serde_json::{Map, Value};
use std::sync::Arc;
use vidgate_domain::request::upstream::from_upstream;

use vidgate_domain::models::Catalog;
use vidgate_domain::{ParseOptions, VideoRequest, parse_create_request};

use crate::auth::ApiError;
use crate::config::EmulatorAccount;

pub struct ValidCreate {
    pub request: VideoRequest,
    pub session_id: String,
    pub session_context: String,
    pub priority: i64,
}

fn string_field(params: &Map<String, Value>, key: &str) -> Result<String, ApiError> {
    match params.get(key) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(("InvalidParameterValue", format!("{key} must be a string"))),
    }
}

pub fn validate_create(
    params: &Value,
    account: &EmulatorAccount,
    catalog: &Arc<Catalog>,
) -> Result<ValidCreate, ApiError> {
    let Some(map) = params.as_object() else {
        return Err(("InvalidParameter", "the request body must be a JSON object".into()));
    };
    match map.get("SubAppId") {
        None => return Err(("MissingParameter", "SubAppId is required".into())),
        Some(v) if v.as_u64() != Some(account.sub_app_id) => {
            return Err((
                "InvalidParameterValue.SubAppId",
                "SubAppId does not belong to this account".into(),
            ));
        }
        Some(_) => {}
    }
    for key in ["ModelName", "ModelVersion"] {
        if string_field(map, key)?.is_empty() {
            return Err(("MissingParameter", format!("{key} is required")));
        }
    }
    let session_id = string_field(map, "SessionId")?;
    if session_id.chars().count() > 50 {
        return Err((
            "InvalidParameterValue.SessionIdTooLong",
            "SessionId may be at most 50 characters".into(),
        ));
    }
    let session_context = string_field(map, "SessionContext")?;
    if session_context.chars().count() > 1000 {
        return Err((
            "InvalidParameterValue.SessionContextTooLong",
            "SessionContext may be at most 1000 characters".into(),
        ));
    }
    let priority = match map.get("TasksPriority") {
        None | Some(Value::Null) => 0,
        Some(Value::Number(n)) => match n.as_i64() {
            Some(p) if (-10..=10).contains(&p) => p,
            _ => {
                return Err((
                    "InvalidParameterValue",
                    "TasksPriority must be an integer from -10 to 10".into(),
                ));
            }
        },
        Some(_) => {
            return Err(("InvalidParameterValue", "TasksPriority must be an integer".into()));
        }
    };
    if let Some(d) = map.get("OutputConfig").and_then(|o| o.get("Duration"))
        && !d.is_number()
    {
        return Err(("InvalidParameterValue", "OutputConfig.Duration must be a number".into()));
    }
    let mut rest = map.clone();
    for key in ["SubAppId", "SessionId"] {
        rest.remove(key);
    }
    let snake = from_upstream(&Value::Object(rest));
    let opts = ParseOptions::default().with_catalog(catalog.clone());
    let request = parse_create_request(&snake, &opts).map_err(|errors| {
        let all: Vec<String> = errors
            .iter()
            .map(|e| format!("{}: {}", e.path().trim_start_matches("body."), e.msg))
            .collect();
        ("InvalidParameterValue", all.join("; "))
    })?;
    Ok(ValidCreate { request, session_id, session_context, priority })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn catalog() -> Arc<Catalog> {
        Arc::new(Catalog::built_in().clone())
    }

    fn account() -> EmulatorAccount {
        EmulatorAccount {
            secret_id: "a".into(),
            secret_key: "k".into(),
            sub_app_id: 42,
            concurrency: 1,
        }
    }

    fn body(extra: Value) -> Value {
        let mut b = json!({"SubAppId": 42, "ModelName": "Kling", "ModelVersion": "2.1", "Prompt": "p", "OutputConfig": {"Duration": 5.0}});
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    }

    #[test]
    fn the_upstreams_own_rules_and_codes_apply() {
        assert!(validate_create(&body(json!({})), &account(), &catalog()).is_ok());
        let code = |b: Value| validate_create(&b, &account(), &catalog()).err().map(|e| e.0);
        assert_eq!(code(body(json!({"SubAppId": 7}))), Some("InvalidParameterValue.SubAppId"));
        assert_eq!(code(json!({"ModelName": "Kling"})), Some("MissingParameter"));
        assert_eq!(
            code(body(json!({"SessionId": "s".repeat(51)}))),
            Some("InvalidParameterValue.SessionIdTooLong")
        );
        assert_eq!(
            code(body(json!({"SessionContext": "c".repeat(1001)}))),
            Some("InvalidParameterValue.SessionContextTooLong")
        );
        assert_eq!(
            code(body(json!({"TasksPriority": "10"}))),
            Some("InvalidParameterValue"),
            "an integer, not a string"
        );
        assert_eq!(
            code(body(json!({"OutputConfig": {"Duration": "5"}}))),
            Some("InvalidParameterValue"),
            "a number, not a string"
        );
        assert_eq!(
            code(body(json!({"OutputConfig": {"Duration": 99.0}}))),
            Some("InvalidParameterValue")
        );
        assert_eq!(code(body(json!({"ModelVersion": "9.9"}))), Some("InvalidParameterValue"));
    }

    /// The emulator reads vidgate's own catalog (one table): every version in it, the ones
    /// SDK 3.1.194 added included, is accepted with the upstream's names; a scene type the
    /// model does not take is refused as the upstream would.
    #[test]
    fn every_catalog_version_is_accepted_and_scene_types_are_checked() {
        for table in &Catalog::built_in().models {
            for e in &table.versions {
                let version = &e.name;
                let b = json!({"SubAppId": 42, "ModelName": table.name, "ModelVersion": version, "Prompt": "p"});
                assert!(
                    validate_create(&b, &account(), &catalog()).is_ok(),
                    "{} {version}",
                    table.name
                );
            }
        }
        let scene = |model: &str, version: &str, scene: &str| {
            let b = json!({"SubAppId": 42, "ModelName": model, "ModelVersion": version, "Prompt": "p", "SceneType": scene});
            validate_create(&b, &account(), &catalog()).err().map(|e| e.0)
        };
        assert_eq!(scene("Kling", "3.0", "motion_control"), None);
        assert_eq!(scene("Vidu", "q3-mix", "template_effect"), None);
        assert_eq!(scene("Kling", "3.0", "template_effect"), Some("InvalidParameterValue"));
        assert_eq!(scene("Hailuo", "H3-Max", "lip_sync"), Some("InvalidParameterValue"));
    }

    /// With an operator's catalog file laid over the built-in one (`catalog` in the
    /// emulator's file), the emulator accepts its made-up version; without it, it refuses
    /// the version as the upstream refuses one it does not sell.
    #[test]
    fn an_operator_catalog_file_adds_what_the_emulator_accepts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("models.toml");
        std::fs::write(
            &path,
            "[[models]]\nname = \"Kling\"\n[[models.versions]]\nname = \"5.0-x\"\n",
        )
        .unwrap();
        let with_file = Arc::new(crate::file::load_catalog(&path).unwrap());
        let b =
            json!({"SubAppId": 42, "ModelName": "Kling", "ModelVersion": "5.0-x", "Prompt": "p"});
        assert!(validate_create(&b, &account(), &with_file).is_ok());
        let refused = validate_create(&b, &account(), &catalog()).err().map(|e| e.0);
        assert_eq!(refused, Some("InvalidParameterValue"));
    }
}
