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

/// How far ahead a callback's `T` (its signature's expiry, Unix seconds) may lie: the
/// upstream's default validity is 10 minutes; 5 more allow for clock skew. A `T` further out
/// would make a captured signature replayable for longer than the upstream ever issues.
pub const PUSH_T_MAX_AHEAD_SECS: i64 = 15 * 60;

/// Whether a push callback's `Sign`/`T` are valid at `now_ms`: `Sign = md5(key + T)`, and `T`
/// lies between now and `PUSH_T_MAX_AHEAD_SECS` ahead. Never panics, whatever `T` holds.
pub fn push_signature_valid(key: &str, auth: &crate::PushAuth, now_ms: i64) -> bool {
    let (Some(sign), Some(t)) = (auth.sign.as_deref(), auth.t.as_deref()) else {
        return false;
    };
    let Ok(expiry) = t.parse::<i64>() else { return false };
    let now = now_ms.div_euclid(1000);
    if expiry < now || expiry > now.saturating_add(PUSH_T_MAX_AHEAD_SECS) {
        return false;
    }
    let expected = callback_sign(key, t);
    super::sign::same_signature(&expected, &sign.to_ascii_lowercase())
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

    fn auth(sign: &str, t: &str) -> crate::PushAuth {
        crate::PushAuth { sign: Some(sign.into()), t: Some(t.into()) }
    }

    #[test]
    fn a_push_signature_is_valid_only_within_its_window() {
        let now_ms = 1_700_000_000_000;
        let ok = |t: i64| {
            push_signature_valid(
                "k",
                &auth(&callback_sign("k", &t.to_string()), &t.to_string()),
                now_ms,
            )
        };
        assert!(ok(1_700_000_000 + 600), "the upstream's default 10 minutes");
        assert!(ok(1_700_000_000));
        assert!(!ok(1_700_000_000 - 1), "expired");
        assert!(!ok(1_700_000_000 + PUSH_T_MAX_AHEAD_SECS + 1), "too far ahead");
        assert!(!ok(9_999_999_999));
        assert!(!push_signature_valid(
            "other",
            &auth(&callback_sign("k", "1700000600"), "1700000600"),
            now_ms
        ));
        assert!(!push_signature_valid("k", &crate::PushAuth::default(), now_ms));
        let upper = callback_sign("k", "1700000600").to_ascii_uppercase();
        assert!(push_signature_valid("k", &auth(&upper, "1700000600"), now_ms), "hex case");
    }

    proptest::proptest! {
        #[test]
        fn push_signature_checks_never_panic(t in proptest::prelude::any::<i64>(), now in proptest::prelude::any::<i64>(), sign in ".{0,40}") {
            let _ = push_signature_valid("k", &auth(&sign, &t.to_string()), now);
            let _ = push_signature_valid("k", &auth(&callback_sign("k", &t.to_string()), &t.to_string()), now);
        }

        #[test]
        fn push_signature_checks_take_any_text(t in ".{0,30}", now in proptest::prelude::any::<i64>()) {
            let _ = push_signature_valid("k", &auth("00", &t), now);
        }
    }

    #[test]
    fn the_callback_signature_is_md5_of_key_and_t() {
        assert_eq!(callback_sign("key", "1700000000"), hex::encode(Md5::digest(b"key1700000000")));
        assert_eq!(callback_sign("", "").len(), 32);
    }
}
