//! The result body clients read once a request succeeded. Shaped like fal's video models
//! (`video.url` first), so generic fal clients find the file without knowing vidgate.

use serde_json::{Value, json};
use vidgate_providers::{OutputFile, UpstreamOutput};
use vidgate_store::TaskRecord;

fn file_json(f: &OutputFile) -> Value {
    json!({
        "url": f.url,
        "content_type": f.content_type,
        "file_name": f.file_name,
        "file_size": f.file_size,
        "width": f.width,
        "height": f.height,
        "duration": f.duration,
        "expires_at": f.expires_at,
        "file_id": f.file_id,
        "cover_url": f.cover_url,
        "cover_file_id": f.cover_file_id,
    })
}

pub fn result_body(task: &TaskRecord, output: &UpstreamOutput) -> Value {
    let videos: Vec<Value> = output.files.iter().map(file_json).collect();
    json!({
        "video": videos.first().cloned().unwrap_or(Value::Null),
        "videos": videos,
        "model_name": task.request.model_name,
        "model_version": task.request.model_version,
        "upstream_task_id": task.upstream_task_id,
        "session_context": task.request.session_context,
        "usage": output.usage,
    })
}
