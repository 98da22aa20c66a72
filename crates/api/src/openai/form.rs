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

/// The most fields a form may carry. The seed's body has about 40 leaves; a form far beyond
/// that is not a create.
pub const MAX_FIELDS: usize = 256;
/// The longest field name, in bytes.
pub const MAX_NAME_BYTES: usize = 256;
/// The deepest bracketed path a name may spell (`a[b][c]` is 3). The seed's body nests 3
/// deep (`file_infos[][url]`); every level is a JSON object that walking or dropping recurses
/// into, so an unbounded depth (`extra` and 20,000 `[x]`) would overflow the stack.
pub const MAX_NAME_DEPTH: usize = 8;

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
    ApiError::BadRequest { detail: detail.into(), code: crate::ErrorCode::MalformedBody }
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
    let mut fields_seen = 0;
    loop {
        let field = multipart
            .next_field()
            .await
            .map_err(|e| multipart_failed(e.status(), e.body_text()))?;
        let Some(field) = field else { break };
        fields_seen += 1;
        if fields_seen > MAX_FIELDS {
            return Err(ApiError::invalid(
                &["body"],
                "value_error",
                format!("a form may have at most {MAX_FIELDS} fields"),
            ));
        }
        let name = field.name().unwrap_or("").to_owned();
        check_name(&name)?;
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

/// A name for error messages: at most 64 characters of it (the name itself may be long).
fn shown(name: &str) -> String {
    match name.char_indices().nth(64) {
        Some((end, _)) => format!("{}…", &name[..end]),
        None => name.to_owned(),
    }
}

/// Refuses a field name that is too long or nests too deep, before anything is built from it.
fn check_name(name: &str) -> Result<(), ApiError> {
    let short = shown(name);
    if name.len() > MAX_NAME_BYTES {
        return Err(ApiError::invalid(
            &["body", &short],
            "value_error",
            format!("form field name {short:?} is longer than {MAX_NAME_BYTES} bytes"),
        ));
    }
    if name.matches('[').count() >= MAX_NAME_DEPTH {
        return Err(ApiError::invalid(
            &["body", &short],
            "value_error",
            format!("form field name {short:?} nests deeper than {MAX_NAME_DEPTH} levels"),
        ));
    }
    Ok(())
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
    check_name(name)?;
    let bad = || {
        let name = shown(name);
        ApiError::invalid(
            &["body", &name],
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

    /// A multipart body with these text fields (names as given, however hostile).
    fn multipart_body(fields: &[(String, String)]) -> Request<Body> {
        let boundary = "vidgate-test-boundary";
        let mut body = String::new();
        for (name, value) in fields {
            body.push_str(&format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            ));
        }
        body.push_str(&format!("--{boundary}--\r\n"));
        Request::builder()
            .method("POST")
            .header(CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}"))
            .body(Body::from(body))
            .expect("a request")
    }

    /// What the multipart reader makes of `fields`: the form, or the error's status.
    fn read_form(fields: &[(String, String)]) -> Result<Map<String, Value>, u16> {
        let runtime = tokio::runtime::Builder::new_current_thread().build().expect("a runtime");
        runtime.block_on(async {
            let multipart =
                Multipart::from_request(multipart_body(fields), &()).await.expect("multipart");
            read_multipart(multipart).await.map(|f| f.fields).map_err(|e| e.status_code().as_u16())
        })
    }

    #[test]
    fn a_name_nested_twenty_thousand_deep_is_refused_before_anything_is_built() {
        let name = format!("extra{}", "[x]".repeat(20_000));
        assert_eq!(read_form(&[(name, "1".into())]), Err(422));
        let deep = format!("extra{}", "[x]".repeat(MAX_NAME_DEPTH));
        assert_eq!(read_form(&[(deep, "1".into())]), Err(422));
        let ok = format!("extra{}", "[x]".repeat(MAX_NAME_DEPTH - 1));
        assert!(read_form(&[(ok, "1".into())]).is_ok());
        let long = "n".repeat(MAX_NAME_BYTES + 1);
        assert_eq!(read_form(&[(long, "1".into())]), Err(422));
        let many: Vec<_> = (0..=MAX_FIELDS).map(|i| (format!("f{i}"), "v".into())).collect();
        assert_eq!(read_form(&many), Err(422));
    }

    use proptest::prelude::Strategy;

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// Hostile forms through the real multipart reader: names of any length and depth,
        /// brackets anywhere, many fields. An object no deeper than the limit, or a 4xx;
        /// never a panic or a stack overflow (the result is walked and dropped here).
        #[test]
        fn hostile_multipart_forms_are_read_or_refused(
            fields in proptest::collection::vec(
                (
                    proptest::prop_oneof![
                        "[a-z\\[\\]]{0,40}",
                        (1usize..5_000).prop_map(|n| format!("a{}", "[b]".repeat(n))),
                        (1usize..3).prop_map(|n| format!("a{}", "[]".repeat(n))),
                        (200usize..2_000).prop_map(|n| "x".repeat(n)),
                    ],
                    ".{0,16}",
                ),
                0..300,
            )
        ) {
            use proptest::prop_assert;
            let fields: Vec<(String, String)> = fields
                .into_iter()
                .map(|(n, v)| (n, v.replace(['\r', '\n'], " ")))
                .collect();
            match read_form(&fields) {
                Ok(form) => {
                    fn depth(v: &Value) -> usize {
                        match v {
                            Value::Object(m) => 1 + m.values().map(depth).max().unwrap_or(0),
                            Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
                            _ => 0,
                        }
                    }
                    prop_assert!(depth(&Value::Object(form)) <= MAX_NAME_DEPTH);
                }
                Err(status) => prop_assert!((400..500).contains(&status), "status {status}"),
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
