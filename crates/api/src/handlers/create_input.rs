//! One create, typed, as both fronts hand it to `accept`: the checked request and the webhook
//! it names. The fal/Tencent JSON body (`FalCreate`) and OpenAI's create fields
//! (`OpenAiCreate`, JSON or multipart) each become one through `TryFrom`: the body's fields are
//! read into a `RequestDraft`, what the front decides itself (the model an alias names,
//! OpenAI's `seconds`, `size` and reference image) is applied in typed form, and the draft is
//! finished. No body is assembled for another parser.

use std::sync::Arc;

use serde_json::{Map, Value};
use vidgate_domain::models::Catalog;
use vidgate_domain::models::aliases::Alias;
use vidgate_domain::models::live::Models;
use vidgate_domain::request::RequestDraft;
use vidgate_domain::{FieldError, Loc, VideoRequest};

use super::webhook;
use crate::openai::create::{DEFAULT_MODEL, first_frame, seconds_of, size_to_shape, text};
use crate::{ApiError, AppState};

/// A create both fronts agree on.
#[derive(Debug, Clone)]
pub(crate) struct CreateInput {
    pub request: VideoRequest,
    /// Where the completion is sent (`?fal_webhook=` over the body's `webhook_url`).
    pub webhook_url: Option<String>,
    /// The catalog, aliases and prices it was read by (and is quoted by).
    pub models: Arc<Models>,
}

/// A create of the fal/Tencent front: its JSON body and fal's `?fal_webhook=`.
pub(crate) struct FalCreate<'a> {
    pub state: &'a AppState,
    /// The catalog, aliases and prices this create is read by.
    pub models: &'a Arc<Models>,
    pub body: &'a Value,
    pub query_hook: Option<&'a String>,
}

/// A create of OpenAI's `/v1/videos`: its fields (every field not OpenAI's own is the seed's,
/// OpenAI's `extra_body`), and the File id of an uploaded reference image.
pub(crate) struct OpenAiCreate<'a> {
    pub state: &'a AppState,
    pub models: &'a Arc<Models>,
    pub fields: &'a Value,
    pub upload_file_id: Option<String>,
}

impl TryFrom<FalCreate<'_>> for CreateInput {
    type Error = ApiError;

    fn try_from(c: FalCreate<'_>) -> Result<CreateInput, ApiError> {
        let alias = fal_alias(c.models, c.body)?;
        let mut taken = vec!["webhook_url"];
        if let Some((field, _)) = alias {
            taken.extend([field, "model_name"]);
        }
        let mut draft = RequestDraft::read(c.body, &c.state.parse_options(c.models), &taken);
        if let Some((_, a)) = alias {
            draft.name_model(&a.model_name, &a.model_version, a.scene_type.as_deref());
        }
        let mut errors = Vec::new();
        let hook = webhook::choose(c.state, c.query_hook, c.body.get("webhook_url"), &mut errors);
        finish(c.state, c.models, draft, hook, errors)
    }
}

impl TryFrom<OpenAiCreate<'_>> for CreateInput {
    type Error = ApiError;

    fn try_from(c: OpenAiCreate<'_>) -> Result<CreateInput, ApiError> {
        let empty = Map::new();
        let fields = c.fields.as_object().unwrap_or(&empty);
        if text(fields, "prompt")?.is_none() {
            return Err(ApiError::invalid(&["body", "prompt"], "missing", "prompt is required"));
        }
        let model = text(fields, "model")?.unwrap_or(DEFAULT_MODEL);
        let alias = c.models.aliases.resolve(model).ok_or_else(|| {
            ApiError::invalid(
                &["body", "model"],
                "value_error",
                format!(
                    "unknown model {model:?}; GET /v1/models lists the models this gateway serves"
                ),
            )
        })?;
        let seconds = seconds_of(fields)?;
        let size = match text(fields, "size")? {
            None => None,
            Some(s) => Some(size_to_shape(s).ok_or_else(|| {
                ApiError::invalid(
                    &["body", "size"],
                    "value_error",
                    format!("size must be WIDTHxHEIGHT in pixels, such as \"1280x720\", got {s:?}"),
                )
            })?),
        };
        let frame = first_frame(fields, c.upload_file_id)?;
        let taken = ["model", "model_name", "seconds", "size", "input_reference", "webhook_url"];
        let mut draft = RequestDraft::read(c.fields, &c.state.parse_options(c.models), &taken);
        draft.name_model(&alias.model_name, &alias.model_version, alias.scene_type.as_deref());
        if let Some(frame) = frame {
            draft.first_frame(frame, &[Loc::from("body"), Loc::from("input_reference")]);
        }
        if let Some(seconds) = seconds {
            draft.duration(seconds);
        }
        if let Some((resolution, aspect_ratio)) = size {
            draft.shape(resolution, aspect_ratio);
        }
        let mut errors = Vec::new();
        let hook = webhook::choose(c.state, None, c.fields.get("webhook_url"), &mut errors);
        finish(c.state, c.models, draft, hook, errors)
    }
}

/// The alias a fal/Tencent body names, and the field naming it: `model`, or an alias given as
/// `model_name` with no `model_version`.
fn fal_alias<'s>(
    models: &'s Models,
    body: &Value,
) -> Result<Option<(&'static str, &'s Alias)>, ApiError> {
    let Some(obj) = body.as_object() else { return Ok(None) };
    let version_given = obj.get("model_version").is_some_and(|v| v.as_str() != Some(""));
    let (field, name) = match (obj.get("model"), obj.get("model_name")) {
        (Some(model), _) => {
            let name = model.as_str().ok_or_else(|| {
                ApiError::invalid(&["body", "model"], "string_type", "model must be a string")
            })?;
            if obj.contains_key("model_name") || version_given {
                return Err(ApiError::invalid(
                    &["body", "model"],
                    "value_error",
                    "give either model (an alias) or model_name and model_version, not both",
                ));
            }
            ("model", name)
        }
        (None, Some(Value::String(name))) if !version_given => match models.aliases.resolve(name) {
            Some(alias) => return Ok(Some(("model_name", alias))),
            None => return Ok(None),
        },
        _ => return Ok(None),
    };
    let alias = models.aliases.resolve(name).ok_or_else(|| {
        ApiError::invalid(
            &["body", field],
            "enum",
            format!("unknown model {name:?}; GET /v1/models lists the aliases this gateway knows"),
        )
    })?;
    Ok(Some((field, alias)))
}

/// The draft finished, with the front's own problems (`errors`) reported beside its own.
fn finish(
    state: &AppState,
    models: &Arc<Models>,
    draft: RequestDraft,
    webhook_url: Option<String>,
    mut errors: Vec<FieldError>,
) -> Result<CreateInput, ApiError> {
    match draft.finish() {
        Ok(request) if errors.is_empty() => {
            if let Some(limits) = state.config.output_limits {
                within_limits(&models.catalog, &request, limits)?;
            }
            Ok(CreateInput { request, webhook_url, models: models.clone() })
        }
        Ok(_) => Err(ApiError::Validation(errors)),
        Err(mut more) => {
            more.append(&mut errors);
            Err(ApiError::Validation(more))
        }
    }
}

/// The provider's own bounds on a clip (the sandbox renders locally, in memory).
fn within_limits(
    catalog: &Catalog,
    request: &VideoRequest,
    limits: crate::state::OutputLimits,
) -> Result<(), ApiError> {
    let shape = vidgate_domain::dimensions::output_shape(catalog, request);
    let mut problems = Vec::new();
    if shape.duration_secs > limits.max_duration_secs {
        problems.push(FieldError::new(
            vec!["body".into(), "output_config".into(), "duration".into()],
            "provider_limit",
            format!(
                "this gateway's provider makes clips of at most {} s, got {} s",
                limits.max_duration_secs, shape.duration_secs
            ),
        ));
    }
    if shape.width.min(shape.height) > limits.max_short_side {
        problems.push(FieldError::new(
            vec!["body".into(), "output_config".into(), "resolution".into()],
            "provider_limit",
            format!(
                "this gateway's provider makes clips of at most {}P, got {}x{}",
                limits.max_short_side, shape.width, shape.height
            ),
        ));
    }
    if problems.is_empty() { Ok(()) } else { Err(ApiError::Validation(problems)) }
}
