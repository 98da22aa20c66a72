//! From vidgate's request to `CreateAigcVideoTask`, and from `DescribeTaskDetail` (or an
//! event) back to a `PollStatus` with output files.

use serde_json::{Value, json};
use vidgate_domain::request::upstream::to_upstream;
use vidgate_domain::{ErrorType, RequestId, Usage, VideoRequest};

use super::wire::{AigcVideoTask, OutputFileInfo, TaskDetail};
use vidgate_domain::{FileRef, OutputFile, parse_rfc3339};

use crate::{PollStatus, UpstreamOutput};

/// The `CreateAigcVideoTask` body: the request in the upstream's names, the account's
/// `SubAppId`, and vidgate's request id as `SessionId`, so the upstream itself refuses a second
/// job for the same request.
pub fn create_body(request: &VideoRequest, sub_app_id: u64, request_id: RequestId) -> Value {
    let mut body = to_upstream(request);
    if let Value::Object(map) = &mut body {
        map.insert("SubAppId".into(), json!(sub_app_id));
        map.insert("SessionId".into(), json!(request_id.to_string()));
    }
    body
}

fn content_type(file_type: Option<&str>, url: &str) -> String {
    let ext = file_type.map(str::to_ascii_lowercase).or_else(|| {
        url.split('?').next().and_then(|p| p.rsplit('.').next()).map(str::to_ascii_lowercase)
    });
    match ext.as_deref() {
        Some("mp4") => "video/mp4",
        Some("mov") => "video/quicktime",
        Some("webm") => "video/webm",
        Some("m3u8") => "application/vnd.apple.mpegurl",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        _ => "application/octet-stream",
    }
    .into()
}

fn output_file(f: &OutputFileInfo) -> Option<OutputFile> {
    let url = f.file_url.clone().filter(|u| !u.is_empty())?;
    let file_name = f
        .media_name
        .clone()
        .filter(|n| !n.is_empty())
        .map(|n| match f.file_type.as_deref() {
            Some(t) if !n.ends_with(&format!(".{t}")) => format!("{n}.{t}"),
            _ => n,
        })
        .or_else(|| url.split('?').next().and_then(|p| p.rsplit('/').next()).map(str::to_owned))
        .unwrap_or_else(|| "video.mp4".into());
    let meta = f.meta_data.clone().unwrap_or_default();
    // The upstream's AIGC output carries no cover image.
    let content_type = content_type(f.file_type.as_deref(), &url);
    let mut file = OutputFile::new(FileRef::External { url }, content_type, file_name);
    file.file_size = meta.size;
    file.width = meta.width;
    file.height = meta.height;
    file.duration = meta.duration;
    file.expires_at = f.expire_time.as_deref().and_then(parse_rfc3339);
    file.file_id = f.file_id.clone().filter(|t| !t.is_empty());
    Some(file)
}

/// A finished task's outcome (`FINISH` or `ABORTED`).
fn finished(status: &str, task: &AigcVideoTask) -> PollStatus {
    let code = task.err_code.unwrap_or(0);
    let ext = task.err_code_ext.clone().filter(|e| !e.is_empty());
    let message = task.message.clone().filter(|m| !m.is_empty());
    if status == "ABORTED" {
        return PollStatus::Failed {
            code: ErrorType::upstream(ext.unwrap_or_else(|| "OperationCanceled".into())),
            message: message.unwrap_or_else(|| "the upstream aborted the task".into()),
        };
    }
    if code != 0 {
        return PollStatus::Failed {
            code: ErrorType::upstream(ext.unwrap_or_else(|| "FailedOperation".into())),
            message: message
                .unwrap_or_else(|| format!("the upstream task failed with ErrCode {code}")),
        };
    }
    let output = task.output.clone().unwrap_or_default();
    let files: Vec<OutputFile> =
        output.file_infos.unwrap_or_default().iter().filter_map(output_file).collect();
    if files.is_empty() {
        return PollStatus::Failed {
            code: ErrorType::upstream("FailedOperation.NoOutput"),
            message: "the upstream finished the task without an output file".into(),
        };
    }
    let usage = output.usage.as_ref().and_then(Usage::from_tencent);
    PollStatus::Succeeded(UpstreamOutput { files, usage, stored: Vec::new() })
}

/// A task status this build does not know (the upstream added one): retried, since the
/// next poll may read a known one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown upstream task status {0:?}")]
pub struct UnknownStatus(pub String);

/// The status mapping of the reference §4.1.
pub fn poll_status(detail: &TaskDetail) -> Result<PollStatus, UnknownStatus> {
    let status = detail.status.as_deref().unwrap_or_default();
    let task = detail.aigc_video_task.clone().unwrap_or_default();
    match status {
        "WAITING" => Ok(PollStatus::Waiting),
        "PROCESSING" => {
            Ok(PollStatus::Processing { progress: task.progress.unwrap_or(0).clamp(0, 99) as u8 })
        }
        "FINISH" | "ABORTED" => Ok(finished(status, &task)),
        other => Err(UnknownStatus(other.to_owned())),
    }
}

/// An event carries the task itself; it means the task finished.
pub fn event_status(task: &AigcVideoTask) -> PollStatus {
    let status = task.status.clone().unwrap_or_else(|| "FINISH".into());
    finished(if status == "ABORTED" { "ABORTED" } else { "FINISH" }, task)
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use vidgate_domain::{ParseOptions, parse_create_request};

    use super::*;

    fn detail(v: Value) -> TaskDetail {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn the_create_body_carries_sub_app_id_session_id_and_upstream_names() {
        let req = parse_create_request(
            &json!({"model_name":"Kling","model_version":"2.1","prompt":"p","session_id":"mine","session_context":"ctx",
                    "tasks_priority":"5","output_config":{"duration":"5","enable_bgm":"Enabled"}}),
            &ParseOptions::default(),
        )
        .unwrap();
        let id = RequestId::new();
        let body = create_body(&req, 251007502, id);
        assert_eq!(body["SubAppId"], 251007502);
        assert_eq!(
            body["SessionId"],
            id.to_string(),
            "the upstream SessionId is vidgate's request id"
        );
        assert_eq!(body["SessionContext"], "ctx");
        assert_eq!(body["TasksPriority"], 5);
        assert_eq!(body["OutputConfig"]["Duration"], json!(5.0));
        assert_eq!(body["OutputConfig"]["EnableBGM"], "Enabled");
    }

    #[test]
    fn statuses_map_as_the_reference_says() {
        assert_eq!(poll_status(&detail(json!({"Status":"WAITING"}))).unwrap(), PollStatus::Waiting);
        assert_eq!(
            poll_status(&detail(json!({"Status":"PROCESSING","AigcVideoTask":{"Progress":40}})))
                .unwrap(),
            PollStatus::Processing { progress: 40 }
        );
        let ok = poll_status(&detail(json!({"Status":"FINISH","AigcVideoTask":{"ErrCode":0,"Output":{
            "FileInfos":[{"FileUrl":"https://cdn/x/abc.mp4?sign=1","FileType":"mp4","ExpireTime":"2026-12-01T00:00:00Z",
                          "MetaData":{"Size":123,"Width":1280,"Height":720,"Duration":5.0}}],
            "Usage":{"OutputSeconds":5}}}}))).unwrap();
        let PollStatus::Succeeded(out) = ok else { panic!("{ok:?}") };
        assert_eq!(out.files[0].file_name, "abc.mp4");
        assert_eq!(out.files[0].content_type, "video/mp4");
        assert_eq!(
            out.files[0].expires_at.map(vidgate_domain::rfc3339).as_deref(),
            Some("2026-12-01T00:00:00.000Z")
        );
        assert_eq!(out.files[0].file.external_url(), Some("https://cdn/x/abc.mp4?sign=1"));
        assert_eq!(out.usage.and_then(|u| u.output_seconds), Some(5.0));
        assert_eq!(
            poll_status(&detail(json!({"Status":"FINISH","AigcVideoTask":{"ErrCode":70000,"ErrCodeExt":"InvalidParameter.VoilationContent","Message":"no"}}))).unwrap(),
            PollStatus::Failed { code: ErrorType::upstream("InvalidParameter.VoilationContent"), message: "no".into() }
        );
        assert!(
            matches!(poll_status(&detail(json!({"Status":"ABORTED"}))).unwrap(), PollStatus::Failed { code, .. } if code.as_str() == "OperationCanceled")
        );
        assert!(matches!(
            poll_status(&detail(json!({"Status":"FINISH","AigcVideoTask":{"ErrCode":0}}))).unwrap(),
            PollStatus::Failed { .. }
        ));
        assert!(poll_status(&detail(json!({"Status":"EXPLODED"}))).is_err());
    }
}
