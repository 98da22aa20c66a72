//! What the API answers, as typed bodies (their `ToSchema` is what `/openapi.json` shows, so
//! the documentation is the serializer). Built from a `TaskRecord` plus the request's base URL.

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use vidgate_domain::pricing::{Credits, Quote};
use vidgate_domain::{ErrorType, PublicStatus, StoredResult, TaskState, Usage};
use vidgate_store::{LogEntry, TaskRecord};
use vidgate_wire::ContentUrls;

use crate::BASE;
use crate::base_url::BaseUrl;
use crate::time::{rfc3339, secs_between};

/// One log entry, in fal's shape.
#[derive(Debug, Serialize, ToSchema)]
pub struct LogLine {
    pub message: String,
    /// `INFO`, `WARN` or `ERROR`.
    pub level: String,
    /// Always `USER`, as fal's clients expect.
    pub source: String,
    /// RFC 3339.
    pub timestamp: String,
}

impl From<&LogEntry> for LogLine {
    fn from(l: &LogEntry) -> Self {
        LogLine {
            message: l.message.clone(),
            level: l.level.as_str().into(),
            source: "USER".into(),
            timestamp: rfc3339(l.at),
        }
    }
}

/// Timings in seconds, and what the request is quoted, used and cost (credits).
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct Metrics {
    /// Time from acceptance until the request left the queue.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_time: Option<f64>,
    /// Time from leaving the queue until it ended (fal: time spent processing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inference_time: Option<f64>,
    /// The quote held at create (absent: unpriced).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimate: Option<f64>,
    /// What it used, once it succeeded (`output_seconds`, `resolution`, `audio`, and the
    /// upstream's token and image counts where it reports them).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub usage: Option<Usage>,
    /// What it was charged, once that is known: the cost of what the upstream made when it
    /// succeeded, 0 when it never reached the upstream or the upstream failed it. A request
    /// that ended for its owner while the upstream had its job (a timeout) is charged as the
    /// upstream bills that job once it ends. Absent: unpriced, still running, or its upstream
    /// job is still followed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<f64>,
}

impl Metrics {
    fn of(t: &TaskRecord) -> Self {
        let charge = t.charge.as_ref();
        let cost = match t.state() {
            _ if t.following_until().is_some() => None,
            TaskState::Succeeded => charge
                .and_then(|c| c.cost.as_ref())
                .map(|c| c.amount)
                .or(t.quote.as_ref().map(|q| q.amount)),
            // Failed, cancelled or timed out: nothing, unless the upstream ran the job anyway
            // and billed it (then so does vidgate).
            s if s.is_terminal() => charge
                .and_then(|c| c.cost.as_ref())
                .map(|c| c.amount)
                .or(t.quote.as_ref().map(|_| Credits::ZERO)),
            _ => None,
        };
        Metrics {
            queue_time: t.dispatched_at.map(|d| secs_between(t.created_at, d)),
            inference_time: match (t.dispatched_at, t.finished_at()) {
                (Some(d), Some(f)) => Some(secs_between(d, f)),
                _ => None,
            },
            estimate: t.quote.as_ref().map(|q| q.amount.as_credits()),
            usage: charge.and_then(|c| c.usage.clone()),
            cost: cost.map(Credits::as_credits),
        }
    }
}

/// A request's quote: what it is priced at, and the amount held at create (credits).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QuoteView {
    pub amount: f64,
    pub model_name: String,
    pub model_version: String,
    /// The resolution priced (the request's, or the model's default).
    pub resolution: Option<String>,
    pub audio: bool,
    /// The seconds priced (the request's duration, or the model's default).
    pub seconds: Option<f64>,
    pub per_second: f64,
    pub per_request: f64,
    /// The first day (UTC) of the price row applied.
    pub price_from: String,
}

impl QuoteView {
    pub fn of(q: &Quote) -> QuoteView {
        QuoteView {
            amount: q.amount.as_credits(),
            model_name: q.model_name.clone(),
            model_version: q.model_version.clone(),
            resolution: q.resolution.clone(),
            audio: q.audio,
            seconds: q.seconds,
            per_second: q.per_second.as_credits(),
            per_request: q.per_request.as_credits(),
            price_from: q.price_from.to_string(),
        }
    }
}

/// The status of a request (fal's queue status object, plus vidgate's extras).
#[derive(Debug, Serialize, ToSchema)]
pub struct StatusBody {
    /// Exactly one of `IN_QUEUE`, `IN_PROGRESS`, `COMPLETED`.
    #[schema(value_type = String, example = "IN_QUEUE")]
    pub status: &'static str,
    pub request_id: String,
    pub response_url: String,
    pub status_url: String,
    pub cancel_url: String,
    /// Requests ahead of this one in dispatch order (priority, then arrival; present while
    /// `IN_QUEUE`). With `accounting.max_running_per_key`, a request whose key already holds
    /// its share of upstream slots waits in place while requests behind it may start: the
    /// position then counts requests that may not in fact go first, so it is an upper bound.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_position: Option<i64>,
    /// Null unless asked for with `?logs=1`.
    pub logs: Option<Vec<LogLine>>,
    pub metrics: Metrics,
    /// 0–100.
    pub progress: i64,
    pub upstream_task_id: Option<String>,
    pub model_name: String,
    pub model_version: String,
    /// The request's prompt, if it had one (in listings only, so people can tell their
    /// requests apart).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    pub created_at: String,
    /// The live status stream (Server-Sent Events), with a token valid for at least an hour
    /// (up to 65 minutes: polls within five minutes get the same URL) so a browser
    /// `EventSource` can open it without headers. Present until the request completes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_url: Option<String>,
    /// Set when a `COMPLETED` request failed or was cancelled.
    pub error: Option<String>,
    /// Machine-readable failure kind (`request_cancelled`, `timeout`, an upstream code, …).
    #[schema(value_type = Option<String>)]
    pub error_type: Option<ErrorType>,
}

pub struct Urls {
    pub response_url: String,
    pub status_url: String,
    pub cancel_url: String,
}

pub fn urls(base: &BaseUrl, id: &str) -> Urls {
    let response_url = base.join(&format!("{BASE}/requests/{id}"));
    Urls {
        status_url: format!("{response_url}/status"),
        cancel_url: format!("{response_url}/cancel"),
        response_url,
    }
}

pub fn status_body(
    t: &TaskRecord,
    base: &BaseUrl,
    queue_position: Option<i64>,
    logs: Option<&[LogEntry]>,
) -> StatusBody {
    let id = t.id.to_string();
    let u = urls(base, &id);
    let public = t.state().public();
    StatusBody {
        status: public.as_str(),
        request_id: id,
        response_url: u.response_url,
        status_url: u.status_url,
        cancel_url: u.cancel_url,
        queue_position: (public == PublicStatus::InQueue).then(|| queue_position.unwrap_or(0)),
        logs: logs.map(|l| l.iter().map(LogLine::from).collect()),
        metrics: Metrics::of(t),
        progress: t.progress,
        upstream_task_id: t.upstream_task_id().map(str::to_owned),
        model_name: t.request.model_name().to_owned(),
        model_version: t.request.model_version().to_owned(),
        prompt: None,
        created_at: rfc3339(t.created_at),
        stream_url: None,
        error: t.error().map(str::to_owned),
        error_type: t.error_type().cloned(),
    }
}

/// The Tencent-style part of the create answer, as the seed's example shows it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct TencentTaskRef {
    /// The same value as `request_id`.
    pub task_id: String,
    /// Id of this HTTP call.
    pub request_id: String,
}

/// The create answer: fal's queue handle plus the Tencent envelope, so both kinds of client
/// work.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueueHandle {
    #[schema(value_type = String, example = "IN_QUEUE")]
    pub status: &'static str,
    pub request_id: String,
    pub response_url: String,
    pub status_url: String,
    pub cancel_url: String,
    /// Always null in this answer.
    #[schema(schema_with = null_schema, required = true)]
    pub logs: Option<()>,
    #[schema(value_type = Object)]
    pub metrics: Value,
    /// Requests ahead in the queue. `null` only when it could not be read right after the
    /// request was committed: the request is accepted all the same (the status route has it).
    #[schema(required = true)]
    pub queue_position: Option<i64>,
    /// The quote held against the key's budget (absent: the model has no price).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimate: Option<QuoteView>,
    #[serde(rename = "Response")]
    pub response: TencentTaskRef,
}

/// The seed's schema for `logs` in the create answer: `type: 'null'`.
fn null_schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new().schema_type(utoipa::openapi::schema::Type::Null).build()
}

pub fn queue_handle(
    t: &TaskRecord,
    base: &BaseUrl,
    queue_position: Option<i64>,
    http_request_id: String,
) -> QueueHandle {
    let id = t.id.to_string();
    let u = urls(base, &id);
    QueueHandle {
        status: t.state().public().as_str(),
        request_id: id.clone(),
        response_url: u.response_url,
        status_url: u.status_url,
        cancel_url: u.cancel_url,
        logs: None,
        metrics: Value::Object(Default::default()),
        queue_position,
        estimate: t.quote.as_ref().map(QuoteView::of),
        response: TencentTaskRef { task_id: id, request_id: http_request_id },
    }
}

pub use vidgate_wire::{ResultBody, Signing};

/// The stored result as clients read it: vidgate's own media as absolute URLs signed by the
/// owning key's hash (so anyone holding the URL may fetch the file until `media.url_ttl`
/// passes), upstream files by the upstream's URL.
pub fn result_body(
    t: &TaskRecord,
    stored: &StoredResult,
    base: &BaseUrl,
    signing: Signing<'_>,
) -> ResultBody {
    ResultBody::present(t.id, stored, ContentUrls { base: &base.0, signing })
}

/// One page of the caller's requests.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListBody {
    pub requests: Vec<StatusBody>,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// The `DescribeTaskDetail`-shaped answer of `GET /tencent-vod/v1/query/{task_id}`.
pub fn tencent_envelope(
    t: &TaskRecord,
    base: &BaseUrl,
    http_request_id: &str,
    signing: Signing<'_>,
) -> Value {
    let (status, err_code, err_ext) = match t.state() {
        TaskState::Queued => ("WAITING", 0, ""),
        TaskState::Submitting | TaskState::Running => ("PROCESSING", 0, ""),
        TaskState::Succeeded => ("FINISH", 0, ""),
        TaskState::Failed => {
            ("FINISH", 70000, t.error_type().map_or("FailedOperation", ErrorType::as_str))
        }
        TaskState::Cancelled => ("ABORTED", 70000, "OperationCanceled"),
    };
    let videos = t.result().map(|r| result_body(t, r, base, signing).videos);
    let files: Vec<Value> = videos
        .unwrap_or_default()
        .iter()
        .map(|f| {
            serde_json::json!({
                "FileUrl": f.url,
                "FileType": "mp4",
                "StorageMode": t.request.output_config().storage_mode.unwrap_or(vidgate_domain::request::StorageMode::Temporary).as_str(),
                "MediaName": t.request.output_config().media_name,
                "ExpireTime": f.expires_at,
                "FileId": f.file_id,
                "MetaData": {
                    "Size": f.file_size, "Width": f.width, "Height": f.height,
                    "Duration": f.duration, "Container": "mp4"
                }
            })
        })
        .collect();
    let id = t.id.to_string();
    serde_json::json!({
        "Response": {
            "TaskType": "AigcVideoTask",
            "Status": status,
            "CreateTime": rfc3339(t.created_at),
            "BeginProcessTime": t.dispatched_at.map(rfc3339).unwrap_or_default(),
            "FinishTime": t.finished_at().map(rfc3339).unwrap_or_default(),
            "AigcVideoTask": {
                "TaskId": id,
                "Status": status,
                "ErrCode": err_code,
                "ErrCodeExt": err_ext,
                "Message": t.error().unwrap_or_default(),
                "Progress": t.progress,
                "Input": vidgate_domain::request::upstream::to_upstream(&t.request),
                "Output": {
                    "FileInfos": files,
                    "Usage": t.charge.as_ref().and_then(|c| c.usage.as_ref()).map(Usage::to_tencent),
                },
                "SessionId": t.request.session_id().map(str::to_owned).unwrap_or_default(),
                "SessionContext": t.request.session_context().map(str::to_owned).unwrap_or_default(),
            },
            "RequestId": http_request_id,
        }
    })
}
