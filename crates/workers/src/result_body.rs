//! The result body clients read once a request succeeded (`vidgate_providers::ResultBody`, the
//! one definition of that wire shape), built from the task and what the upstream produced.

use serde_json::Value;
use vidgate_providers::{ResultBody, UpstreamOutput};
use vidgate_store::TaskRecord;

pub fn result_body(task: &TaskRecord, output: &UpstreamOutput) -> Value {
    let body = ResultBody {
        video: output.files.first().cloned(),
        videos: output.files.clone(),
        model_name: task.request.model_name().to_owned(),
        model_version: task.request.model_version().to_owned(),
        upstream_task_id: task.upstream_task_id.clone(),
        session_context: task.request.session_context().map(str::to_owned),
        usage: output.usage.clone(),
    };
    // Plain data with string keys: serializing it cannot fail.
    serde_json::to_value(body).unwrap_or(Value::Null)
}
