//! Route handlers, one module per resource. Each is extract → store → view, no SQL.

pub mod admin;
pub mod callbacks;
pub mod cancel;
pub mod content;
pub mod create;
pub(crate) mod create_input;
pub mod dashboard;
pub mod estimate;
pub mod list;
pub mod models;
pub mod ops;
pub mod query;
pub mod status;
pub mod stream;
pub mod usage;
pub mod wait;
pub mod webhook;

use axum::http::{HeaderMap, HeaderValue};
use vidgate_domain::RequestId;

/// Id of this HTTP call (set by the request-id layer), for `Response.RequestId`.
pub fn http_request_id(headers: &HeaderMap) -> String {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// fal's clients read the request id from this header.
pub fn fal_request_id(id: RequestId) -> (&'static str, HeaderValue) {
    (
        "x-fal-request-id",
        HeaderValue::from_str(&id.to_string()).unwrap_or(HeaderValue::from_static("")),
    )
}
