//! The public base URL answers are built on: the configured one, else the request's own
//! scheme and host. `X-Forwarded-Proto`/`X-Forwarded-Host` win over TLS/`Host` only when the
//! connection comes from a configured trusted proxy (`server.trusted_proxies`, none by
//! default): from anyone else they would let a client choose the links in answers, and the
//! base stored for the request's webhooks.

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

/// Whether the connection's peer is a trusted proxy, whose forwarded headers count.
fn from_trusted_proxy(parts: &Parts, state: &AppState) -> bool {
    let trusted = &state.config.trusted_proxies;
    !trusted.is_empty()
        && parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .is_some_and(|c| trusted.contains(c.0.ip()))
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
        let proxied = from_trusted_proxy(parts, state);
        let forwarded = |name| if proxied { first_value(parts, name) } else { None };
        let scheme = match forwarded("x-forwarded-proto") {
            Some(p) if p.eq_ignore_ascii_case("https") => "https",
            Some(p) if p.eq_ignore_ascii_case("http") => "http",
            _ if state.config.tls => "https",
            _ => "http",
        };
        let host = forwarded("x-forwarded-host")
            .or_else(|| parts.headers.get(HOST).and_then(|h| h.to_str().ok()))
            .or_else(|| parts.uri.authority().map(|a| a.as_str()))
            .filter(|h| plausible_host(h))
            .ok_or(ApiError::BadRequest {
                detail: "missing or invalid Host header".into(),
                code: crate::ErrorCode::BadHost,
            })?;
        Ok(BaseUrl(format!("{scheme}://{host}")))
    }
}
