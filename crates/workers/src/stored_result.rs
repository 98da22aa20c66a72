//! A succeeded request's stored result, built from the task and what the upstream produced
//! (after its files were kept), and the charge the success settles: its usage and its cost at
//! the quoted price.

use vidgate_domain::request::Switch;
use vidgate_domain::{StoredResult, pricing};
use vidgate_providers::UpstreamOutput;
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

pub fn stored_result(task: &TaskRecord, output: UpstreamOutput, charge: &Charge) -> StoredResult {
    StoredResult {
        files: output.files,
        model_name: task.request.model_name().to_owned(),
        model_version: task.request.model_version().to_owned(),
        upstream_task_id: task.upstream_task_id().map(str::to_owned),
        session_context: task.request.session_context().map(str::to_owned),
        usage: charge.usage.clone(),
        cost: charge.cost.clone(),
    }
}
