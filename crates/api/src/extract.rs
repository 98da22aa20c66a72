//! Request extractors with the house error bodies: a JSON body (400 malformed, 413 too big),
//! the `logs` query flag, and request ids from the path.

use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde_json::Value;
use vidgate_domain::RequestId;

use crate::{ApiError, AppState};

/// The raw JSON body, parsed but not yet validated (validation needs the whole value to
/// report every problem at once), and its size in bytes.
pub struct JsonBody(pub Value, pub usize);

impl FromRequest<AppState> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request<Body>, state: &AppState) -> Result<Self, Self::Rejection> {
        let limit = state.config.max_body_bytes;
        let bytes = axum::body::to_bytes(req.into_body(), limit)
            .await
            .map_err(|_| ApiError::PayloadTooLarge { limit })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::BadRequest {
                detail: "the request body is empty; send a JSON object".into(),
                code: crate::ErrorCode::MalformedJson,
            });
        }
        serde_json::from_slice(&bytes).map(|v| JsonBody(v, bytes.len())).map_err(|e| {
            ApiError::BadRequest {
                detail: format!("malformed JSON: {e}"),
                code: crate::ErrorCode::MalformedJson,
            }
        })
    }
}

/// Query parameters with the house error (422 at `["query"]`, JSON) instead of axum's
/// plain-text 400: duplicate or undecodable parameters are the caller's input like any other.
pub struct QueryParams<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::try_from_uri(&parts.uri)
            .map(|q| QueryParams(q.0))
            .map_err(|e| ApiError::invalid(&["query"], "query_parsing", e.body_text()))
    }
}

/// `?logs=1|0|true|false` (fal's Python client sends `true`).
pub struct WantLogs(pub bool);

impl FromRequestParts<AppState> for WantLogs {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        let mut want = false;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            if k == "logs" {
                want = logs_flag(Some(v))?;
            }
        }
        Ok(WantLogs(want))
    }
}

/// `1`/`true`/`0`/`false` (or absent) for the `logs` query parameter: exactly the values the
/// OpenAPI document lists, so a client checked against it never meets a surprise.
pub fn logs_flag(value: Option<&str>) -> Result<bool, ApiError> {
    match value {
        None | Some("0" | "false") => Ok(false),
        Some("1" | "true") => Ok(true),
        Some(other) => Err(ApiError::invalid(
            &["query", "logs"],
            "bool_parsing",
            format!("logs must be 1, 0, true or false, got {other:?}"),
        )),
    }
}

/// A request id from the path. Anything that is not an id cannot name a request: 404.
pub fn parse_request_id(raw: &str) -> Result<RequestId, ApiError> {
    raw.parse().map_err(|_| ApiError::request_not_found())
}
