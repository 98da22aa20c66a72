//! The upstream's JSON, as far as vidgate reads it. Every field is optional: the upstream adds
//! and drops fields weekly, and answers `null` where a field does not apply.

use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TaskDetail {
    pub task_type: Option<String>,
    /// `WAITING`, `PROCESSING`, `FINISH`, `ABORTED`.
    pub status: Option<String>,
    pub create_time: Option<String>,
    pub begin_process_time: Option<String>,
    pub finish_time: Option<String>,
    pub aigc_video_task: Option<AigcVideoTask>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AigcVideoTask {
    pub task_id: Option<String>,
    pub status: Option<String>,
    pub err_code: Option<i64>,
    pub err_code_ext: Option<String>,
    pub message: Option<String>,
    pub progress: Option<i64>,
    pub output: Option<AigcOutput>,
    pub session_id: Option<String>,
    pub session_context: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AigcOutput {
    pub file_infos: Option<Vec<OutputFileInfo>>,
    pub usage: Option<Value>,
    pub procedure_task_ids: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct OutputFileInfo {
    pub storage_mode: Option<String>,
    pub media_name: Option<String>,
    pub file_type: Option<String>,
    pub file_url: Option<String>,
    pub file_id: Option<String>,
    pub expire_time: Option<String>,
    pub meta_data: Option<MetaData>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct MetaData {
    pub size: Option<u64>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub duration: Option<f64>,
    pub container: Option<String>,
}

/// One event of `PullEvents` (or the body of a push callback).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct EventContent {
    pub event_handle: Option<String>,
    pub event_type: Option<String>,
    pub aigc_video_complete_event: Option<AigcVideoTask>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TaskSimpleInfo {
    pub task_id: Option<String>,
    pub status: Option<String>,
    pub task_type: Option<String>,
    pub create_time: Option<String>,
    pub session_id: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TaskList {
    pub task_set: Option<Vec<TaskSimpleInfo>>,
    pub scroll_token: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct EventSet {
    pub event_set: Option<Vec<EventContent>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recorded_shape_of_describe_task_detail_parses_with_nulls_and_unknown_fields() {
        let body = serde_json::json!({
            "TaskType": "AigcVideoTask", "Status": "FINISH", "CreateTime": "2026-11-24T10:00:00Z",
            "BeginProcessTime": "2026-11-24T10:00:05Z", "FinishTime": "2026-11-24T10:01:05Z",
            "EditMediaTask": null, "SomethingNew": {"x": 1},
            "AigcVideoTask": {"TaskId": "t-1", "Status": "FINISH", "ErrCode": 0, "ErrCodeExt": "", "Message": "",
                "Progress": 100, "Input": {"ModelName": "Kling"},
                "Output": {"FileInfos": [{"StorageMode": "Temporary", "FileType": "mp4", "FileUrl": "https://x/y.mp4",
                    "ExpireTime": "2026-12-01T10:01:05Z", "FileId": null, "MetaData": {"Size": 10, "Width": 1280, "Height": 720, "Duration": 5.0}}],
                    "Usage": {"OutputSeconds": 5}, "ProcedureTaskIds": null},
                "SessionId": "s", "SessionContext": null}
        });
        let d: TaskDetail = serde_json::from_value(body).unwrap();
        let t = d.aigc_video_task.unwrap();
        assert_eq!(t.err_code, Some(0));
        let f = &t.output.unwrap().file_infos.unwrap()[0];
        assert_eq!(f.meta_data.as_ref().unwrap().width, Some(1280));
        assert_eq!(f.file_id, None);
    }
}
