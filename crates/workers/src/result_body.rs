//! The result body clients read once a request succeeded (`vidgate_providers::ResultBody`, the
//! one definition of that wire shape), built from the task and what the upstream produced,
//! and the charge the success settles: its usage and its cost at the quoted price.

use serde_json::Value;
use vidgate_domain::pricing;
use vidgate_domain::request::Switch;
use vidgate_providers::{ResultBody, UpstreamOutput};
use vidgate_store::{Charge, TaskRecord};

/// What the success used (the output's shape filled in from the request where the upstream
/// does not say it) and costs. No usage reported: the cost falls back to the quote.
pub fn charge(task: &TaskRecord, output: &UpstreamOutput) -> Charge {
    let usage = output.usage.clone().map(|mut u| {
        let out = task.request.output_config();
        if u.resolution.is_none() {
            u.resolution = out
                .resolution
                .clone()
                .or_else(|| task.quote.as_ref().and_then(|q| q.resolution.clone()));
        }
        u.audio = u.audio || out.audio_generation == Some(Switch::Enabled);
        u
    });
    let cost = task.quote.as_ref().map(|q| pricing::cost(q, usage.as_ref()));
    Charge { usage, cost }
}

pub fn result_body(task: &TaskRecord, output: &UpstreamOutput, charge: &Charge) -> Value {
    let body = ResultBody {
        video: output.files.first().cloned(),
        videos: output.files.clone(),
        model_name: task.request.model_name().to_owned(),
        model_version: task.request.model_version().to_owned(),
        upstream_task_id: task.upstream_task_id.clone(),
        session_context: task.request.session_context().map(str::to_owned),
        usage: charge.usage.clone(),
        cost: charge.cost.clone(),
    };
    // Plain data with string keys: serializing it cannot fail.
    serde_json::to_value(body).unwrap_or(Value::Null)
}
