//! The actions the emulator implements, each returning the fields of `Response` or an
//! upstream error.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::Emulator;
use crate::auth::ApiError;
use crate::config::EmulatorAccount;
use crate::validate::validate_create;

fn sub_app_matches(params: &Value, account: &EmulatorAccount) -> Result<(), ApiError> {
    match params.get("SubAppId") {
        None | Some(Value::Null) => Ok(()),
        Some(v) if v.as_u64() == Some(account.sub_app_id) => Ok(()),
        Some(_) => Err((
            "InvalidParameterValue.SubAppId",
            "SubAppId does not belong to this account".into(),
        )),
    }
}

pub async fn run(
    emulator: &Arc<Emulator>,
    action: &str,
    account: &EmulatorAccount,
    params: &Value,
) -> Result<Value, ApiError> {
    match action {
        "CreateAigcVideoTask" => {
            let valid = validate_create(params, account, &emulator.config.catalog)
                .inspect_err(|_| emulator.count(|s| s.invalid_parameters += 1))?;
            let id = emulator.create(account.sub_app_id, input_echo(params), valid)?;
            Ok(json!({"TaskId": id}))
        }
        "DescribeTaskDetail" => {
            sub_app_matches(params, account)?;
            let Some(id) = params.get("TaskId").and_then(Value::as_str).filter(|s| !s.is_empty())
            else {
                return Err(("MissingParameter", "TaskId is required".into()));
            };
            emulator.describe(account.sub_app_id, id)
        }
        "DescribeTasks" => {
            sub_app_matches(params, account)?;
            let limit =
                params.get("Limit").and_then(Value::as_u64).unwrap_or(10).clamp(1, 100) as usize;
            let offset = params
                .get("ScrollToken")
                .and_then(Value::as_str)
                .and_then(|t| t.parse().ok())
                .unwrap_or(0);
            Ok(emulator.list(account.sub_app_id, limit, offset))
        }
        "PullEvents" => {
            sub_app_matches(params, account)?;
            emulator.count(|s| s.pull_calls += 1);
            // Long poll: answer at once when events exist, else wait up to pull_wait.
            let deadline = tokio::time::Instant::now() + emulator.config.pull_wait;
            loop {
                let events = emulator.take_events(account.sub_app_id);
                if !events.is_empty() || tokio::time::Instant::now() >= deadline {
                    return Ok(json!({"EventSet": events}));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        "ConfirmEvents" => {
            sub_app_matches(params, account)?;
            let handles: Vec<String> = params
                .get("EventHandles")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(|h| h.as_str().map(str::to_owned)).collect())
                .unwrap_or_default();
            if handles.is_empty() || handles.len() > 16 {
                return Err(("InvalidParameterValue", "EventHandles takes 1 to 16 handles".into()));
            }
            emulator.confirm(account.sub_app_id, &handles);
            Ok(json!({}))
        }
        "DescribeAigcUsageData" => {
            sub_app_matches(params, account)?;
            let query = crate::state::UsageQuery::parse(params)?;
            Ok(emulator.usage_data(account.sub_app_id, &query))
        }
        other => Err(("InvalidAction", format!("the action {other} does not exist"))),
    }
}

/// The task's `Input` as `DescribeTaskDetail` echoes it (the request without account fields).
fn input_echo(params: &Value) -> Value {
    let mut input = params.clone();
    if let Value::Object(map) = &mut input {
        for key in ["SubAppId", "SessionId", "SessionContext", "TasksPriority", "ExtInfo"] {
            map.remove(key);
        }
    }
    input
}
