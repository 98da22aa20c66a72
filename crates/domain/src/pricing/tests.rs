use serde_json::json;

use super::*;
use crate::models::{self, Catalog};
use crate::{ParseOptions, parse_create_request};

/// 2026-12-03T12:00:00Z
const AT: Millis = 1_796_299_200_000;

fn request(body: serde_json::Value) -> VideoRequest {
    parse_create_request(&body, &ParseOptions::default()).unwrap()
}

fn rule(model: &str, per_second: f64, from: &str) -> PriceRule {
    PriceRule {
        model: model.into(),
        version: None,
        resolution: None,
        audio: None,
        per_second: Credits::from_credits(per_second).unwrap(),
        per_request: Credits::ZERO,
        from: from.parse().unwrap(),
    }
}

#[test]
fn every_model_version_and_resolution_has_a_default_quote() {
    let table = PriceTable::new(Catalog::built_in(), vec![], true);
    for t in &Catalog::built_in().models {
        for e in &t.versions {
            let (version, rules) = (&e.name, &e.rules);
            let resolutions: Vec<Option<&str>> = match &rules.resolutions {
                models::Values::OneOf(rs) => rs.iter().map(|r| Some(r.as_str())).collect(),
                _ => vec![None],
            };
            for r in resolutions {
                let mut out = json!({});
                if let Some(r) = r {
                    out["resolution"] = json!(r);
                }
                if rules.default_duration.is_none()
                    && let models::Durations::OneOf(d) = &rules.durations
                {
                    out["duration"] = json!(d[0]);
                }
                let body = json!({"model_name": t.name, "model_version": version,
                    "prompt": "a cat", "output_config": out});
                let q = estimate(Catalog::built_in(), &request(body), &table, AT)
                    .unwrap_or_else(|e| panic!("{} {version} {r:?}: {e}", t.name));
                assert!(q.amount > Credits::ZERO, "{} {version} {r:?}", t.name);
            }
        }
    }
}

#[test]
fn the_quote_is_seconds_times_the_rate_of_the_resolution() {
    let table = PriceTable::new(Catalog::built_in(), vec![], true);
    let q = estimate(
        Catalog::built_in(),
        &request(json!({"model_name": "Kling", "model_version": "2.1", "prompt": "x",
            "output_config": {"duration": 10, "resolution": "1080P"}})),
        &table,
        AT,
    )
    .unwrap();
    assert_eq!(q.amount.to_string(), "2");
    assert_eq!(q.seconds, Some(10.0));
    // Left out: the model's default duration (5 s) and resolution (720P).
    let q = estimate(
        Catalog::built_in(),
        &request(json!({"model_name": "Kling", "model_version": "2.1", "prompt": "x"})),
        &table,
        AT,
    )
    .unwrap();
    assert_eq!((q.seconds, q.resolution.as_deref()), (Some(5.0), Some("720P")));
    assert_eq!(q.amount.to_string(), "0.5");
    // Sound costs more.
    let q = estimate(
        Catalog::built_in(),
        &request(json!({"model_name": "Kling", "model_version": "2.1", "prompt": "x",
            "output_config": {"audio_generation": "Enabled"}})),
        &table,
        AT,
    )
    .unwrap();
    assert_eq!(q.amount.to_string(), "0.75");
}

#[test]
fn the_most_specific_then_latest_row_applies_and_dates_are_respected() {
    let mut newer = rule("Kling", 9.0, "2026-12-04");
    newer.version = Some("2.1".into());
    let table =
        PriceTable::new(Catalog::built_in(), vec![rule("kling", 1.0, "2026-06-01"), newer], false);
    let body = json!({"model_name": "Kling", "model_version": "2.1", "prompt": "x"});
    // The version-specific row starts tomorrow: today the general row applies.
    assert_eq!(
        estimate(Catalog::built_in(), &request(body.clone()), &table, AT)
            .unwrap()
            .amount
            .to_string(),
        "5"
    );
    let tomorrow = AT + 86_400_000;
    assert_eq!(
        estimate(Catalog::built_in(), &request(body), &table, tomorrow).unwrap().amount.to_string(),
        "45"
    );
}

#[test]
fn no_row_or_no_length_is_said_not_guessed() {
    let table = PriceTable::new(Catalog::built_in(), vec![rule("Kling", 1.0, "2026-01-01")], false);
    let hailuo = json!({"model_name": "Hailuo", "model_version": "02", "prompt": "x"});
    assert!(matches!(
        estimate(Catalog::built_in(), &request(hailuo), &table, AT),
        Err(PricingError::NoPrice { .. })
    ));
    let table =
        PriceTable::new(Catalog::built_in(), vec![rule("Hunyuan", 1.0, "2026-01-01")], false);
    let hunyuan = json!({"model_name": "Hunyuan", "model_version": "1.5", "prompt": "x"});
    let err = estimate(Catalog::built_in(), &request(hunyuan), &table, AT).unwrap_err();
    assert!(matches!(err, PricingError::NoDuration { .. }));
    let fe = err.field_error().unwrap();
    assert_eq!(
        serde_json::to_value(&fe.loc).unwrap(),
        json!(["body", "output_config", "duration"])
    );
}

#[test]
fn the_cost_uses_recorded_seconds_and_falls_back_to_the_quote() {
    let table = PriceTable::new(Catalog::built_in(), vec![], true);
    let q = estimate(
        Catalog::built_in(),
        &request(json!({"model_name": "Kling", "model_version": "2.1", "prompt": "x",
            "output_config": {"duration": 10}})),
        &table,
        AT,
    )
    .unwrap();
    let used = Usage { output_seconds: Some(6.0), ..Usage::default() };
    let c = cost(&q, Some(&used));
    assert_eq!((c.amount.to_string().as_str(), c.basis), ("0.6", CostBasis::Usage));
    let c = cost(&q, None);
    assert_eq!((c.amount, c.basis), (q.amount, CostBasis::Estimate));
}

#[test]
fn a_cost_never_exceeds_the_quote_and_says_what_it_left_uncharged() {
    let table = PriceTable::new(Catalog::built_in(), vec![], true);
    let q = estimate(
        Catalog::built_in(),
        &request(json!({"model_name": "Kling", "model_version": "2.1", "prompt": "x",
            "output_config": {"duration": 5}})),
        &table,
        AT,
    )
    .unwrap();
    assert_eq!(q.amount.to_string(), "0.5");
    // The upstream reports 7 s of a 5 s request: charged the quote, 0.2 over it left.
    let longer = Usage { output_seconds: Some(7.0), ..Usage::default() };
    let c = cost(&q, Some(&longer));
    assert_eq!(c.amount, q.amount);
    assert_eq!(c.uncharged.map(|u| u.to_string()), Some("0.2".to_owned()));
    assert_eq!(c.seconds, Some(7.0), "the seconds reported are kept");
    // Within the quote: nothing left over.
    let shorter = Usage { output_seconds: Some(5.0), ..Usage::default() };
    assert_eq!(cost(&q, Some(&shorter)).uncharged, None);
}
