//! A create request on its way to a `VideoRequest`. A front reads the body's fields into a
//! draft (each checked where it stands), applies what it decided itself in typed form (the
//! model an alias names, OpenAI's `seconds`, `size` and reference image), and `finish` makes
//! the checks across fields and the per-model rules. So both fronts build their request the
//! same way, and neither assembles a body for the other's parser.

use serde_json::Value;

use super::parse::check_http_url;
use super::{FileInfo, FileKind, ParseOptions, VideoRequest};
use crate::field_error::{FieldError, Loc};
use crate::models;

/// A request read from a body, not yet checked as a whole.
#[derive(Debug, Clone)]
pub struct RequestDraft {
    /// `None`: the body was not an object (the one error says so).
    request: Option<VideoRequest>,
    errors: Vec<FieldError>,
    opts: ParseOptions,
    read: Read,
}

/// What the body said that the checks across fields need after a front changed the draft.
#[derive(Debug, Clone, Default)]
pub(super) struct Read {
    /// `prompt` was given (not absent, not `null`).
    pub prompt_given: bool,
    /// The last-frame fields the body gives.
    pub last_frame_fields: Vec<&'static str>,
    /// The front names the model (`model_name` was taken); `name_model` has not been called.
    pub model_pending: bool,
}

/// Where a front's first frame comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FirstFrame {
    Url(String),
    /// A VOD media id, or a File id of media vidgate keeps.
    FileId(String),
}

impl RequestDraft {
    /// Reads a body; `taken` are top-level fields the caller reads itself (`model`,
    /// `webhook_url`, OpenAI's own fields): neither read here, nor refused as unknown, nor
    /// passed through to the upstream. Taking `model_name` means the caller names the model.
    pub fn read(body: &Value, opts: &ParseOptions, taken: &[&str]) -> RequestDraft {
        super::parse::read(body, opts, taken)
    }

    pub(super) fn new(
        request: VideoRequest,
        errors: Vec<FieldError>,
        opts: ParseOptions,
        read: Read,
    ) -> RequestDraft {
        RequestDraft { request: Some(request), errors, opts, read }
    }

    pub(super) fn refused(error: FieldError, opts: ParseOptions) -> RequestDraft {
        RequestDraft { request: None, errors: vec![error], opts, read: Read::default() }
    }

    /// The model and version (an alias's); `scene_type` unless the body gives one.
    pub fn name_model(&mut self, name: &str, version: &str, scene_type: Option<&str>) {
        self.read.model_pending = false;
        let Some(r) = &mut self.request else { return };
        r.model_name = name.to_owned();
        r.model_version = version.to_owned();
        if let Some(scene) = scene_type {
            r.extra.entry("scene_type").or_insert_with(|| scene.into());
        }
    }

    /// The first frame, in place of the body's `file_infos`; `at` is where the caller gave it
    /// (for errors).
    pub fn first_frame(&mut self, frame: FirstFrame, at: &[Loc]) {
        let info = match frame {
            FirstFrame::Url(url) => match check_http_url(&url, "the image URL") {
                Ok(()) => FileInfo::url(url),
                Err((kind, msg)) => {
                    self.errors.push(FieldError::new(at.to_vec(), kind, msg));
                    return;
                }
            },
            FirstFrame::FileId(id) if id.is_empty() || id.chars().count() > 128 => {
                let msg = "a file id is 1 to 128 characters";
                self.errors.push(FieldError::new(at.to_vec(), "value_error", msg));
                return;
            }
            FirstFrame::FileId(id) => FileInfo::file(id),
        };
        if let Some(r) = &mut self.request {
            r.file_infos = vec![info];
        }
    }

    /// The clip's length in seconds, over the body's `output_config.duration`.
    pub fn duration(&mut self, secs: u32) {
        if let Some(r) = &mut self.request {
            r.output_config.duration = Some(f64::from(secs));
        }
    }

    /// Resolution and aspect ratio, over the body's.
    pub fn shape(&mut self, resolution: String, aspect_ratio: String) {
        if let Some(r) = &mut self.request {
            r.output_config.resolution = Some(resolution);
            r.output_config.aspect_ratio = Some(aspect_ratio);
        }
    }

    /// The checks across fields and the per-model rules. `Err` holds one entry per problem.
    pub fn finish(self) -> Result<VideoRequest, Vec<FieldError>> {
        let RequestDraft { request, mut errors, opts, read } = self;
        let Some(request) = request else { return Err(errors) };
        let base = [Loc::from("body")];
        let at = |key: &str| vec![base[0].clone(), Loc::from(key)];
        if read.model_pending {
            errors.push(FieldError::new(at("model_name"), "missing", "model_name is required"));
        }
        let has_images = !request.file_infos.is_empty();
        match &request.prompt {
            None if !has_images && !read.prompt_given => errors.push(FieldError::new(
                at("prompt"),
                "missing",
                "prompt is required unless file_infos provides images",
            )),
            Some(s) if s.trim().is_empty() && !has_images => errors.push(FieldError::new(
                at("prompt"),
                "string_too_short",
                "prompt must not be empty unless file_infos provides images",
            )),
            _ => {}
        }
        if !has_images {
            for field in &read.last_frame_fields {
                errors.push(FieldError::new(
                    at(field),
                    "value_error",
                    format!("{field} needs a first frame: put the first image in file_infos"),
                ));
            }
        }
        let names_ok = !request.model_name.is_empty() && !request.model_version.is_empty();
        if opts.strict_model_rules && names_ok {
            errors.extend(models::check(opts.catalog(), &request, opts.unknown_versions));
        }
        if errors.is_empty() { Ok(request) } else { Err(errors) }
    }
}

impl FileInfo {
    fn url(url: String) -> FileInfo {
        FileInfo {
            kind: FileKind::Url,
            file_id: None,
            url: Some(url),
            text: None,
            extra: Default::default(),
        }
    }

    fn file(file_id: String) -> FileInfo {
        FileInfo {
            kind: FileKind::File,
            file_id: Some(file_id),
            url: None,
            text: None,
            extra: Default::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::parse_create_request;

    #[test]
    fn a_front_s_typed_choices_make_the_same_request_as_the_body_that_spells_them_out() {
        let opts = ParseOptions::default();
        let spelled = json!({
            "model_name": "Kling", "model_version": "2.1", "prompt": "a fox",
            "file_infos": [{"type": "Url", "url": "https://img.example/a.png"}],
            "output_config": {"duration": 5, "resolution": "1080P", "aspect_ratio": "16:9"},
            "session_id": "s-1"
        });
        let front = json!({"model": "an-alias", "prompt": "a fox", "size": "1920x1080",
                           "session_id": "s-1", "seconds": "5"});
        let mut draft =
            RequestDraft::read(&front, &opts, &["model", "model_name", "size", "seconds"]);
        draft.name_model("Kling", "2.1", None);
        draft.first_frame(FirstFrame::Url("https://img.example/a.png".into()), &[]);
        draft.duration(5);
        draft.shape("1080P".into(), "16:9".into());
        assert_eq!(draft.finish().unwrap(), parse_create_request(&spelled, &opts).unwrap());
    }

    #[test]
    fn taken_fields_are_neither_refused_nor_passed_through() {
        let lax = ParseOptions::LAX;
        let body =
            json!({"model_name": "X", "model_version": "1", "prompt": "p", "webhook_url": "h"});
        let r = RequestDraft::read(&body, &lax, &["webhook_url"]).finish().unwrap();
        assert!(!r.extra().contains_key("webhook_url"));
        let strict = RequestDraft::read(&body, &ParseOptions::default(), &[]).finish().unwrap_err();
        assert!(strict.iter().any(|e| e.kind == "extra_forbidden"), "{strict:?}");
    }

    #[test]
    fn typed_choices_are_checked_like_the_body() {
        let opts = ParseOptions::default();
        let body = json!({"prompt": "p"});
        let mut draft = RequestDraft::read(&body, &opts, &["model_name"]);
        draft.first_frame(FirstFrame::Url("ftp://x/y.png".into()), &[Loc::from("input_reference")]);
        let errors = draft.finish().unwrap_err();
        let kinds: Vec<&str> = errors.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(kinds, ["url_scheme", "missing"], "{errors:?}");
        assert_eq!(errors[0].loc, vec![Loc::from("input_reference")]);
        let no_body = RequestDraft::read(&json!([1]), &opts, &[]).finish().unwrap_err();
        assert_eq!(no_body.len(), 1);
    }
}
