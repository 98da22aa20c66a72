//! The body of `POST /v1/videos`, as JSON or as `multipart/form-data` (openai-python always
//! sends multipart; `extra_body` fields arrive as bracketed names, `output_config[duration]`),
//! turned into one JSON object, with the `input_reference` file when one was uploaded.

use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::header::CONTENT_TYPE;
use bytes::Bytes;
use serde_json::{Map, Value};

use crate::{ApiError, AppState};

/// The largest multipart body: an uploaded reference image of up to 10 MiB (the sandbox's
/// default `max_input_bytes`) and 1 MiB of fields (the JSON body's default limit). Each
/// request holds its upload in memory until it is stored, so this bounds that too.
pub const MULTIPART_MAX_BYTES: usize = 11 * 1024 * 1024;

/// An uploaded reference image.
pub struct Upload {
    pub bytes: Bytes,
    pub content_type: String,
}

/// The create's fields and its upload, and the body's size (for per-key body limits).
pub struct CreateForm {
    pub fields: Map<String, Value>,
    pub upload: Option<Upload>,
    pub size: usize,
}

fn malformed(detail: impl Into<String>) -> ApiError {
    ApiError::BadRequest { detail: detail.into(), error_type: "malformed_body" }
}

/// A multipart body that broke off or ran over `MULTIPART_MAX_BYTES`.
fn multipart_failed(status: axum::http::StatusCode, text: String) -> ApiError {
    if status == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::PayloadTooLarge { limit: MULTIPART_MAX_BYTES };
    }
    malformed(format!("malformed multipart body: {text}"))
}

pub async fn read(request: Request<Body>, state: &AppState) -> Result<CreateForm, ApiError> {
    let content_type = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if content_type.starts_with("multipart/form-data") {
        let multipart = Multipart::from_request(request, state)
            .await
            .map_err(|e| multipart_failed(e.status(), e.body_text()))?;
        return read_multipart(multipart).await;
    }
    let crate::extract::JsonBody(value, size) =
        crate::extract::JsonBody::from_request(request, state).await?;
    match value {
        Value::Object(fields) => Ok(CreateForm { fields, upload: None, size }),
        _ => Err(malformed("the body must be a JSON object")),
    }
}

async fn read_multipart(mut multipart: Multipart) -> Result<CreateForm, ApiError> {
    let mut fields = Map::new();
    let mut upload = None;
    let mut size = 0;
    loop {
        let field = multipart
            .next_field()
            .await
            .map_err(|e| multipart_failed(e.status(), e.body_text()))?;
        let Some(field) = field else { break };
        let name = field.name().unwrap_or("").to_owned();
        let is_file = field.file_name().is_some();
        let content_type = field.content_type().map(str::to_owned);
        let bytes = field.bytes().await.map_err(|e| multipart_failed(e.status(), e.body_text()))?;
        if is_file {
            if name != "input_reference" {
                return Err(ApiError::invalid(
                    &["body", &name],
                    "value_error",
                    format!("only input_reference may be a file, not {name:?}"),
                ));
            }
            let content_type = content_type.unwrap_or_else(|| "application/octet-stream".into());
            upload = Some(Upload { bytes, content_type });
            continue;
        }
        size += bytes.len();
        let text = String::from_utf8(bytes.to_vec()).map_err(|_| {
            ApiError::invalid(&["body", &name], "string_type", "form fields must be UTF-8 text")
        })?;
        insert(&mut fields, &name, text)?;
    }
    Ok(CreateForm { fields, upload, size })
}

/// The path of a bracketed form name: `a[b][c]` → `a`, `b`, `c`; `a[]` appends to an array.
fn path_of(name: &str) -> Option<Vec<&str>> {
    let (head, mut rest) = match name.find('[') {
        Some(i) => (&name[..i], &name[i..]),
        None => (name, ""),
    };
    if head.is_empty() {
        return None;
    }
    let mut path = vec![head];
    while !rest.is_empty() {
        let inner = rest.strip_prefix('[')?;
        let close = inner.find(']')?;
        path.push(&inner[..close]);
        rest = &inner[close + 1..];
    }
    Some(path)
}

/// Form values are text; these fields of the seed's body are numbers.
const NUMERIC: &[&str] = &["duration", "seed"];

fn insert(fields: &mut Map<String, Value>, name: &str, text: String) -> Result<(), ApiError> {
    let bad = || {
        ApiError::invalid(
            &["body", name],
            "value_error",
            format!("form field name {name:?} is not a name or a bracketed path (a[b])"),
        )
    };
    let path = path_of(name).ok_or_else(bad)?;
    let (leaf, parents) = path.split_last().ok_or_else(bad)?;
    let value = match text.parse::<f64>() {
        Ok(n) if NUMERIC.contains(leaf) || NUMERIC.contains(parents.last().unwrap_or(&"")) => {
            serde_json::Number::from_f64(n).map_or(Value::String(text), Value::Number)
        }
        _ => Value::String(text),
    };
    let mut at = fields;
    for (i, key) in parents.iter().enumerate() {
        let next_is_array = path.get(i + 1) == Some(&"");
        let slot = at.entry(key.to_string()).or_insert_with(|| {
            if next_is_array { Value::Array(vec![]) } else { Value::Object(Map::new()) }
        });
        match slot {
            Value::Object(map) => at = map,
            Value::Array(items) if next_is_array && i + 2 == path.len() => {
                items.push(value);
                return Ok(());
            }
            _ => return Err(bad()),
        }
    }
    if leaf.is_empty() {
        return Err(bad());
    }
    at.insert(leaf.to_string(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bracketed_names_nest_and_numbers_are_numbers_only_where_the_seed_wants_them() {
        let mut f = Map::new();
        insert(&mut f, "prompt", "12".into()).unwrap();
        insert(&mut f, "seconds", "8".into()).unwrap();
        insert(&mut f, "output_config[duration]", "5".into()).unwrap();
        insert(&mut f, "output_config[audio_generation]", "Enabled".into()).unwrap();
        insert(&mut f, "input_reference[image_url]", "https://x/a.png".into()).unwrap();
        insert(&mut f, "tags[]", "a".into()).unwrap();
        insert(&mut f, "tags[]", "b".into()).unwrap();
        assert_eq!(
            Value::Object(f),
            json!({
                "prompt": "12", "seconds": "8",
                "output_config": {"duration": 5.0, "audio_generation": "Enabled"},
                "input_reference": {"image_url": "https://x/a.png"},
                "tags": ["a", "b"],
            })
        );
    }

    proptest::proptest! {
        /// Any field names and values, in any order: an object or a 4xx, never a panic.
        #[test]
        fn any_form_fields_nest_or_are_refused(
            fields in proptest::collection::vec(("[a-z\\[\\]]{0,12}", ".{0,8}"), 0..12)
        ) {
            let mut f = Map::new();
            for (name, value) in fields {
                if let Err(e) = insert(&mut f, &name, value) {
                    proptest::prop_assert!(e.status_code().is_client_error());
                }
            }
        }
    }

    #[test]
    fn malformed_names_are_refused_not_guessed() {
        for name in ["", "[a]", "a[b", "a[b]c", "a[][b]"] {
            let mut f = Map::new();
            assert!(insert(&mut f, name, "x".into()).is_err(), "{name:?}");
        }
        let mut f = Map::new();
        insert(&mut f, "a", "x".into()).unwrap();
        assert!(insert(&mut f, "a[b]", "y".into()).is_err(), "a is text, not an object");
    }
}
