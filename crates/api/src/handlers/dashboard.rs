//! `/dashboard`: the web page for people (paste a key, watch requests live, play results,
//! submit, cancel; with an admin key, manage keys, budgets and top-ups). Its files are compiled into the binary, so a deployment is the one
//! executable; they are plain HTML/CSS/JS talking to the public API with the pasted key.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, IF_NONE_MATCH, REFERRER_POLICY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use sha2::{Digest, Sha256};

use crate::ApiError;

/// Scripts and styles only from vidgate itself; media from anywhere (upstream results live on
/// the provider's CDN); the API only on this origin.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                   img-src * data: blob:; media-src * blob:; base-uri 'none'; form-action 'none'; \
                   frame-ancestors 'none'";

struct Asset {
    body: &'static str,
    content_type: &'static str,
    etag: String,
}

fn asset(body: &'static str, content_type: &'static str) -> Asset {
    let etag = format!("\"{}\"", &hex::encode(Sha256::digest(body.as_bytes()))[..16]);
    Asset { body, content_type, etag }
}

static INDEX: LazyLock<Asset> =
    LazyLock::new(|| asset(include_str!("../../dashboard/index.html"), "text/html; charset=utf-8"));
static SCRIPT: LazyLock<Asset> = LazyLock::new(|| {
    asset(include_str!("../../dashboard/app.js"), "text/javascript; charset=utf-8")
});
static ADMIN: LazyLock<Asset> = LazyLock::new(|| {
    asset(include_str!("../../dashboard/admin.js"), "text/javascript; charset=utf-8")
});
static STYLE: LazyLock<Asset> =
    LazyLock::new(|| asset(include_str!("../../dashboard/app.css"), "text/css; charset=utf-8"));

/// Serves an asset; revalidated on every load (`no-cache` + ETag) so an upgrade shows at once.
fn serve(asset: &Asset, headers: &HeaderMap) -> Response {
    let fresh = headers
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|t| t.trim() == asset.etag));
    let common = [
        (CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (ETAG, HeaderValue::from_str(&asset.etag).expect("hex etag")),
        (CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP)),
        (X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        (X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
    ];
    if fresh {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    (common, [(CONTENT_TYPE, asset.content_type)], asset.body).into_response()
}

pub async fn page(headers: HeaderMap) -> Response {
    serve(&INDEX, &headers)
}

/// `/dashboard/`: the page's relative asset paths need the slash-less URL.
pub async fn slash() -> Redirect {
    Redirect::permanent("../dashboard")
}

pub async fn file(Path(name): Path<String>, headers: HeaderMap) -> Response {
    match name.as_str() {
        "app.js" => serve(&SCRIPT, &headers),
        "admin.js" => serve(&ADMIN, &headers),
        "app.css" => serve(&STYLE, &headers),
        _ => ApiError::NotFound(format!("the dashboard has no file {name:?}")).into_response(),
    }
}
