//! The public base URL answers are built on: the configured one, else the request's own
//! scheme and host (`X-Forwarded-Proto`/`X-Forwarded-Host` from a proxy win over TLS/`Host`).

use axum::extract::FromRequestParts;
use axum::http::header::HOST;
use axum::http::request::Parts;

use crate::{ApiError, AppState};

#[derive(Debug, Clone)]
pub struct BaseUrl(pub String);

impl BaseUrl {
    pub fn join(&self, path: &str) -> String {
        format!("{}{}", self.0, path)
    }
}

/// Host names as they may appear in a Host header: letters, digits, `.-:[]` (IPv6, ports).
fn plausible_host(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 255
        && h.bytes().all(|b| b.is_ascii_alphanumeric() || b"-.:[]_".contains(&b))
}

fn first_value<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    let v = parts.headers.get(name)?.to_str().ok()?;
    v.split(',').next().map(str::trim).filter(|s| !s.is_empty())
}

impl FromRequestParts<AppState> for BaseUrl {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(url) = &state.config.public_url {
            return Ok(BaseUrl(url.trim_end_matches('/').to_owned()));
        }
        let scheme = match first_value(parts, "x-forwarded-proto") {
            Some(p) if p.eq_ignore_ascii_case("https") => "https",
            Some(p) if p.eq_ignore_ascii_case("http") => "http",
            _ if state.config.tls => "https",
            _ => "http",
        };
        let host = first_value(parts, "x-forwarded-host")
            .or_else(|| parts.headers.get(HOST).and_then(|h| h.to_str().ok()))
            .or_else(|| parts.uri.authority().map(|a| a.as_str()))
            .filter(|h| plausible_host(h))
            .ok_or(ApiError::BadRequest {
                detail: "missing or invalid Host header".into(),
                error_type: "bad_host",
            })?;
        Ok(BaseUrl(format!("{scheme}://{host}")))
    }
}
