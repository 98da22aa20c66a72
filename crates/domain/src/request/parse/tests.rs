//! Boundary tests: what the parser accepts, what it refuses, and where it says the problem is.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;

fn strict(body: Value) -> Result<VideoRequest, Vec<FieldError>> {
    parse_create_request(&body, &ParseOptions::default())
}

fn lenient(body: Value) -> Result<VideoRequest, Vec<FieldError>> {
    parse_create_request(&body, &ParseOptions::LAX)
}

/// The seed's own example body, verbatim.
pub(crate) fn seed_example() -> Value {
    json!({
        "model_name": "Kling",
        "model_version": "1.6",
        "prompt": "A car was driving on the highway, under the bright sunshine.",
        "negative_prompt": "Blurry, jittery",
        "enhance_prompt": "Enabled",
        "output_config": {
            "storage_mode": "Temporary",
            "media_name": "car-video",
            "duration": 8,
            "resolution": "1080P",
            "aspect_ratio": "16:9",
            "audio_generation": "Enabled",
            "person_generation": "AllowAdult",
            "input_compliance_check": "Enabled",
            "output_compliance_check": "Enabled",
            "enhance_switch": "Enabled"
        }
    })
}

fn paths(errors: &[FieldError]) -> Vec<String> {
    errors.iter().map(FieldError::path).collect()
}

fn kinds(errors: &[FieldError]) -> Vec<&str> {
    errors.iter().map(|e| e.kind.as_str()).collect()
}

#[test]
fn the_seed_example_body_is_accepted_as_is() {
    let r = strict(seed_example()).expect("seed example must parse");
    assert_eq!(r.model_name, "Kling");
    assert_eq!(r.output_config.duration, Some(8.0));
    assert_eq!(r.output_config.media_name.as_deref(), Some("car-video"));
    assert_eq!(r.output_config.enhance_switch, Some(Switch::Enabled));
}

#[test]
fn duration_and_priority_arrive_as_strings_or_numbers() {
    let mut b = seed_example();
    b["output_config"]["duration"] = json!("10.0");
    b["tasks_priority"] = json!("10");
    let r = strict(b).unwrap();
    assert_eq!(r.output_config.duration, Some(10.0));
    assert_eq!(r.tasks_priority, 10);

    let mut b = seed_example();
    b["tasks_priority"] = json!(-3);
    assert_eq!(strict(b).unwrap().tasks_priority, -3);
}

#[test]
fn a_body_that_is_not_an_object_is_refused_at_the_body() {
    for body in [json!([]), json!("x"), json!(3), Value::Null] {
        let e = strict(body).unwrap_err();
        assert_eq!(paths(&e), vec!["body"]);
        assert_eq!(kinds(&e), vec!["dict_type"]);
    }
}

#[test]
fn every_missing_required_field_is_reported_at_once() {
    let e = strict(json!({})).unwrap_err();
    let p = paths(&e);
    assert!(p.contains(&"body.model_name".to_string()), "{p:?}");
    assert!(p.contains(&"body.model_version".to_string()), "{p:?}");
    assert!(p.contains(&"body.prompt".to_string()), "{p:?}");
    assert!(kinds(&e).iter().all(|k| *k == "missing"));
}

#[test]
fn a_prompt_is_not_needed_when_an_image_drives_the_video() {
    let b = json!({"model_name":"Kling","model_version":"2.1",
        "file_infos":[{"type":"Url","url":"https://example.com/a.png"}]});
    assert!(strict(b).is_ok());
}

#[test]
fn wrong_types_are_reported_per_field_with_their_location() {
    let mut b = seed_example();
    b["prompt"] = json!(42);
    b["output_config"]["duration"] = json!([8]);
    b["tasks_priority"] = json!("high");
    b["enhance_prompt"] = json!(true);
    let e = strict(b).unwrap_err();
    let mut p = paths(&e);
    p.sort();
    assert_eq!(
        p,
        vec![
            "body.enhance_prompt",
            "body.output_config.duration",
            "body.prompt",
            "body.tasks_priority"
        ]
    );
}

#[test]
fn tasks_priority_must_lie_between_minus_ten_and_ten() {
    for (v, ok) in [
        (json!(-10), true),
        (json!(10), true),
        (json!(11), false),
        (json!("-11"), false),
        (json!(1.5), false),
    ] {
        let mut b = seed_example();
        b["tasks_priority"] = v.clone();
        assert_eq!(strict(b).is_ok(), ok, "{v}");
    }
}

#[test]
fn session_id_is_capped_at_fifty_characters_and_empty_means_no_dedup() {
    let mut b = seed_example();
    b["session_id"] = json!("é".repeat(50));
    assert!(strict(b).is_ok());
    let mut b = seed_example();
    b["session_id"] = json!("x".repeat(51));
    assert_eq!(kinds(&strict(b).unwrap_err()), vec!["string_too_long"]);
    let mut b = seed_example();
    b["session_id"] = json!("");
    assert_eq!(strict(b).unwrap().session_id, None);
}

#[test]
fn session_context_is_capped_at_a_thousand_characters() {
    let mut b = seed_example();
    b["session_context"] = json!("c".repeat(1001));
    assert_eq!(paths(&strict(b).unwrap_err()), vec!["body.session_context"]);
}

#[test]
fn enum_values_must_be_spelled_exactly_as_the_seed_spells_them() {
    for (field, bad) in [
        ("storage_mode", "temporary"),
        ("person_generation", "allowadult"),
        ("audio_generation", "enabled"),
    ] {
        let mut b = seed_example();
        b["output_config"][field] = json!(bad);
        let e = strict(b).unwrap_err();
        assert_eq!(paths(&e), vec![format!("body.output_config.{field}")]);
        assert_eq!(kinds(&e), vec!["enum"]);
    }
}

#[test]
fn file_infos_hold_a_bounded_number_of_entries_each_with_its_matching_field() {
    let img = json!({"type":"Url","url":"https://example.com/a.png"});
    let mut b = seed_example();
    b["model_name"] = json!("GV");
    b["model_version"] = json!("3.1");
    b["output_config"] = json!({"duration": 8});
    // GV takes 3 images (its documented limit); 4 is its rule's refusal, 17 entries the
    // gateway's own bound on any request.
    b["file_infos"] = json!([img, img, img, img]);
    assert_eq!(kinds(&strict(b.clone()).unwrap_err()), vec!["model_rule"]);
    b["file_infos"] = Value::Array(vec![img.clone(); crate::models::MAX_FILE_INFOS + 1]);
    assert_eq!(kinds(&strict(b.clone()).unwrap_err()), vec!["too_long"]);

    b["file_infos"] =
        json!([{"type":"File"}, {"type":"Url"}, {"type":"Blob","url":"https://x.y/z"}]);
    let e = strict(b).unwrap_err();
    assert_eq!(
        paths(&e),
        vec!["body.file_infos.0.file_id", "body.file_infos.1.url", "body.file_infos.2.type"]
    );
}

/// `type: Base64` (SDK 3.1.194): the file itself in `base64`, raw standard base64 (no `data:`
/// prefix), passed on as given; at most 7 MB of files in all.
#[test]
fn a_base64_file_is_checked_and_passed_on() {
    let mut b = seed_example();
    b["file_infos"] = json!([{"type": "Base64", "base64": "iVBORw0KGgo=", "category": "Image"}]);
    let req = strict(b.clone()).expect("a base64 image is accepted");
    let fi = &req.file_infos()[0];
    assert_eq!(fi.kind, crate::request::FileKind::Base64);
    assert_eq!(fi.extra["base64"], json!("iVBORw0KGgo="));
    for (entry, path, kind) in [
        (json!({"type": "Base64"}), "body.file_infos.0.base64", "missing"),
        (json!({"type": "Base64", "base64": 7}), "body.file_infos.0.base64", "string_type"),
        (
            json!({"type": "Base64", "base64": "data:image/png;base64,iVBORw0KGgo="}),
            "body.file_infos.0.base64",
            "value_error",
        ),
        (json!({"type": "Base64", "base64": "%%%"}), "body.file_infos.0.base64", "value_error"),
        (json!({"type": "Base64", "base64": ""}), "body.file_infos.0.base64", "value_error"),
    ] {
        b["file_infos"] = json!([entry]);
        let e = strict(b.clone()).unwrap_err();
        assert_eq!((paths(&e), kinds(&e)), (vec![path.to_owned()], vec![kind]), "{entry}");
    }
    // 4 MB + 4 MB of files: over the 7 MB the upstream takes in all, said at file_infos.
    let four_mb = "A".repeat(4 * 1024 * 1024 / 3 * 4);
    let big = json!({"type": "Base64", "base64": four_mb});
    b["file_infos"] = json!([big.clone()]);
    assert!(strict(b.clone()).is_ok(), "one 4 MB file fits");
    b["file_infos"] = json!([big.clone(), big]);
    let e = strict(b).unwrap_err();
    assert_eq!((paths(&e), kinds(&e)), (vec!["body.file_infos".to_owned()], vec!["too_large"]));
}

#[test]
fn urls_must_be_absolute_http_or_https() {
    for (url, kind) in [
        ("ftp://example.com/a.png", "url_scheme"),
        ("file:///etc/passwd", "url_scheme"),
        ("/relative.png", "url_parsing"),
        ("javascript:alert(1)", "url_scheme"),
    ] {
        let mut b = seed_example();
        b["file_infos"] = json!([{"type":"Url","url":url}]);
        let e = strict(b).unwrap_err();
        assert_eq!(kinds(&e), vec![kind], "{url}");
        assert_eq!(paths(&e), vec!["body.file_infos.0.url"]);
    }
}

#[test]
fn a_last_frame_needs_a_first_frame() {
    let mut b = seed_example();
    b["model_version"] = json!("2.1");
    b["last_frame_url"] = json!("https://example.com/end.png");
    let e = strict(b).unwrap_err();
    assert_eq!(paths(&e), vec!["body.last_frame_url"]);
    assert_eq!(kinds(&e), vec!["value_error"]);
}

#[test]
fn strict_mode_refuses_unknown_fields_and_lenient_mode_passes_them_through() {
    let mut b = seed_example();
    b["promt"] = json!("typo");
    b["output_config"]["fancy_new_knob"] = json!(3);
    let e = strict(b.clone()).unwrap_err();
    let mut p = paths(&e);
    p.sort();
    assert_eq!(p, vec!["body.output_config.fancy_new_knob", "body.promt"]);
    assert!(kinds(&e).iter().all(|k| *k == "extra_forbidden"));

    let r = lenient(b).unwrap();
    assert_eq!(r.extra["promt"], json!("typo"));
    assert_eq!(r.output_config.extra["fancy_new_knob"], json!(3));
}

#[test]
fn known_newer_upstream_fields_pass_through_in_strict_mode_when_well_typed() {
    let mut b = seed_example();
    b["seed"] = json!(1234);
    b["input_region"] = json!("Oversea");
    b["output_config"]["enable_bgm"] = json!("Enabled");
    let r = strict(b.clone()).unwrap();
    assert_eq!(r.extra["seed"], json!(1234));
    assert_eq!(r.output_config.extra["enable_bgm"], json!("Enabled"));

    // Every region the SDK documents (3.1.194 added OverseaUSWest); others are named.
    for region in ["Mainland", "Oversea", "OverseaUSWest"] {
        b["input_region"] = json!(region);
        assert_eq!(strict(b.clone()).unwrap().extra["input_region"], json!(region));
    }
    b["input_region"] = json!("Mars");
    assert_eq!(paths(&strict(b.clone()).unwrap_err()), vec!["body.input_region"]);
    b["input_region"] = json!("Oversea");

    b["seed"] = json!("lots");
    assert_eq!(paths(&strict(b).unwrap_err()), vec!["body.seed"]);
}

#[test]
fn lenient_mode_passes_unknown_models_and_values_through() {
    let b = json!({"model_name":"Seedance","model_version":"9","prompt":"p",
        "output_config":{"duration":99,"resolution":"8K","aspect_ratio":"5:4"}});
    assert_eq!(kinds(&strict(b.clone()).unwrap_err()), vec!["enum"]);
    let r = lenient(b).unwrap();
    assert_eq!(r.output_config.resolution.as_deref(), Some("8K"));
}

#[test]
fn lenient_mode_still_checks_the_seed_shape() {
    let b = json!({"model_name":"X","model_version":"1","prompt":"p","tasks_priority":99,
        "session_id": "s".repeat(60)});
    let mut p = paths(&lenient(b).unwrap_err());
    p.sort();
    assert_eq!(p, vec!["body.session_id", "body.tasks_priority"]);
}

#[test]
fn nul_characters_are_refused_wherever_they_hide() {
    let mut b = seed_example();
    b["prompt"] = json!("a\u{0}b");
    b["output_config"]["media_name"] = json!("x\u{0}");
    let mut p = paths(&strict(b).unwrap_err());
    p.sort();
    assert_eq!(p, vec!["body.output_config.media_name", "body.prompt"]);
}

#[test]
fn nulls_mean_not_set() {
    let mut b = seed_example();
    b["negative_prompt"] = Value::Null;
    b["output_config"]["duration"] = Value::Null;
    let r = strict(b).unwrap();
    assert_eq!(r.negative_prompt, None);
    assert_eq!(r.output_config.duration, None);
}

#[test]
fn a_parsed_request_round_trips_through_its_stored_form() {
    let mut b = seed_example();
    b["seed"] = json!(7);
    b["file_infos"] =
        json!([{"type":"Url","url":"https://example.com/a.png","usage":"FirstFrame"}]);
    let r = strict(b).unwrap();
    let stored = serde_json::to_string(&r).unwrap();
    let back = VideoRequest::from_stored(&stored).unwrap();
    assert_eq!(back, r);
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| json!(f)),
        ".{0,40}".prop_map(Value::String),
        prop_oneof![
            Just("Kling"),
            Just("1.6"),
            Just("Enabled"),
            Just("Url"),
            Just("File"),
            Just("https://e.com/a.png"),
            Just("1080P"),
            Just("16:9"),
            Just("8"),
        ]
        .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        let keys = prop_oneof![
            Just("model_name".to_string()),
            Just("model_version".to_string()),
            Just("prompt".to_string()),
            Just("output_config".to_string()),
            Just("file_infos".to_string()),
            Just("duration".to_string()),
            Just("type".to_string()),
            Just("url".to_string()),
            Just("tasks_priority".to_string()),
            Just("last_frame_url".to_string()),
            ".{0,8}",
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(keys, inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn any_json_either_parses_or_names_where_it_is_wrong(body in arb_json(), strict_rules in any::<bool>()) {
        match parse_create_request(&body, &ParseOptions { strict_model_rules: strict_rules, ..ParseOptions::default() }) {
            Ok(r) => {
                prop_assert!(!r.model_name.is_empty());
                prop_assert!((-10..=10).contains(&r.tasks_priority));
            }
            Err(errors) => {
                prop_assert!(!errors.is_empty());
                for e in errors {
                    prop_assert_eq!(&e.loc[0], &Loc::from("body"));
                    prop_assert!(!e.msg.is_empty());
                }
            }
        }
    }
}
