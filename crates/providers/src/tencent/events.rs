//! Finished-job events: `PullEvents` sets and push-callback bodies become `UpstreamEvent`s.

use md5::{Digest, Md5};
use serde_json::Value;

use super::wire::{AigcVideoTask, EventContent, EventSet};
use crate::UpstreamEvent;

pub const AIGC_VIDEO_COMPLETE: &str = "AigcVideoTaskComplete";

/// A push callback's signature: `md5(SignKey + T)`, lowercase hex (reference §4.2).
pub fn callback_sign(key: &str, t: &str) -> String {
    hex::encode(Md5::digest(format!("{key}{t}").as_bytes()))
}

pub fn parse_event_set(response: &Value) -> Vec<EventContent> {
    serde_json::from_value::<EventSet>(response.clone())
        .ok()
        .and_then(|s| s.event_set)
        .unwrap_or_default()
}

/// The AIGC video events vidgate follows; any other event type is left alone (not
/// confirmed), since other systems may consume the same application's events.
pub fn to_upstream_event(
    event: EventContent,
    account: &str,
) -> Option<(UpstreamEvent, AigcVideoTask)> {
    if event.event_type.as_deref() != Some(AIGC_VIDEO_COMPLETE) {
        return None;
    }
    let task = event.aigc_video_complete_event?;
    let upstream_task_id = task.task_id.clone()?;
    let request_id = task.session_id.as_deref().and_then(|s| s.parse().ok());
    Some((
        UpstreamEvent {
            request_id,
            upstream_task_id,
            account: account.to_owned(),
            handle: event.event_handle,
        },
        task,
    ))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn only_aigc_video_events_become_upstream_events() {
        let id = vidgate_domain::RequestId::new();
        let set = json!({"EventSet": [
            {"EventHandle": "h1", "EventType": "AigcVideoTaskComplete",
             "AigcVideoCompleteEvent": {"TaskId": "t1", "Status": "FINISH", "ErrCode": 0, "SessionId": id.to_string()}},
            {"EventHandle": "h2", "EventType": "NewFileUpload", "FileUploadEvent": {}},
        ], "RequestId": "r"});
        let events: Vec<_> = parse_event_set(&set)
            .into_iter()
            .filter_map(|e| to_upstream_event(e, "main"))
            .collect();
        assert_eq!(events.len(), 1);
        assert_eq!(
            events[0].0,
            UpstreamEvent {
                request_id: Some(id),
                upstream_task_id: "t1".into(),
                account: "main".into(),
                handle: Some("h1".into())
            }
        );
    }

    #[test]
    fn the_callback_signature_is_md5_of_key_and_t() {
        assert_eq!(callback_sign("key", "1700000000"), hex::encode(Md5::digest(b"key1700000000")));
        assert_eq!(callback_sign("", "").len(), 32);
    }
}
