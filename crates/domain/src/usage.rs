//! `Usage`: what one request consumed, as the upstream reports it (Tencent's
//! `AigcVideoTask.Output.Usage`) or as the sandbox measures it, plus the output's shape the
//! price depends on. It is what a final cost is computed from.

use serde::{Deserialize, Serialize};

/// What a request used. Every figure is optional: an upstream reports what it reports, and
/// nothing is made up (a missing `output_seconds` makes the cost fall back to the estimate,
/// which is said in the cost's `basis`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    /// Seconds of video made (the priced quantity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_seconds: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_seconds: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_seconds: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_tokens: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thought_tokens: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_image_count: Option<i64>,
    /// The output's resolution (`1080P`), where known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<String>,
    /// Whether the output has sound.
    #[serde(default)]
    pub audio: bool,
}

impl Usage {
    /// Tencent's `Usage` object (`InputSeconds`, `OutputSeconds`, `TotalSeconds`,
    /// `InputTokens`, `ThoughtTokens`, `InputImageCount`); unknown or non-numeric fields are
    /// ignored. `None` when it holds none of them.
    pub fn from_tencent(raw: &serde_json::Value) -> Option<Usage> {
        let num = |k: &str| raw.get(k).and_then(serde_json::Value::as_f64);
        let int = |k: &str| raw.get(k).and_then(serde_json::Value::as_i64);
        let usage = Usage {
            output_seconds: num("OutputSeconds"),
            input_seconds: num("InputSeconds"),
            total_seconds: num("TotalSeconds"),
            input_tokens: int("InputTokens"),
            thought_tokens: int("ThoughtTokens"),
            input_image_count: int("InputImageCount"),
            resolution: None,
            audio: false,
        };
        (usage != Usage::default()).then_some(usage)
    }

    /// In Tencent's shape (`AigcVideoTask.Output.Usage`, whole numbers), for the
    /// Tencent-shaped query envelope: only the figures that are known.
    pub fn to_tencent(&self) -> serde_json::Value {
        let mut out = serde_json::Map::new();
        let secs = [
            ("OutputSeconds", self.output_seconds),
            ("InputSeconds", self.input_seconds),
            ("TotalSeconds", self.total_seconds),
        ];
        for (k, v) in secs {
            if let Some(v) = v {
                out.insert(k.into(), serde_json::json!(v.round() as i64));
            }
        }
        let counts = [
            ("InputTokens", self.input_tokens),
            ("ThoughtTokens", self.thought_tokens),
            ("InputImageCount", self.input_image_count),
        ];
        for (k, v) in counts {
            if let Some(v) = v {
                out.insert(k.into(), serde_json::json!(v));
            }
        }
        serde_json::Value::Object(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tencent_usage_keeps_its_numeric_fields_only() {
        let u = Usage::from_tencent(&json!({"OutputSeconds": 5, "InputImageCount": 1, "X": "y"}))
            .unwrap();
        assert_eq!(u.output_seconds, Some(5.0));
        assert_eq!(u.input_image_count, Some(1));
        assert_eq!(Usage::from_tencent(&json!({"OutputSeconds": "5"})), None);
        assert_eq!(Usage::from_tencent(&json!(null)), None);
    }
}
