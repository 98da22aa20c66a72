//! A request's files: `GET`/`HEAD …/requests/{id}/content[?variant=video|cover]` and
//! `DELETE` of the same. Opened with the owner's key, or without one by the signed `token`
//! the result's URLs carry (valid for `media.url_ttl`, dies with the key). Files vidgate keeps
//! are streamed from the media store with `Range`, `ETag` (their SHA-256) and
//! `If-None-Match`, or, with `media.serve = "redirect"`, answered with a redirect to a
//! presigned object-store URL. A file vidgate does not keep redirects to the upstream's URL.
//! Another key's request is 404, as a missing one is.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use utoipa::IntoParams;
use vidgate_domain::Variant;
use vidgate_media::ObjectKey;
use vidgate_store::{MediaObject, TaskRecord};
use vidgate_wire::token::Grant;

use crate::auth::{ApiKey, authenticate, client_address, has_authorization};
use crate::extract::{QueryParams, parse_request_id};
use crate::{ApiError, AppState};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ContentParams {
    /// `video` (the default), `cover`; `video-2`, `cover-2`, … for further outputs.
    pub variant: Option<String>,
    /// The token of a URL from the result, instead of an `Authorization` header.
    pub token: Option<String>,
}

/// Where the media is served from: through vidgate, or by a redirect to the object store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServeMode {
    #[default]
    Proxy,
    Redirect,
}

fn variant_of(raw: Option<&str>) -> Result<Variant, ApiError> {
    match raw {
        None => Ok(Variant::VIDEO),
        Some(v) => v.parse().map_err(|e: vidgate_domain::BadVariant| {
            ApiError::invalid(&["query", "variant"], "value_error", e.to_string())
        }),
    }
}

/// The upstream's URL of a file vidgate does not keep, from the stored result.
fn upstream_url(task: &TaskRecord, variant: Variant) -> Option<String> {
    task.result()?.file(variant)?.external_url().map(str::to_owned)
}

fn content_headers(o: &MediaObject, variant: Variant) -> Result<HeaderMap, ApiError> {
    let bad = |e: axum::http::header::InvalidHeaderValue| ApiError::Internal(e.to_string());
    let mut h = HeaderMap::new();
    h.insert(header::ETAG, HeaderValue::from_str(&format!("\"{}\"", o.sha256)).map_err(bad)?);
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=3600"));
    let ct = HeaderValue::from_str(&o.content_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    h.insert(header::CONTENT_TYPE, ct);
    let ext = match o.content_type.as_str() {
        "video/mp4" => "mp4",
        "image/jpeg" => "jpg",
        "image/png" => "png",
        _ => "bin",
    };
    let disposition = format!("inline; filename=\"{}-{variant}.{ext}\"", o.request_id);
    h.insert(header::CONTENT_DISPOSITION, HeaderValue::from_str(&disposition).map_err(bad)?);
    Ok(h)
}

/// The one byte range asked for, if any (several ranges are answered whole, as RFC 9110
/// allows); `If-Range` with another ETag also gets the whole file.
fn wanted_range(
    headers: &HeaderMap,
    etag: &str,
    size: u64,
) -> Result<Option<std::ops::Range<u64>>, ApiError> {
    let Some(raw) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) else {
        return Ok(None);
    };
    if let Some(if_range) = headers.get(header::IF_RANGE).and_then(|v| v.to_str().ok())
        && if_range.trim() != etag
    {
        return Ok(None);
    }
    let unsatisfiable = || ApiError::RangeNotSatisfiable { size };
    let parsed = http_range_header::parse_range_header(raw).map_err(|_| unsatisfiable())?;
    let ranges = parsed.validate(size).map_err(|_| unsatisfiable())?;
    Ok(match ranges.as_slice() {
        [one] => Some(*one.start()..one.end() + 1),
        _ => None,
    })
}

async fn authorized_task(
    state: &AppState,
    headers: &HeaderMap,
    extensions: &axum::http::Extensions,
    id: vidgate_domain::RequestId,
    variant: Variant,
    token: Option<&str>,
) -> Result<TaskRecord, ApiError> {
    match token {
        Some(token) if !has_authorization(headers) => {
            let client = client_address(extensions);
            crate::auth::by_token(state, &client, Grant::Content(id, variant), token).await
        }
        _ => {
            let ApiKey(key, _) = authenticate(headers, extensions, state).await?;
            state.store.get_task(&key.id, id).await?.ok_or_else(ApiError::request_not_found)
        }
    }
}

/// A request's file (the video by default).
#[utoipa::path(
    get, path = "/tencent-vod/v1/aigc-video/requests/{request_id}/content", tag = "queue",
    params(("request_id" = String, Path, description = "The request id."), ContentParams,
        ("Range" = Option<String>, Header, description = "One byte range (`bytes=0-1023`)."),
        ("If-None-Match" = Option<String>, Header, description = "The `ETag` you hold: 304 if unchanged.")),
    responses(
        (status = 200, description = "The file (also answers `HEAD`): a video, or a cover image.",
            content((Vec<u8> = "video/mp4"), (Vec<u8> = "image/jpeg"), (Vec<u8> = "application/octet-stream"))),
        (status = 206, description = "The asked range (`Content-Range`).",
            content((Vec<u8> = "video/mp4"), (Vec<u8> = "image/jpeg"), (Vec<u8> = "application/octet-stream"))),
        (status = 304, description = "Not modified (`If-None-Match`)."),
        (status = 307, description = "`media.serve = \"redirect\"`: a presigned object-store URL; or the upstream's URL of a file vidgate does not keep."),
        (status = 401, description = "Missing, unknown or revoked API key, or a bad or expired token.", body = crate::openapi::ErrorBody),
        (status = 404, description = "No such request for this key, or it has no such file (yet).", body = crate::openapi::ErrorBody),
        (status = 410, description = "The file was deleted (its retention ended, or its owner deleted it).", body = crate::openapi::ErrorBody),
        (status = 416, description = "The range is outside the file (`Content-Range: bytes */<size>`).", body = crate::openapi::ErrorBody),
        (status = 422, description = "Unknown `variant` or query parameter.", body = crate::openapi::ValidationErrorBody),
        (status = 429, description = "Rate limit reached for this key or client address; see `Retry-After`.", body = crate::openapi::ErrorBody),
    ),
    security(("bearer" = []), ("key" = []), ())
)]
pub async fn get_content(
    State(state): State<AppState>,
    method: Method,
    headers: HeaderMap,
    extensions: axum::http::Extensions,
    Path(id): Path<String>,
    QueryParams(params): QueryParams<ContentParams>,
) -> Result<Response, ApiError> {
    let id = parse_request_id(&id)?;
    let variant = variant_of(params.variant.as_deref())?;
    let task = authorized_task(&state, &headers, &extensions, id, variant, params.token.as_deref())
        .await?;
    serve(&state, &method, &headers, &task, variant).await
}

/// Answers one file of a request the caller may read: from the media store (proxied with
/// `Range`/`ETag`, or redirected to a presigned URL), or redirected to the upstream's URL of
/// a file vidgate does not keep.
pub(crate) async fn serve(
    state: &AppState,
    method: &Method,
    headers: &HeaderMap,
    task: &TaskRecord,
    variant: Variant,
) -> Result<Response, ApiError> {
    let id = task.id;
    let name = variant.to_string();
    let objects = state.store.media_of(id).await?;
    let Some(object) = objects.into_iter().find(|o| o.variant == name) else {
        if let Some(url) = upstream_url(task, variant) {
            return Ok(Redirect::temporary(&url).into_response());
        }
        return Err(ApiError::NotFound(format!("request {id} has no {name} (yet)")));
    };
    if object.deleted_at.is_some() {
        return Err(ApiError::Gone(format!(
            "the {name} of request {id} was deleted (its retention ended, or its owner deleted it)"
        )));
    }
    let key = ObjectKey::parse(&object.object_key)
        .ok_or_else(|| ApiError::Internal(format!("bad object key {:?}", object.object_key)))?;
    let media = &state.config.media;
    if media.serve == ServeMode::Redirect {
        let url = media
            .store
            .presign(&key, media.url_ttl)
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        return Ok(Redirect::temporary(url.as_str()).into_response());
    }
    let mut response_headers = content_headers(&object, variant)?;
    let etag = format!("\"{}\"", object.sha256);
    let matches = |v: &str| v.split(',').any(|t| t.trim() == etag || t.trim() == "*");
    if headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).is_some_and(matches) {
        return Ok((StatusCode::NOT_MODIFIED, response_headers).into_response());
    }
    let size = u64::try_from(object.size).unwrap_or(0);
    let range = wanted_range(headers, &etag, size)?;
    let (status, length) = match &range {
        Some(r) => {
            let v = format!("bytes {}-{}/{size}", r.start, r.end - 1);
            let v = HeaderValue::from_str(&v).map_err(|e| ApiError::Internal(e.to_string()))?;
            response_headers.insert(header::CONTENT_RANGE, v);
            (StatusCode::PARTIAL_CONTENT, r.end - r.start)
        }
        None => (StatusCode::OK, size),
    };
    response_headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    if method == Method::HEAD {
        return Ok((status, response_headers).into_response());
    }
    let read =
        media.store.open_read(&key, range).await.map_err(|e| ApiError::Internal(e.to_string()))?;
    let Some(read) = read else {
        return Err(ApiError::Gone(format!(
            "the {name} of request {id} is missing from the media store"
        )));
    };
    Ok((status, response_headers, Body::from_stream(read.body)).into_response())
}

/// What a delete removed.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct DeletedMedia {
    pub request_id: String,
    /// The variants deleted now (`video`, `cover`, …); empty when nothing was kept.
    pub deleted: Vec<String>,
}

/// Deletes a request's kept files now (the request and its result stay; its media URLs
/// answer 410 from then on).
#[utoipa::path(
    delete, path = "/tencent-vod/v1/aigc-video/requests/{request_id}/content", tag = "queue",
    params(("request_id" = String, Path, description = "The request id.")),
    responses(
        (status = 200, description = "Deleted.", body = DeletedMedia),
        crate::openapi::Unauthorized,
        (status = 404, description = "No such request for this key.", body = crate::openapi::ErrorBody),
        crate::openapi::RateLimited,
    ),
    security(("bearer" = []), ("key" = []))
)]
pub async fn delete_content(
    State(state): State<AppState>,
    ApiKey(key, _): ApiKey,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_request_id(&id)?;
    state.store.get_task(&key.id, id).await?.ok_or_else(ApiError::request_not_found)?;
    let deleted = delete_media(&state, &key.id, id).await?;
    Ok(Json(DeletedMedia { request_id: id.to_string(), deleted }).into_response())
}

/// Deletes what vidgate keeps of a request of `key_id` (the caller has checked it is theirs):
/// the variants deleted now.
pub(crate) async fn delete_media(
    state: &AppState,
    key_id: &str,
    id: vidgate_domain::RequestId,
) -> Result<Vec<String>, ApiError> {
    let now = state.clock.now_ms();
    let mut deleted = Vec::new();
    for object in state.store.media_of(id).await? {
        if object.deleted_at.is_some() {
            continue;
        }
        if let Some(k) = ObjectKey::parse(&object.object_key) {
            // The object first: a crash after it leaves a row to delete again, never a row
            // that says deleted over a file that is still there.
            state
                .config
                .media
                .store
                .delete(&k)
                .await
                .map_err(|e| ApiError::Internal(e.to_string()))?;
        }
        if state.store.mark_media_deleted(id, &object.variant, now).await? {
            deleted.push(object.variant);
        }
    }
    let note = ObjectKey::render_note(key_id, id);
    let _ = state.config.media.store.delete(&note).await;
    metrics::counter!("vidgate_media_deleted_total", "reason" => "owner")
        .increment(deleted.len() as u64);
    Ok(deleted)
}
