//! The `/v1` handlers: create, retrieve, list, delete and content of videos, and the model
//! list. Each reads and writes the same queue and store as the fal routes.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use vidgate_domain::RequestId;
use vidgate_domain::Variant;
use vidgate_store::{ListQuery, TaskRecord};

use super::video::{VideoObject, video_object};
use super::{create, form};
use crate::auth::{ApiKey, CreatorKey};
use crate::base_url::BaseUrl;
use crate::extract::{QueryParams, parse_request_id};
use crate::handlers::create_input::{CreateInput, OpenAiCreate};
use crate::handlers::{content, create as fal_create, wait};
use crate::{ApiError, AppState};

async fn object_of(state: &AppState, task: &TaskRecord) -> Result<VideoObject, ApiError> {
    let media = state.store.media_of(task.id).await?;
    Ok(video_object(state, task, &media))
}

async fn own_task(
    state: &AppState,
    key_id: &vidgate_domain::KeyId,
    raw: &str,
) -> Result<TaskRecord, ApiError> {
    let id = parse_request_id(raw).map_err(|_| video_not_found(raw))?;
    tracing::Span::current().record("request_id", tracing::field::display(id));
    state.store.get_task(key_id, id).await?.ok_or_else(|| video_not_found(raw))
}

fn video_not_found(raw: &str) -> ApiError {
    ApiError::NotFound(format!("no video {raw:?} for this key"))
}

/// Create a video (OpenAI's `POST /v1/videos`): JSON, or multipart with `input_reference` as
/// a file. `Prefer: wait` holds the call as on the fal route (200 once done, 202 otherwise);
/// without it OpenAI's 200 with the queued video.
#[utoipa::path(
    post, path = "/v1/videos", tag = "openai", operation_id = "create_video",
    request_body(content = super::doc::CreateVideoBody, content_type = "application/json"),
    params(("Idempotency-Key" = Option<String>, Header, description = "Same key and body within 24 h return the original video.")),
    responses(
        (status = 200, description = "Accepted and committed: the video, `queued`.", body = VideoObject),
        (status = 400, description = "An invalid field (`param` names it), or a size, length or model the provider cannot make.", body = super::doc::OpenAiErrorBody),
        super::doc::OpenAiUnauthorized,
        (status = 409, description = "`session_id` reused by this key within 3 days.", body = super::doc::OpenAiErrorBody),
        (status = 413, description = "Body larger than the configured limit.", body = super::doc::OpenAiErrorBody),
        (status = 429, description = "Rate or queue limit (`type: requests`), or the key's budget cannot cover it (`insufficient_quota`).", body = super::doc::OpenAiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn create_video(
    State(state): State<AppState>,
    CreatorKey(key, _): CreatorKey,
    base: BaseUrl,
    headers: HeaderMap,
    request: Request<Body>,
) -> Result<Response, ApiError> {
    let wait = wait::prefer_wait(&headers)?;
    let form = form::read(request, &state).await?;
    // A replay with the same Idempotency-Key uploads the same bytes under a new id: the
    // fingerprint sees the upload by its content.
    let upload_sha = form.upload.as_ref().map(|u| create::content_id(&u.bytes));
    let fingerprint = fal_create::fingerprint(
        &json!({"fields": form.fields, "upload": upload_sha}),
        &headers,
        None,
    )?;
    let (upload_id, upload_file) = match form.upload {
        Some(upload) => {
            let (id, file_id) = create::keep_upload(&state, &key, upload).await?;
            (Some(id), Some(file_id))
        }
        None => (None, None),
    };
    let fields = Value::Object(form.fields);
    let upload_file_id = upload_file.clone();
    let models = state.models();
    let accepted = match CreateInput::try_from(OpenAiCreate {
        state: &state,
        models: &models,
        fields: &fields,
        upload_file_id,
    }) {
        Ok(input) => {
            let (key, base, headers) = (&key, &base, &headers);
            let call =
                fal_create::CreateCall { key, base, headers, input, size: form.size, fingerprint };
            fal_create::accept(&state, call).await
        }
        Err(e) => Err(e),
    };
    let (task, _) = match accepted {
        Ok(accepted) => accepted,
        Err(e) => {
            // Nothing was queued: the upload goes too (retention would sweep it anyway).
            if let Some(id) = upload_id {
                let _ = content::delete_media(&state, &key.id, id).await;
            }
            return Err(e);
        }
    };
    let used = task.request.file_infos().first().and_then(|f| f.file_id.clone());
    if let Some(id) = upload_id
        && used != upload_file
    {
        // A replay: the original request uses the upload it came with.
        let _ = content::delete_media(&state, &key.id, id).await;
    }
    let (task, code) = match wait {
        Some(wait) => {
            let task = wait::until_done(&state, &key.id, task, wait).await;
            let code =
                if task.state().is_terminal() { StatusCode::OK } else { StatusCode::ACCEPTED };
            (task, code)
        }
        None => (task, StatusCode::OK),
    };
    let object = object_of(&state, &task).await?;
    let mut response = (code, Json(object)).into_response();
    if let Some(wait) = wait {
        let (name, value) = wait::preference_applied(wait);
        response.headers_mut().insert(name, value);
    }
    Ok(response)
}

/// A video (OpenAI's `GET /v1/videos/{id}`); the id is the request id of fal's routes too.
#[utoipa::path(
    get, path = "/v1/videos/{video_id}", tag = "openai", operation_id = "retrieve_video",
    params(("video_id" = String, Path, description = "The video's id (its request id).")),
    responses(
        (status = 200, description = "The video.", body = VideoObject),
        super::doc::OpenAiUnauthorized,
        (status = 404, description = "No such video for this key.", body = super::doc::OpenAiErrorBody),
        (status = 429, description = "Rate limit reached for this key; see `Retry-After`.", body = super::doc::OpenAiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn retrieve_video(
    State(state): State<AppState>,
    ApiKey(key, _): ApiKey,
    Path(id): Path<String>,
) -> Result<Json<VideoObject>, ApiError> {
    let task = own_task(&state, &key.id, &id).await?;
    object_of(&state, &task).await.map(Json)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// The `last_id` of the previous page.
    pub after: Option<String>,
    /// Videos per page, 1–100; default 20.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
    /// `desc` (newest first, the default) or `asc`.
    #[param(pattern = "^(asc|desc)$")]
    pub order: Option<String>,
}

/// One page of videos.
#[derive(Debug, Serialize, ToSchema)]
pub struct VideoList {
    /// `list`.
    #[schema(value_type = String)]
    pub object: &'static str,
    pub data: Vec<VideoObject>,
    pub has_more: bool,
    pub first_id: Option<String>,
    pub last_id: Option<String>,
}

/// The caller's videos (OpenAI's `GET /v1/videos`): newest first by default, paged by the
/// last id.
#[utoipa::path(
    get, path = "/v1/videos", tag = "openai", operation_id = "list_videos",
    params(ListParams),
    responses(
        (status = 200, description = "One page.", body = VideoList),
        (status = 400, description = "Invalid `limit`, `order` or `after`, or an unknown query parameter.", body = super::doc::OpenAiErrorBody),
        super::doc::OpenAiUnauthorized,
        (status = 429, description = "Rate limit reached for this key; see `Retry-After`.", body = super::doc::OpenAiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list_videos(
    State(state): State<AppState>,
    ApiKey(key, _): ApiKey,
    QueryParams(params): QueryParams<ListParams>,
) -> Result<Json<VideoList>, ApiError> {
    let limit = crate::handlers::list::page_size(params.limit.as_deref())?;
    let ascending = match params.order.as_deref() {
        None | Some("desc") => false,
        Some("asc") => true,
        Some(_) => {
            return Err(ApiError::invalid(
                &["query", "order"],
                "enum",
                "order must be asc or desc",
            ));
        }
    };
    let mut query = ListQuery { limit: limit + 1, ascending, ..Default::default() };
    if let Some(after) = params.after.as_deref() {
        let cursor = after.parse::<RequestId>().ok().map(|id| state.store.get_task(&key.id, id));
        let task = match cursor {
            Some(read) => read.await?,
            None => None,
        };
        let seq = task.map(|t| t.seq).ok_or_else(|| {
            ApiError::invalid(
                &["query", "after"],
                "value_error",
                format!("after must be the id of one of your videos, got {after:?}"),
            )
        })?;
        if ascending {
            query.after_seq = Some(seq);
        } else {
            query.before_seq = Some(seq);
        }
    }
    let mut tasks = state.store.list_tasks(&key.id, &query).await?;
    let has_more = tasks.len() as i64 > limit;
    tasks.truncate(limit as usize);
    let mut data = Vec::with_capacity(tasks.len());
    for t in &tasks {
        data.push(object_of(&state, t).await?);
    }
    Ok(Json(VideoList {
        object: "list",
        first_id: data.first().map(|v| v.id.clone()),
        last_id: data.last().map(|v| v.id.clone()),
        data,
        has_more,
    }))
}

/// Delete a video (OpenAI's `DELETE /v1/videos/{id}`): cancels it when unfinished, deletes
/// its kept media, and forgets it for this key (both APIs answer 404 for it from then on; the
/// ledger keeps its account).
#[utoipa::path(
    delete, path = "/v1/videos/{video_id}", tag = "openai", operation_id = "delete_video",
    params(("video_id" = String, Path, description = "The video's id.")),
    responses(
        (status = 200, description = "Deleted.", body = super::doc::VideoDeleted),
        super::doc::OpenAiUnauthorized,
        (status = 404, description = "No such video for this key.", body = super::doc::OpenAiErrorBody),
        (status = 429, description = "Rate limit reached for this key; see `Retry-After`.", body = super::doc::OpenAiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn delete_video(
    State(state): State<AppState>,
    ApiKey(key, _): ApiKey,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let task = own_task(&state, &key.id, &id).await?;
    let now = state.clock.now_ms();
    if !task.state().is_terminal() {
        let outcome = state.store.cancel_task(&key.id, task.id, now).await?;
        tracing::info!(?outcome, "cancelled by a delete of its video");
    }
    content::delete_media(&state, &key.id, task.id).await?;
    state.store.forget_task(&key.id, task.id, now).await?;
    Ok(Json(json!({"id": task.id.to_string(), "object": "video.deleted", "deleted": true})))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ContentParams {
    /// `video` (the MP4, the default) or `thumbnail` (its cover image).
    #[param(pattern = "^(video|thumbnail)$")]
    pub variant: Option<String>,
}

/// A video's file (OpenAI's `GET /v1/videos/{id}/content`): the MP4, or its cover image,
/// served as the content route serves them (`Range`, `ETag`, redirect mode).
#[utoipa::path(
    get, path = "/v1/videos/{video_id}/content", tag = "openai", operation_id = "video_content",
    params(("video_id" = String, Path, description = "The video's id."), ContentParams,
        ("Range" = Option<String>, Header, description = "One byte range (`bytes=0-1023`)."),
        ("If-None-Match" = Option<String>, Header, description = "The `ETag` you hold: 304 if unchanged.")),
    responses(
        (status = 200, description = "The file.", content((Vec<u8> = "video/mp4"), (Vec<u8> = "image/jpeg"), (Vec<u8> = "application/octet-stream"))),
        (status = 206, description = "The asked range.", content((Vec<u8> = "video/mp4"), (Vec<u8> = "image/jpeg"), (Vec<u8> = "application/octet-stream"))),
        (status = 304, description = "Not modified (`If-None-Match`)."),
        (status = 307, description = "A presigned object-store URL (`media.serve = \"redirect\"`), or the upstream's URL of a file vidgate does not keep."),
        (status = 400, description = "Unknown `variant` (there is no spritesheet) or query parameter.", body = super::doc::OpenAiErrorBody),
        super::doc::OpenAiUnauthorized,
        (status = 404, description = "No such video for this key, or no such file (yet).", body = super::doc::OpenAiErrorBody),
        (status = 410, description = "The file was deleted (retention, or its owner).", body = super::doc::OpenAiErrorBody),
        (status = 416, description = "The range is outside the file.", body = super::doc::OpenAiErrorBody),
        (status = 429, description = "Rate limit reached for this key; see `Retry-After`.", body = super::doc::OpenAiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn video_content(
    State(state): State<AppState>,
    ApiKey(key, _): ApiKey,
    method: Method,
    headers: HeaderMap,
    Path(id): Path<String>,
    QueryParams(params): QueryParams<ContentParams>,
) -> Result<Response, ApiError> {
    let variant = match params.variant.as_deref() {
        None | Some("video") => Variant::VIDEO,
        Some("thumbnail") => Variant::COVER,
        Some("spritesheet") => {
            return Err(ApiError::invalid(
                &["query", "variant"],
                "enum",
                "vidgate makes no spritesheet; variant is video or thumbnail",
            ));
        }
        Some(other) => {
            return Err(ApiError::invalid(
                &["query", "variant"],
                "enum",
                format!("variant must be video or thumbnail, got {other:?}"),
            ));
        }
    };
    let task = own_task(&state, &key.id, &id).await?;
    content::serve(&state, &method, &headers, &task, variant).await
}

/// The models this gateway serves (OpenAI's `GET /v1/models`): its aliases, each with the
/// model, version and scene type it stands for.
#[utoipa::path(
    get, path = "/v1/models", tag = "openai", operation_id = "list_openai_models",
    responses(
        (status = 200, description = "The alias catalog.", body = super::doc::ModelList),
        super::doc::OpenAiUnauthorized,
        (status = 429, description = "Rate limit reached for this key; see `Retry-After`.", body = super::doc::OpenAiErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list_models(
    State(state): State<AppState>,
    _caller: ApiKey,
) -> Json<serde_json::Value> {
    let models = state.models();
    let data: Vec<_> = models
        .aliases
        .iter()
        .map(|a| {
            let listed =
                crate::handlers::models::listed_version(&models, &a.model_name, &a.model_version);
            let created = listed
                .as_ref()
                .and_then(|v| chrono::NaiveDate::parse_from_str(&v.as_of, "%Y-%m-%d").ok())
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map_or(0, |d| d.and_utc().timestamp());
            let (as_of, source, origin) = match &listed {
                Some(v) => (Some(v.as_of.clone()), Some(v.source.clone()), Some(v.origin.clone())),
                None => (None, None, None),
            };
            json!({
                "id": a.name,
                "object": "model",
                "created": created,
                "owned_by": a.model_name,
                "model_name": a.model_name,
                "model_version": a.model_version,
                "scene_type": a.scene_type,
                "rules": listed,
                "as_of": as_of,
                "source": source,
                "origin": origin,
            })
        })
        .collect();
    Json(json!({"object": "list", "data": data}))
}
