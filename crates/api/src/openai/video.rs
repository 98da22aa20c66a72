//! The video object of OpenAI's `/v1/videos`, made from the same task record the fal routes
//! read: one request, one id, two views.

use serde::Serialize;
use vidgate_domain::TaskState;
use vidgate_domain::dimensions::output_shape;
use vidgate_store::{MediaObject, TaskRecord};

use crate::AppState;

/// OpenAI's `Video`, field for field.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct VideoObject {
    pub id: String,
    /// `video`.
    #[schema(value_type = String)]
    pub object: &'static str,
    pub model: String,
    /// `queued`, `in_progress`, `completed` or `failed` (a cancelled request is failed, with
    /// `error.code` `request_cancelled`).
    #[schema(value_type = String, pattern = "^(queued|in_progress|completed|failed)$")]
    pub status: &'static str,
    /// 0–100.
    pub progress: i64,
    pub created_at: i64,
    pub completed_at: Option<i64>,
    /// When the kept video is deleted (its retention); `None` while nothing is kept, or when
    /// it is kept until deleted.
    pub expires_at: Option<i64>,
    pub seconds: String,
    pub size: String,
    pub prompt: Option<String>,
    pub remixed_from_video_id: Option<String>,
    pub error: Option<VideoError>,
}

/// Why a video failed: vidgate's `error_type` as the code, and its message.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct VideoError {
    pub code: String,
    pub message: String,
}

fn status_of(state: TaskState) -> &'static str {
    match state {
        TaskState::Queued => "queued",
        TaskState::Submitting | TaskState::Running => "in_progress",
        TaskState::Succeeded => "completed",
        TaskState::Failed | TaskState::Cancelled => "failed",
    }
}

/// Seconds as OpenAI writes them: `"8"`, or `"2.5"` for a fraction.
fn seconds_text(secs: f64) -> String {
    if secs.fract() == 0.0 { format!("{}", secs as i64) } else { format!("{secs}") }
}

/// The alias a caller knows the request's model by, else `<model>-<version>` lower-cased.
pub fn model_label(state: &AppState, task: &TaskRecord) -> String {
    let (name, version) = (task.request.model_name(), task.request.model_version());
    state
        .models()
        .aliases
        .name_of(name, version)
        .map_or_else(|| format!("{name}-{version}").to_ascii_lowercase(), str::to_owned)
}

/// The video object of a task; `media` is what vidgate keeps of it (for `expires_at`).
pub fn video_object(state: &AppState, task: &TaskRecord, media: &[MediaObject]) -> VideoObject {
    let shape = output_shape(&state.models().catalog, &task.request);
    let secs = |ms: i64| ms.div_euclid(1000);
    let error =
        task.state().is_terminal().then_some(()).and(task.error()).map(|message| VideoError {
            code: task.error_type().map_or("upstream_error", |e| e.as_str()).to_owned(),
            message: message.to_owned(),
        });
    let progress =
        if task.state() == TaskState::Succeeded { 100 } else { task.progress.clamp(0, 100) };
    VideoObject {
        id: task.id.to_string(),
        object: "video",
        model: model_label(state, task),
        status: status_of(task.state()),
        progress,
        created_at: secs(task.created_at),
        completed_at: task.finished_at().map(secs),
        expires_at: media
            .iter()
            .find(|m| m.variant == "video" && m.deleted_at.is_none())
            .and_then(|m| m.expires_at)
            .map(secs),
        seconds: seconds_text(shape.duration_secs),
        size: format!("{}x{}", shape.width, shape.height),
        prompt: task.request.prompt().map(str::to_owned),
        remixed_from_video_id: None,
        error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_map_onto_openais_four() {
        assert_eq!(status_of(TaskState::Queued), "queued");
        assert_eq!(status_of(TaskState::Submitting), "in_progress");
        assert_eq!(status_of(TaskState::Running), "in_progress");
        assert_eq!(status_of(TaskState::Succeeded), "completed");
        assert_eq!(status_of(TaskState::Failed), "failed");
        assert_eq!(status_of(TaskState::Cancelled), "failed");
        assert_eq!(seconds_text(8.0), "8");
        assert_eq!(seconds_text(2.5), "2.5");
    }
}
