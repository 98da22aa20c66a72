//! OpenAI's error shape for the `/v1` routes: `{"error": {"message", "type", "param", "code"}}`
//! with OpenAI's status codes. Handlers return the house `ApiError` like every other route;
//! this layer re-renders what it said (its `ErrorView`), so one error type serves both
//! protocols and nothing is said twice.

use axum::Json;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::{ErrorCode, ErrorView};

/// The OpenAI parameter a validation problem is about: the seed's fields the `/v1` create
/// maps onto are named by the OpenAI field the caller sent.
pub fn param_of(loc: &[String]) -> Option<String> {
    let path: Vec<&str> = loc.iter().map(String::as_str).collect();
    let field = match path.as_slice() {
        ["body", "output_config", "duration", ..] => "seconds",
        ["body", "output_config", "resolution" | "aspect_ratio", ..] => "size",
        ["body", "model" | "model_name" | "model_version", ..] => "model",
        ["body", "prompt", ..] => "prompt",
        ["body", "file_infos" | "last_frame_url" | "input_reference", ..] => "input_reference",
        ["body", "seconds" | "size", ..] => path[1],
        ["query", name, ..] => name,
        ["body"] | [] => return None,
        ["body", rest @ ..] => return Some(rest.join(".")),
        [kind, rest @ ..] => return Some(format!("{kind}.{}", rest.join("."))),
    };
    Some(field.to_owned())
}

/// OpenAI's status, `type` and `code` for a house error.
fn classify(status: StatusCode, view: &ErrorView) -> (StatusCode, &'static str, String) {
    let code = view.code.as_str().to_owned();
    match view.code {
        ErrorCode::ValidationError | ErrorCode::MalformedJson => {
            (StatusCode::BAD_REQUEST, "invalid_request_error", "invalid_value".into())
        }
        ErrorCode::Unauthorized => (status, "invalid_request_error", "invalid_api_key".into()),
        ErrorCode::BudgetExceeded => {
            (StatusCode::TOO_MANY_REQUESTS, "insufficient_quota", "insufficient_quota".into())
        }
        _ if status == StatusCode::TOO_MANY_REQUESTS => (status, "requests", code),
        _ if status.is_server_error() => (status, "server_error", code),
        _ => (status, "invalid_request_error", code),
    }
}

/// Re-renders house errors of the routes it wraps in OpenAI's shape; headers (Retry-After,
/// WWW-Authenticate) stay.
pub async fn reshape(request: Request<Body>, next: Next) -> Response {
    let response = next.run(request).await;
    let Some(view) = response.extensions().get::<ErrorView>().cloned() else { return response };
    let (status, kind, code) = classify(response.status(), &view);
    let param = view.loc.as_deref().and_then(param_of);
    let (mut parts, _) = response.into_parts();
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    let body =
        json!({"error": {"message": view.message, "type": kind, "param": param, "code": code}});
    let mut reshaped = (status, Json(body)).into_response();
    for (name, value) in parts.headers.iter() {
        if name != axum::http::header::CONTENT_TYPE {
            reshaped.headers_mut().insert(name.clone(), value.clone());
        }
    }
    reshaped
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loc(parts: &[&str]) -> Vec<String> {
        parts.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn seed_locations_are_named_by_the_openai_field_sent() {
        let cases = [
            (&["body", "output_config", "duration"][..], Some("seconds")),
            (&["body", "output_config", "resolution"], Some("size")),
            (&["body", "output_config", "aspect_ratio"], Some("size")),
            (&["body", "model_version"], Some("model")),
            (&["body", "file_infos", "0", "url"], Some("input_reference")),
            (
                &["body", "output_config", "audio_generation"],
                Some("output_config.audio_generation"),
            ),
            (&["query", "limit"], Some("limit")),
            (&["header", "prefer"], Some("header.prefer")),
            (&["body"], None),
        ];
        for (l, want) in cases {
            assert_eq!(param_of(&loc(l)).as_deref(), want, "{l:?}");
        }
    }
}
