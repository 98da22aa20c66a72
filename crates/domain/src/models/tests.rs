//! Table-driven tests of the per-model rules: each row is a request shape and the fields it
//! must be refused on (empty: accepted).

use serde_json::{Value, json};

use super::*;
use crate::request::{ParseOptions, parse_create_request};

struct Case {
    model: &'static str,
    version: &'static str,
    output: Value,
    images: usize,
    last_frame: bool,
    refused_at: &'static [&'static str],
}

const fn case(
    model: &'static str,
    version: &'static str,
    images: usize,
    last_frame: bool,
    refused_at: &'static [&'static str],
) -> Case {
    Case { model, version, output: Value::Null, images, last_frame, refused_at }
}

fn with(mut c: Case, output: Value) -> Case {
    c.output = output;
    c
}

fn run(c: &Case) -> Vec<String> {
    let img = json!({"type":"Url","url":"https://example.com/a.png"});
    let mut body = json!({"model_name": c.model, "model_version": c.version, "prompt": "a cat"});
    if !c.output.is_null() {
        body["output_config"] = c.output.clone();
    }
    if c.images > 0 {
        body["file_infos"] = Value::Array(vec![img; c.images]);
    }
    if c.last_frame {
        body["last_frame_url"] = json!("https://example.com/z.png");
    }
    match parse_create_request(&body, &ParseOptions::default()) {
        Ok(_) => vec![],
        Err(errors) => errors.iter().map(|e| e.path()).collect(),
    }
}

#[test]
fn model_rule_table_cases() {
    let cases = vec![
        // Kling: 3–15 s since 2026-06-11, 720P/1080P, three aspect ratios, last frame 2.1@1080P.
        with(case("Kling", "1.6", 0, false, &[]), json!({"duration": 8, "resolution": "1080P"})),
        with(case("Kling", "2.5", 0, false, &[]), json!({"duration": 3})),
        with(
            case("Kling", "2.5", 0, false, &["body.output_config.duration"]),
            json!({"duration": 16}),
        ),
        with(
            case("Kling", "2.5", 0, false, &["body.output_config.duration"]),
            json!({"duration": 5.5}),
        ),
        with(
            case("Kling", "O1", 0, false, &["body.output_config.resolution"]),
            json!({"resolution": "4K"}),
        ),
        with(
            case("Kling", "3.0", 0, false, &["body.output_config.aspect_ratio"]),
            json!({"aspect_ratio": "4:3"}),
        ),
        with(case("Kling", "2.1", 1, true, &[]), json!({"resolution": "1080P"})),
        // The versions SDK 3.1.194 added: their family's documented limits hold; a last
        // frame, which the SDK does not restrict for them, passes.
        with(
            case("Kling", "3.0-turbo", 0, false, &["body.output_config.duration"]),
            json!({"duration": 16}),
        ),
        with(case("Kling", "scene", 1, true, &[]), json!({"duration": 15, "resolution": "1080P"})),
        with(case("Hailuo", "H3-Max", 1, true, &[]), json!({"duration": 4, "resolution": "4K"})),
        with(
            case("Hailuo", "H3-Max", 0, false, &["body.output_config.duration"]),
            json!({"duration": 3}),
        ),
        with(
            case("Vidu", "q3-mix", 0, false, &["body.output_config.duration"]),
            json!({"duration": 11}),
        ),
        with(case("Vidu", "lip-sync", 1, true, &[]), json!({"duration": 10})),
        with(
            case("GV", "omni", 0, false, &["body.output_config.duration"]),
            json!({"duration": 5}),
        ),
        with(case("GV", "3.1-lite", 1, true, &[]), json!({"duration": 8})),
        with(case("Hunyuan", "3d_2.0", 0, false, &[]), json!({"duration": 99, "resolution": "8K"})),
        with(
            case("Kling", "2.1", 1, true, &["body.last_frame_url"]),
            json!({"resolution": "720P"}),
        ),
        case("Kling", "2.1", 1, true, &["body.last_frame_url"]),
        with(
            case("Kling", "1.6", 1, true, &["body.last_frame_url"]),
            json!({"resolution": "1080P"}),
        ),
        case("Kling", "9.9", 0, false, &["body.model_version"]),
        // Hailuo: 6/10 s, 768P/1080P, no aspect ratio, no audio; H3 4–15 s up to 4K.
        with(case("Hailuo", "02", 0, false, &[]), json!({"duration": 10, "resolution": "768P"})),
        with(
            case("Hailuo", "2.3", 0, false, &["body.output_config.duration"]),
            json!({"duration": 8}),
        ),
        with(
            case("Hailuo", "2.3-fast", 0, false, &["body.output_config.aspect_ratio"]),
            json!({"aspect_ratio": "16:9"}),
        ),
        with(
            case("Hailuo", "2.3", 0, false, &["body.output_config.audio_generation"]),
            json!({"audio_generation": "Enabled"}),
        ),
        with(case("Hailuo", "2.3", 0, false, &[]), json!({"audio_generation": "Disabled"})),
        with(
            case("Hailuo", "H3", 0, false, &[]),
            json!({"duration": 13, "resolution": "4K", "aspect_ratio": "21:9"}),
        ),
        with(
            case("Hailuo", "H3-Max", 0, false, &["body.output_config.duration"]),
            json!({"duration": 16}),
        ),
        with(case("Hailuo", "H3-Max", 0, false, &[]), json!({"duration": 4})),
        case("Hailuo", "02", 2, false, &["body.file_infos"]),
        // Vidu: 1–10 s; 4:3 only on q2; last frame on q2-pro/q2-turbo.
        with(case("Vidu", "q2", 0, false, &[]), json!({"duration": 1, "aspect_ratio": "4:3"})),
        with(
            case("Vidu", "q3", 0, false, &["body.output_config.aspect_ratio"]),
            json!({"aspect_ratio": "4:3"}),
        ),
        with(
            case("Vidu", "q2-pro", 0, false, &["body.output_config.duration"]),
            json!({"duration": 11}),
        ),
        case("Vidu", "q2-turbo", 1, true, &[]),
        case("Vidu", "q2", 1, true, &["body.last_frame_url"]),
        case("Vidu", "q3-pro", 3, false, &[]),
        // GV: 8 s only; last frame yes but not with several images.
        with(
            case("GV", "3.1-fast", 0, false, &[]),
            json!({"duration": "8.0", "aspect_ratio": "9:16"}),
        ),
        with(case("GV", "3.1", 0, false, &["body.output_config.duration"]), json!({"duration": 5})),
        case("GV", "3.1", 1, true, &[]),
        case("GV", "3.1", 2, true, &["body.last_frame_url"]),
        case("GV", "3.1", 3, false, &[]),
        // OS: 4/8/12 s, 720P only, one image.
        with(case("OS", "2.0", 0, false, &[]), json!({"duration": 12})),
        with(
            case("OS", "2.0", 0, false, &["body.output_config.resolution"]),
            json!({"resolution": "1080P"}),
        ),
        case("OS", "2.0", 2, false, &["body.file_infos"]),
        case("OS", "2.0", 1, true, &["body.last_frame_url"]),
        // PixVerse: lower-case resolutions, eight aspect ratios.
        with(
            case("PixVerse", "v6", 0, false, &[]),
            json!({"resolution": "540p", "aspect_ratio": "3:2", "duration": 15}),
        ),
        with(
            case("PixVerse", "v5.6", 0, false, &["body.output_config.resolution"]),
            json!({"resolution": "720P"}),
        ),
        with(case("PixVerse", "c1", 0, false, &[]), json!({"duration": 1})),
        with(
            case("PixVerse", "c1", 0, false, &["body.output_config.duration"]),
            json!({"duration": 16}),
        ),
        // Hunyuan / Mingmou: only versions are documented.
        with(
            case("Hunyuan", "1.5", 0, false, &[]),
            json!({"duration": 7, "resolution": "whatever"}),
        ),
        case("Mingmou", "1.0", 0, false, &[]),
        case("Mingmou", "2.0", 0, false, &["body.model_version"]),
        // Unknown models are refused in strict mode.
        case("Jimeng", "3.0pro", 0, false, &["body.model_name"]),
        case("kling", "1.6", 0, false, &["body.model_name"]),
    ];
    for c in &cases {
        let mut got = run(c);
        got.sort();
        let mut want: Vec<String> = c.refused_at.iter().map(|s| s.to_string()).collect();
        want.sort();
        assert_eq!(
            got, want,
            "{} {} {:?} images={} last_frame={}",
            c.model, c.version, c.output, c.images, c.last_frame
        );
    }
}

#[test]
fn every_table_is_dated_and_has_versions_with_sane_defaults() {
    let models = &Catalog::built_in().models;
    assert_eq!(models.len(), 8);
    for t in models {
        assert_eq!(t.as_of.len(), 10, "{} as_of must be a YYYY-MM-DD date", t.name);
        assert_eq!(t.origin, Origin::BuiltIn);
        assert!(!t.versions.is_empty());
        for e in &t.versions {
            let (v, r) = (&e.name, &e.rules);
            assert!((1..=MAX_FILE_INFOS).contains(&r.max_images), "{} {v}", t.name);
            if let (Some(d), Durations::OneOf(set)) = (r.default_duration, &r.durations) {
                assert!(set.contains(&d), "{} {v} default duration not allowed", t.name);
            }
            if let (Some(d), Values::OneOf(set)) = (&r.default_resolution, &r.resolutions) {
                assert!(set.contains(d), "{} {v} default resolution not allowed", t.name);
            }
            if let (Some(d), Values::OneOf(set)) = (&r.default_aspect_ratio, &r.aspect_ratios) {
                assert!(set.contains(d), "{} {v} default aspect ratio not allowed", t.name);
            }
        }
    }
}

/// Reference mode: Kling and Vidu take up to 7 images; videos and audio references do not
/// count against it (a Kling O1 edit of one video with 7 reference images is one request).
#[test]
fn image_limits_count_images_and_not_video_or_audio_references() {
    let img = json!({"type": "Url", "url": "https://e.com/a.png", "usage": "Reference"});
    let video = json!({"type": "Url", "url": "https://e.com/v.mp4", "category": "Video", "usage": "Reference"});
    let audio = json!({"type": "Url", "url": "https://e.com/a.mp3", "category": "Audio", "usage": "Reference"});
    let body = |model: &str, version: &str, files: Vec<Value>| json!({"model_name": model, "model_version": version, "prompt": "p", "file_infos": files});
    let parse = |b: Value| parse_create_request(&b, &ParseOptions::default());
    let mut files = vec![img.clone(); 7];
    files.push(video);
    files.push(audio);
    assert!(parse(body("Kling", "O1", files.clone())).is_ok(), "7 images + a video + audio");
    files.push(img.clone());
    let err = parse(body("Kling", "O1", files)).unwrap_err();
    assert!(err[0].msg.contains("at most 7 input image(s), got 8"), "{err:?}");
    assert!(parse(body("PixVerse", "v6", vec![img.clone(); 7])).is_ok());
    assert!(parse(body("PixVerse", "v6", vec![img.clone(); 8])).is_err());
    assert!(parse(body("Vidu", "q2", vec![img.clone(); 7])).is_ok());
    let err = parse(body("Vidu", "q2", vec![img.clone(); 8])).unwrap_err();
    assert_eq!(err[0].path(), "body.file_infos");
    assert!(err[0].msg.contains("at most 7 input image(s), got 8"), "{err:?}");
    let err = parse(body("OS", "2.0", vec![img; 2])).unwrap_err();
    assert!(err[0].msg.contains("at most 1"), "{err:?}");
}

#[test]
fn errors_name_the_allowed_values_so_the_caller_can_fix_the_request() {
    let body = json!({"model_name":"OS","model_version":"2.0","prompt":"p","output_config":{"duration":5}});
    let e = parse_create_request(&body, &ParseOptions::default()).unwrap_err();
    assert!(e[0].msg.contains("4, 8, 12"), "{}", e[0].msg);
}

/// `rules.unknown_versions`: refused by default, naming the known versions; passed under
/// `pass` and then held to the model's family limits; an unknown model is refused either way
/// (only `strict_model_rules = false` passes it).
#[test]
fn an_unlisted_version_is_refused_or_held_to_its_familys_limits() {
    let body = |duration: i64| {
        json!({"model_name": "Kling", "model_version": "4.0", "prompt": "p",
               "output_config": {"duration": duration, "resolution": "1080P"}})
    };
    let refuse = ParseOptions::default();
    let pass = ParseOptions { unknown_versions: UnknownVersions::Pass, ..refuse.clone() };
    let err = parse_create_request(&body(10), &refuse).unwrap_err();
    assert_eq!(err[0].path(), "body.model_version", "{err:?}");
    assert!(err[0].msg.contains("3.0-turbo") && err[0].msg.contains("unknown_versions"), "{err:?}");
    let ok = parse_create_request(&body(10), &pass).unwrap();
    assert_eq!(ok.model_version(), "4.0");
    let err = parse_create_request(&body(16), &pass).unwrap_err();
    assert_eq!(err[0].path(), "body.output_config.duration", "{err:?}");
    assert!(err[0].msg.contains("3 to 15"), "{err:?}");
    // The family's limits also quote it: Kling's default 5 s when the body gives none.
    let mut short = body(5);
    short["output_config"] = json!({});
    let req = parse_create_request(&short, &pass).unwrap();
    let table = crate::pricing::PriceTable::new(Catalog::built_in(), Vec::new(), true);
    let q = crate::pricing::estimate(Catalog::built_in(), &req, &table, 1_790_000_000_000).unwrap();
    assert_eq!((q.seconds, q.resolution.as_deref()), (Some(5.0), Some("720P")));
    let unknown_model = json!({"model_name": "Jimeng", "model_version": "1.0", "prompt": "p"});
    let err = parse_create_request(&unknown_model, &pass).unwrap_err();
    assert_eq!(err[0].path(), "body.model_name", "{err:?}");
    assert!(parse_create_request(&unknown_model, &ParseOptions::LAX).is_ok());
}
