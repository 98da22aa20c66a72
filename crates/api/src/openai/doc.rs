//! Schemas of the `/v1` routes that exist only to be documented: the create body as OpenAI
//! defines it, OpenAI's error body, the delete answer and the model list.

#![allow(dead_code)] // The structs describe the OpenAPI document only.

use utoipa::ToSchema;

/// `POST /v1/videos` (JSON; `multipart/form-data` with the same fields, `input_reference` may
/// then be a file). Other fields (openai-python's `extra_body`) go into the seed's body, as
/// `POST /tencent-vod/v1/aigc-video` takes them.
#[derive(ToSchema)]
pub struct CreateVideoBody {
    /// What the video shows.
    #[schema(example = "a red balloon drifting over a calm sea")]
    prompt: String,
    /// A model alias (`GET /v1/models`); `sora-2` when left out.
    #[schema(example = "vidu-q2")]
    model: Option<String>,
    /// The clip's length in whole seconds, as a string.
    #[schema(example = "4", pattern = "^[1-9][0-9]{0,2}$")]
    seconds: Option<String>,
    /// `WIDTHxHEIGHT` in pixels: the short side is the resolution, the reduced ratio the
    /// aspect ratio (`1280x720` → 720P 16:9); the model must make it.
    #[schema(example = "1280x720", pattern = "^[1-9][0-9]{1,3}x[1-9][0-9]{1,3}$")]
    size: Option<String>,
    /// The first frame: `{"image_url": …}` or `{"file_id": …}` (a file upload in multipart).
    input_reference: Option<InputReferenceBody>,
}

/// A reference image by URL or by File id (one of the two).
#[derive(ToSchema)]
pub struct InputReferenceBody {
    /// An http(s) URL the provider fetches.
    image_url: Option<String>,
    /// A provider File id (the sandbox's `sbx-<request id>-cover`, a VOD media id).
    file_id: Option<String>,
}

/// The 401 of every `/v1` route, in OpenAI's error shape.
#[derive(utoipa::IntoResponses)]
#[response(status = 401, description = "Missing, unknown or revoked API key.")]
pub struct OpenAiUnauthorized(#[allow(dead_code)] OpenAiErrorBody);

/// OpenAI's error body.
#[derive(ToSchema)]
pub struct OpenAiErrorBody {
    error: OpenAiError,
}

#[derive(ToSchema)]
pub struct OpenAiError {
    /// What is wrong, in a sentence per problem.
    message: String,
    /// `invalid_request_error`, `requests`, `insufficient_quota` or `server_error`.
    r#type: String,
    /// The field at fault (`size`, `seconds`, `model`, `prompt`, `input_reference`, a query
    /// parameter), when there is one.
    param: Option<String>,
    /// `invalid_value`, `invalid_api_key`, `not_found`, `insufficient_quota`, … .
    code: Option<String>,
}

/// The answer of a delete.
#[derive(ToSchema)]
pub struct VideoDeleted {
    id: String,
    /// `video.deleted`.
    object: String,
    deleted: bool,
}

/// `GET /v1/models`.
#[derive(ToSchema)]
pub struct ModelList {
    /// `list`.
    object: String,
    data: Vec<ModelEntry>,
}

/// One alias, as OpenAI's model object, with what it stands for.
#[derive(ToSchema)]
pub struct ModelEntry {
    /// The alias (`kling-2.1`).
    id: String,
    /// `model`.
    object: String,
    /// The rule table's date, as a Unix time.
    created: i64,
    owned_by: String,
    model_name: String,
    model_version: String,
    scene_type: Option<String>,
    /// The catalog's rules for the version, its usage products (`specifications`) and the
    /// price rows that price it, as `GET /tencent-vod/v1/models` shows them; null for a
    /// configured alias to a version the catalog does not list.
    #[schema(value_type = Option<Object>)]
    rules: Option<serde_json::Value>,
    /// When the version's table was checked against the upstream's documentation.
    as_of: Option<String>,
    /// The documentation it was checked against.
    source: Option<String>,
    /// `built_in` (this build's catalog); null when the catalog does not list the version.
    origin: Option<String>,
}
