//! The OpenAPI document. The create body's schema mirrors the seed's (`spec/create-task.openapi.md`)
//! property for property, with the value constraints vidgate enforces written in; answers use
//! the same types the handlers serialize.

#![allow(dead_code)] // The body structs exist only to describe the schema.

use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::handlers::admin::{
    keys as admin_keys, models as admin_models, reconcile as admin_reconcile,
    reports as admin_reports, requests as admin_requests,
};
use crate::handlers::{
    callbacks, cancel, content, create, estimate, list, models, ops, query, status, stream, usage,
    webhook,
};

/// Output settings (`output_config`). Newer upstream fields (`frame_interpolate`, `logo_add`,
/// `off_peak`, `enable_bgm`, `class_id`, `expire_time`) are accepted too.
#[derive(ToSchema)]
pub struct OutputConfigBody {
    /// `Permanent` or `Temporary` (default).
    #[schema(pattern = "^(Permanent|Temporary)$")]
    storage_mode: Option<String>,
    /// Output name (≤ 64 characters; Permanent storage only).
    #[schema(max_length = 64)]
    media_name: Option<String>,
    /// Aspect ratio, e.g. `16:9`; allowed values depend on the model.
    aspect_ratio: Option<String>,
    /// `AllowAdult` or `Disallowed`.
    #[schema(pattern = "^(AllowAdult|Disallowed)$")]
    person_generation: Option<String>,
    /// `Enabled` or `Disabled`.
    #[schema(pattern = "^(Enabled|Disabled)$")]
    input_compliance_check: Option<String>,
    /// `Enabled` or `Disabled`.
    #[schema(pattern = "^(Enabled|Disabled)$")]
    output_compliance_check: Option<String>,
    /// `Enabled` or `Disabled`; which models make audio depends on the model.
    #[schema(pattern = "^(Enabled|Disabled)$")]
    audio_generation: Option<String>,
    /// Seconds, as a string or a number (e.g. `8`, `"8.0"`); allowed values depend on the model.
    #[schema(example = "8")]
    duration: Option<String>,
    /// e.g. `720P`, `1080P`; allowed values depend on the model.
    resolution: Option<String>,
    /// Super-resolution: `Enabled` or `Disabled`.
    #[schema(pattern = "^(Enabled|Disabled)$")]
    enhance_switch: Option<String>,
}

/// One input image (`file_infos` entry).
#[derive(ToSchema)]
pub struct FileInfoBody {
    /// `File` (a VOD media id in `file_id`), `Url` (an http(s) URL in `url`) or `Base64` (the
    /// file itself in the newer field `base64`: standard base64 without a `data:` prefix, at
    /// most 7 MB of such files per request; the seed's schema, kept here, has no such field).
    #[schema(pattern = "^(File|Url|Base64)$")]
    r#type: String,
    /// VOD media id; required when `type` is `File`.
    file_id: Option<String>,
    /// A description of the image (GEM 2.5/3.0, PixVerse names).
    text: Option<String>,
    /// http(s) URL; required when `type` is `Url`.
    url: Option<String>,
}

/// The create-task body: the seed's schema, snake_case. With `strict_model_rules` on (the
/// default) unknown fields are refused; newer upstream fields (`seed`, `scene_type`,
/// `input_region`, `subject_infos`, `procedure`, `last_frame_file_id`) are accepted.
#[derive(ToSchema)]
pub struct CreateTaskBody {
    /// Prompt words (≤ 2000 characters); may be omitted when `file_infos` gives images.
    #[schema(max_length = 2000)]
    prompt: String,
    /// What the video must avoid (≤ 1000 characters).
    #[schema(max_length = 1000)]
    negative_prompt: Option<String>,
    /// `Enabled` or `Disabled`.
    #[schema(pattern = "^(Enabled|Disabled)$")]
    enhance_prompt: Option<String>,
    output_config: Option<OutputConfigBody>,
    /// Dedup key: reused by the same API key within 3 days → 409 (≤ 50 characters; empty: none).
    #[schema(max_length = 50)]
    session_id: Option<String>,
    /// Passed through to the upstream and echoed in results (≤ 1000 characters).
    #[schema(max_length = 1000)]
    session_context: Option<String>,
    /// −10 … 10, higher first; a string or an integer.
    #[schema(pattern = "^-?(10|[0-9])$", example = "10")]
    tasks_priority: Option<String>,
    /// Reserved upstream field.
    ext_info: Option<String>,
    /// Source files: images (first frame, last frame, references; up to the model's limit,
    /// 7 for Kling, Vidu and PixVerse), and video or audio references. At most 16 entries.
    #[schema(max_items = 16)]
    file_infos: Option<Vec<FileInfoBody>>,
    /// Last-frame image URL (needs a first frame in `file_infos`; GV, Kling 2.1 at 1080P, Vidu q2-pro/q2-turbo).
    last_frame_url: Option<String>,
    /// Kling, Hailuo, Vidu, GV, OS, PixVerse, Hunyuan or Mingmou.
    #[schema(example = "Kling")]
    model_name: String,
    /// Depends on the model, e.g. Kling `1.6`, `2.1`; Hailuo `02`; Vidu `q2`.
    #[schema(example = "2.1")]
    model_version: String,
}

/// An error: a human-readable `detail` and a machine-readable `error_type`.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    detail: String,
    error_type: String,
}

/// The 401 of every route that takes an API key.
#[derive(utoipa::IntoResponses)]
#[response(status = 401, description = "Missing, unknown or revoked API key.")]
pub struct Unauthorized(#[allow(dead_code)] ErrorBody);

/// The 403 of every admin route.
#[derive(utoipa::IntoResponses)]
#[response(status = 403, description = "Not an admin key.")]
pub struct NotAdmin(#[allow(dead_code)] ErrorBody);

/// The 429 of every route a key's read rate limits.
#[derive(utoipa::IntoResponses)]
#[response(status = 429, description = "Rate limit reached for this key; see `Retry-After`.")]
pub struct RateLimited(#[allow(dead_code)] ErrorBody);

/// One validation problem.
#[derive(Serialize, ToSchema)]
pub struct FieldErrorBody {
    /// Where: `["body", "output_config", "duration"]`, `["header", "idempotency-key"]`, …
    #[schema(value_type = Vec<LocItem>)]
    loc: Vec<serde_json::Value>,
    msg: String,
    /// `missing`, `string_type`, `enum`, `model_rule`, `extra_forbidden`, …
    r#type: String,
}

/// One step of an error location: a field name, or an index into an array.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // documentation only: locations are built as JSON values
pub enum LocItem {
    Field(String),
    Index(u64),
}

/// The `logs` query parameter: `1`/`true` include log entries, `0`/`false` (or no parameter)
/// do not. fal's Python client sends `true`.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // documentation only: parsed by `extract::logs_flag`
pub enum LogsParam {
    #[serde(rename = "1")]
    One,
    #[serde(rename = "0")]
    Zero,
    #[serde(rename = "true")]
    True,
    #[serde(rename = "false")]
    False,
}

/// The `status` filter of the listing: fal's three status values.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // documentation only: parsed by `PublicStatus::parse`
pub enum StatusFilter {
    #[serde(rename = "IN_QUEUE")]
    InQueue,
    #[serde(rename = "IN_PROGRESS")]
    InProgress,
    #[serde(rename = "COMPLETED")]
    Completed,
}

/// One Server-Sent Event of the status stream: `data` is a status object (the status
/// route's body) as JSON text.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // documentation only: events are written by axum's SSE support
pub struct StatusEvent {
    /// The status object, JSON-encoded.
    #[schema(content_media_type = "application/json")]
    data: String,
    /// Always the default, `message`, when present.
    event: Option<String>,
    id: Option<String>,
    retry: Option<u64>,
}

/// 422: every problem found, one entry each.
#[derive(Serialize, ToSchema)]
pub struct ValidationErrorBody {
    detail: Vec<FieldErrorBody>,
}

struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("`Authorization: Bearer <key>`"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "fal's scheme: `Authorization: Key <key>` is accepted as well",
                    ))
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "vidgate",
        description = "A self-hostable, fal-compatible queue in front of Tencent Cloud VOD AIGC video generation.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        create::create_request,
        estimate::estimate,
        usage::usage,
        admin_keys::create_key,
        admin_keys::list_keys,
        admin_keys::revoke_key,
        admin_keys::set_limits,
        admin_keys::set_budget,
        admin_keys::top_up,
        admin_requests::list,
        admin_requests::get,
        admin_requests::cancel,
        admin_reports::usage,
        admin_reports::ledger,
        admin_reports::audit_log,
        admin_models::list_entries,
        admin_reconcile::get,
        admin_models::put_model,
        admin_models::put_version,
        admin_models::delete_model,
        admin_models::delete_version,
        status::get_status,
        stream::stream_status,
        status::get_result,
        cancel::cancel_request,
        content::get_content,
        content::delete_content,
        list::list_requests,
        models::list_models,
        query::query_task,
        callbacks::tencent_vod,
        webhook::list_deliveries,
        webhook::redeliver,
        ops::healthz,
        ops::readyz,
        ops::openapi_json,
        crate::metrics::render,
        crate::openai::routes::create_video,
        crate::openai::routes::list_videos,
        crate::openai::routes::retrieve_video,
        crate::openai::routes::delete_video,
        crate::openai::routes::video_content,
        crate::openai::routes::list_models,
    ),
    components(schemas(CreateTaskBody, OutputConfigBody, FileInfoBody, ErrorBody, ValidationErrorBody, FieldErrorBody, LocItem, LogsParam, StatusEvent, StatusFilter)),
    modifiers(&Security),
    tags(
        (name = "queue", description = "fal's queue protocol over the seed's create route."),
        (name = "tencent-compat", description = "Answers in the upstream's own shape."),
        (name = "upstream", description = "Routes the upstream calls."),
        (name = "webhooks", description = "Completion webhooks: attempts and redelivery."),
        (name = "accounting", description = "Quotes, usage and budgets: what each key spends."),
        (name = "admin", description = "Admin keys only: keys, budgets, anyone's usage and requests, the audit log."),
        (name = "openai", description = "OpenAI's videos protocol (openai-python's client.videos) over the same queue and ids; errors in OpenAI's shape."),
        (name = "ops", description = "Health, readiness and documentation."),
    )
)]
pub struct ApiDoc;

pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
