//! The emulator's world: tasks, sessions, events, counters, and `step`, which moves tasks
//! through `WAITING` → `PROCESSING` → `FINISH` by the clock. A background ticker calls `step`
//! when the emulator runs as a server; tests call it by hand after moving a manual clock.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde_json::{Value, json};
use vidgate_domain::dimensions::output_shape;
use vidgate_domain::request::Switch;
use vidgate_domain::{Clock, VideoRequest};
use vidgate_render::scene::fnv1a;
use vidgate_render::{RequestScene, SceneText, VideoSpec, render_mp4};

use crate::auth::ApiError;
use crate::config::EmulatorConfig;
use crate::faults::Dice;
use crate::validate::ValidCreate;

pub(crate) use usage::UsageQuery;

const SESSION_TTL_MS: i64 = 3 * 24 * 3_600_000;
const FILE_TTL_MS: i64 = 7 * 24 * 3_600_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Waiting,
    Processing,
    Finish,
}

impl Phase {
    fn as_str(self) -> &'static str {
        match self {
            Phase::Waiting => "WAITING",
            Phase::Processing => "PROCESSING",
            Phase::Finish => "FINISH",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct FileMeta {
    pub name: String,
    pub size: u64,
    pub width: u32,
    pub height: u32,
    pub duration: f64,
}

#[derive(Debug, Clone)]
pub(crate) enum Outcome {
    Success(FileMeta),
    Failure { ext: String, message: String },
}

#[derive(Debug, Clone)]
pub(crate) struct EmuTask {
    pub id: String,
    /// Arrival order (ties of equal priority and time go first-come).
    pub seq: u64,
    pub sub_app_id: u64,
    pub session_id: String,
    pub session_context: String,
    pub input: Value,
    pub request: VideoRequest,
    pub priority: i64,
    pub phase: Phase,
    pub created_ms: i64,
    pub begin_ms: Option<i64>,
    pub finish_ms: Option<i64>,
    /// Being finished by a step (rendering); others leave it alone.
    pub finishing: bool,
    pub outcome: Option<Outcome>,
}

#[derive(Debug, Clone)]
struct EmuEvent {
    handle: String,
    task_id: String,
    delivered_ms: Option<i64>,
}

/// What the emulator has seen and done; `GET /__emulator/stats`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Stats {
    pub create_calls: u64,
    /// Jobs created: the number of billable upstream jobs.
    pub create_accepted: u64,
    pub duplicate_sessions: u64,
    pub invalid_parameters: u64,
    pub auth_failures: u64,
    pub faults_injected: u64,
    pub describe_calls: u64,
    pub pull_calls: u64,
    pub events_delivered: u64,
    pub events_confirmed: u64,
    pub pushes_sent: u64,
    /// Output downloads begun and finished (throttled `/files/` only, `file_rate` > 0).
    pub file_downloads_started: u64,
    pub file_downloads_finished: u64,
    /// Jobs created per `SessionId` (vidgate's request id): never more than one.
    pub accepted_per_session: BTreeMap<String, u64>,
    pub tasks_by_status: BTreeMap<String, u64>,
}

/// One job the emulator accepted, as the upstream's bill counts it: every job it ran is
/// billed, whatever became of the request that asked for it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobRecord {
    pub task_id: String,
    pub sub_app_id: u64,
    /// The caller's `SessionId` (vidgate's request id).
    pub session_id: String,
    /// `WAITING`, `PROCESSING` or `FINISH`.
    pub status: &'static str,
    /// Finished with a video.
    pub succeeded: bool,
    /// `Usage.OutputSeconds` of a finished video.
    pub output_seconds: Option<i64>,
}

#[derive(Default)]
struct Inner {
    tasks: HashMap<String, EmuTask>,
    order: Vec<String>,
    sessions: HashMap<(u64, String), (String, i64)>,
    events: HashMap<u64, Vec<EmuEvent>>,
    creates: HashMap<u64, VecDeque<i64>>,
    stats: Stats,
    counter: u64,
}

pub struct Emulator {
    pub config: EmulatorConfig,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) dice: Dice,
    inner: Mutex<Inner>,
    pub(crate) http: reqwest::Client,
}

fn iso(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let date = vidgate_providers::tencent::sign::utc_date(secs);
    let t = secs.rem_euclid(86_400);
    format!("{date}T{:02}:{:02}:{:02}Z", t / 3600, (t / 60) % 60, t % 60)
}

impl Emulator {
    pub fn new(config: EmulatorConfig, clock: Arc<dyn Clock>) -> Arc<Emulator> {
        let dice = Dice::new(config.faults.clone());
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        Arc::new(Emulator { config, clock, dice, inner: Mutex::new(Inner::default()), http })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn stats(&self) -> Stats {
        let inner = self.lock();
        let mut stats = inner.stats.clone();
        for t in inner.tasks.values() {
            *stats.tasks_by_status.entry(t.phase.as_str().into()).or_default() += 1;
        }
        stats
    }

    /// Every job accepted so far, in the order they were created.
    pub fn jobs(&self) -> Vec<JobRecord> {
        let inner = self.lock();
        inner
            .order
            .iter()
            .filter_map(|id| inner.tasks.get(id))
            .map(|t| {
                let video = match &t.outcome {
                    Some(Outcome::Success(f)) => Some(f),
                    _ => None,
                };
                JobRecord {
                    task_id: t.id.clone(),
                    sub_app_id: t.sub_app_id,
                    session_id: t.session_id.clone(),
                    status: t.phase.as_str(),
                    succeeded: video.is_some(),
                    output_seconds: video.map(|f| self.billed_seconds(f)),
                }
            })
            .collect()
    }

    pub(crate) fn count(&self, f: impl FnOnce(&mut Stats)) {
        f(&mut self.lock().stats);
    }

    /// Creates a task after the per-account create-rate and `SessionId` checks.
    pub(crate) fn create(
        &self,
        sub_app_id: u64,
        input: Value,
        valid: ValidCreate,
    ) -> Result<String, ApiError> {
        let now = self.clock.now_ms();
        let mut inner = self.lock();
        inner.stats.create_calls += 1;
        let rate = self.config.create_rate.max(1) as usize;
        let window = inner.creates.entry(sub_app_id).or_default();
        while window.front().is_some_and(|t| now - *t >= 1000) {
            window.pop_front();
        }
        if window.len() >= rate {
            return Err((
                "RequestLimitExceeded",
                format!("more than {rate} CreateAigcVideoTask calls per second"),
            ));
        }
        window.push_back(now);
        if !valid.session_id.is_empty() {
            let key = (sub_app_id, valid.session_id.clone());
            if let Some((task, at)) = inner.sessions.get(&key)
                && now - at < SESSION_TTL_MS
            {
                let task = task.clone();
                inner.stats.duplicate_sessions += 1;
                return Err((
                    "InvalidParameterValue.SessionId",
                    format!("the SessionId was used within the last 3 days (task {task})"),
                ));
            }
        }
        inner.counter += 1;
        let id = format!(
            "{sub_app_id}-AigcVideoTask-{:016x}{:04}t",
            uuid::Uuid::new_v4().as_u64_pair().0,
            inner.counter % 10_000
        );
        if !valid.session_id.is_empty() {
            inner.sessions.insert((sub_app_id, valid.session_id.clone()), (id.clone(), now));
            *inner.stats.accepted_per_session.entry(valid.session_id.clone()).or_default() += 1;
        }
        inner.stats.create_accepted += 1;
        let task = EmuTask {
            id: id.clone(),
            seq: inner.counter,
            sub_app_id,
            session_id: valid.session_id,
            session_context: valid.session_context,
            input,
            request: valid.request,
            priority: valid.priority,
            phase: Phase::Waiting,
            created_ms: now,
            begin_ms: None,
            finish_ms: None,
            finishing: false,
            outcome: None,
        };
        inner.order.push(id.clone());
        inner.tasks.insert(id.clone(), task);
        Ok(id)
    }

    /// The `Usage.OutputSeconds` the upstream bills for a finished video.
    fn billed_seconds(&self, f: &FileMeta) -> i64 {
        f.duration.round() as i64 + self.config.extra_billed_seconds as i64
    }

    fn file_url(&self, name: &str) -> String {
        format!("{}/files/{name}", self.config.public_url.trim_end_matches('/'))
    }

    /// The `AigcVideoTask` object of `DescribeTaskDetail` and events.
    fn aigc_task_json(&self, t: &EmuTask, now: i64) -> Value {
        let progress = match t.phase {
            Phase::Waiting => 0,
            Phase::Processing => {
                let into = now - t.begin_ms.unwrap_or(now);
                ((into as f64 / self.config.processing_time.as_millis().max(1) as f64) * 100.0)
                    .clamp(0.0, 99.0) as i64
            }
            Phase::Finish => 100,
        };
        let (err_code, err_ext, message, files, usage) = match &t.outcome {
            Some(Outcome::Success(f)) => {
                let storage = t
                    .input
                    .pointer("/OutputConfig/StorageMode")
                    .and_then(Value::as_str)
                    .unwrap_or("Temporary");
                let file = json!({
                    "StorageMode": storage, "MediaName": t.input.pointer("/OutputConfig/MediaName").cloned().unwrap_or(json!("")),
                    "FileType": "mp4", "FileUrl": self.file_url(&f.name),
                    "FileId": if storage == "Permanent" { json!(format!("5285890{:012}", t.created_ms % 1_000_000_000_000)) } else { json!("") },
                    "ExpireTime": iso(t.finish_ms.unwrap_or(now) + FILE_TTL_MS),
                    "MetaData": {"Size": f.size, "Container": "mp4", "Width": f.width, "Height": f.height, "Duration": f.duration},
                });
                (
                    0,
                    String::new(),
                    String::new(),
                    vec![file],
                    json!({"OutputSeconds": self.billed_seconds(f), "TotalSeconds": self.billed_seconds(f)}),
                )
            }
            Some(Outcome::Failure { ext, message }) => {
                (70000, ext.clone(), message.clone(), vec![], Value::Null)
            }
            None => (0, String::new(), String::new(), vec![], Value::Null),
        };
        json!({
            "TaskId": t.id, "Status": t.phase.as_str(), "ErrCode": err_code, "ErrCodeExt": err_ext, "Message": message,
            "Progress": progress, "Input": t.input, "Output": {"FileInfos": files, "Usage": usage},
            "SessionId": t.session_id, "SessionContext": t.session_context,
        })
    }

    pub(crate) fn describe(&self, sub_app_id: u64, task_id: &str) -> Result<Value, ApiError> {
        let now = self.clock.now_ms();
        let mut inner = self.lock();
        inner.stats.describe_calls += 1;
        let Some(t) = inner.tasks.get(task_id).filter(|t| t.sub_app_id == sub_app_id) else {
            return Err(("ResourceNotFound", format!("task {task_id} does not exist")));
        };
        Ok(json!({
            "TaskType": "AigcVideoTask", "Status": t.phase.as_str(), "CreateTime": iso(t.created_ms),
            "BeginProcessTime": t.begin_ms.map(iso).unwrap_or_default(), "FinishTime": t.finish_ms.map(iso).unwrap_or_default(),
            "AigcVideoTask": self.aigc_task_json(t, now),
        }))
    }

    /// `DescribeTasks`: newest first, `Limit` per page, `ScrollToken` = offset.
    pub(crate) fn list(&self, sub_app_id: u64, limit: usize, offset: usize) -> Value {
        let inner = self.lock();
        let mine: Vec<&EmuTask> = inner
            .order
            .iter()
            .rev()
            .filter_map(|id| inner.tasks.get(id))
            .filter(|t| t.sub_app_id == sub_app_id)
            .collect();
        let page: Vec<Value> = mine
            .iter()
            .skip(offset)
            .take(limit)
            .map(|t| json!({"TaskId": t.id, "Status": t.phase.as_str(), "TaskType": "AigcVideoTask", "CreateTime": iso(t.created_ms),
                            "SessionId": t.session_id, "SessionContext": t.session_context}))
            .collect();
        let next = if offset + page.len() < mine.len() {
            (offset + page.len()).to_string()
        } else {
            String::new()
        };
        json!({"TaskSet": page, "TotalCount": mine.len(), "ScrollToken": next})
    }

    fn event_json(&self, inner: &Inner, e: &EmuEvent, now: i64) -> Option<Value> {
        let t = inner.tasks.get(&e.task_id)?;
        Some(
            json!({"EventHandle": e.handle, "EventType": "AigcVideoTaskComplete", "AigcVideoCompleteEvent": self.aigc_task_json(t, now)}),
        )
    }

    /// Up to 16 events not yet confirmed and not delivered within the redelivery window.
    pub(crate) fn take_events(&self, sub_app_id: u64) -> Vec<Value> {
        let now = self.clock.now_ms();
        let redelivery = self.config.redelivery.as_millis() as i64;
        let mut inner = self.lock();
        let due: Vec<EmuEvent> = inner
            .events
            .get_mut(&sub_app_id)
            .map(|q| {
                q.iter_mut()
                    .filter(|e| e.delivered_ms.is_none_or(|d| now - d >= redelivery))
                    .take(16)
                    .map(|e| {
                        e.delivered_ms = Some(now);
                        e.clone()
                    })
                    .collect()
            })
            .unwrap_or_default();
        inner.stats.events_delivered += due.len() as u64;
        due.iter().filter_map(|e| self.event_json(&inner, e, now)).collect()
    }

    pub(crate) fn confirm(&self, sub_app_id: u64, handles: &[String]) {
        let mut inner = self.lock();
        let before = inner.events.get(&sub_app_id).map_or(0, Vec::len);
        if let Some(q) = inner.events.get_mut(&sub_app_id) {
            q.retain(|e| !handles.contains(&e.handle));
        }
        let after = inner.events.get(&sub_app_id).map_or(0, Vec::len);
        inner.stats.events_confirmed += (before - after) as u64;
    }

    /// Moves every task the clock says has moved. Returns the events it created.
    pub async fn step(self: &Arc<Self>) -> usize {
        let now = self.clock.now_ms();
        let processing_ms = self.config.processing_time.as_millis() as i64;
        let due: Vec<(String, VideoRequest)> = {
            let mut inner = self.lock();
            let mut due = Vec::new();
            for t in inner.tasks.values_mut() {
                if t.phase == Phase::Processing
                    && !t.finishing
                    && t.begin_ms.is_some_and(|b| now - b >= processing_ms)
                {
                    t.finishing = true;
                    due.push((t.id.clone(), t.request.clone()));
                }
            }
            due
        };
        let mut finished = Vec::new();
        for (id, request) in due {
            let outcome = self.finish_outcome(&id, &request).await;
            finished.push((id, outcome));
        }
        let mut pushes = Vec::new();
        {
            let mut inner = self.lock();
            for (id, outcome) in finished {
                let Some(t) = inner.tasks.get_mut(&id) else { continue };
                t.phase = Phase::Finish;
                t.finish_ms = Some(now);
                t.finishing = false;
                t.outcome = Some(outcome);
                let sub = t.sub_app_id;
                let event = EmuEvent {
                    handle: format!("evt-{}", uuid::Uuid::new_v4().simple()),
                    task_id: id,
                    delivered_ms: None,
                };
                if self.config.push_url.is_some() {
                    if let Some(body) = self.event_json(&inner, &event, now) {
                        pushes.push(body);
                    }
                } else {
                    inner.events.entry(sub).or_default().push(event);
                }
            }
            self.start_waiting(&mut inner, now);
        }
        let n = pushes.len();
        for body in pushes {
            crate::push::send(self.clone(), body);
        }
        n
    }

    /// Starts waiting tasks while their account has processing slots (priority, then age).
    fn start_waiting(&self, inner: &mut Inner, now: i64) {
        let queue_ms = self.config.queue_time.as_millis() as i64;
        for account in &self.config.accounts {
            let busy = inner
                .tasks
                .values()
                .filter(|t| t.sub_app_id == account.sub_app_id && t.phase == Phase::Processing)
                .count();
            let mut free = account.concurrency.saturating_sub(busy);
            if free == 0 {
                continue;
            }
            let mut waiting: Vec<(i64, i64, u64, String)> = inner
                .tasks
                .values()
                .filter(|t| {
                    t.sub_app_id == account.sub_app_id
                        && t.phase == Phase::Waiting
                        && now - t.created_ms >= queue_ms
                })
                .map(|t| (-t.priority, t.created_ms, t.seq, t.id.clone()))
                .collect();
            waiting.sort();
            for (_, _, _, id) in waiting {
                if free == 0 {
                    break;
                }
                if let Some(t) = inner.tasks.get_mut(&id) {
                    t.phase = Phase::Processing;
                    t.begin_ms = Some(now);
                    free -= 1;
                }
            }
        }
    }

    async fn finish_outcome(&self, id: &str, request: &VideoRequest) -> Outcome {
        let prompt = request.prompt().map(str::to_owned).unwrap_or_default().to_lowercase();
        if let Some(word) = self
            .config
            .moderation_blocklist
            .iter()
            .find(|w| !w.is_empty() && prompt.contains(&w.to_lowercase()))
        {
            return Outcome::Failure {
                ext: "InvalidParameter.VoilationContent".into(),
                message: format!("the prompt violates the content policy ({word:?})"),
            };
        }
        if self.dice.task_fails() {
            return Outcome::Failure {
                ext: "ModelGenerateFailed".into(),
                message: "the model failed to generate the video (injected fault)".into(),
            };
        }
        let shape = output_shape(&self.config.catalog, request);
        let (width, height) = vidgate_render::encodable_size(shape.width, shape.height);
        let spec = VideoSpec {
            width,
            height,
            duration_secs: shape.duration_secs,
            fps: self.config.fps,
            audio: request.output_config().audio_generation == Some(Switch::Enabled),
        };
        let name = format!("{id}.mp4");
        let path = self.config.media_dir.join(&name);
        let prompt = request.prompt().map(str::to_owned).unwrap_or_default();
        let padding = self.config.output_padding;
        let rendered = tokio::task::spawn_blocking(move || -> Result<u64, String> {
            std::fs::create_dir_all(path.parent().unwrap_or(std::path::Path::new(".")))
                .map_err(|e| e.to_string())?;
            let tmp = path.with_extension("partial");
            let file = std::fs::File::create(&tmp).map_err(|e| e.to_string())?;
            let text = SceneText { prompt, details: vec!["Tencent VOD emulator".into()] };
            let scene = RequestScene::new(&spec, fnv1a(text.prompt.as_bytes()), &text, None, None);
            render_mp4(&spec, &scene, std::io::BufWriter::new(file)).map_err(|e| e.to_string())?;
            if padding > 0 {
                pad(&tmp, padding).map_err(|e| e.to_string())?;
            }
            std::fs::rename(&tmp, &path).map_err(|e| e.to_string())?;
            std::fs::metadata(&path).map(|m| m.len()).map_err(|e| e.to_string())
        })
        .await
        .unwrap_or_else(|e| Err(e.to_string()));
        match rendered {
            Ok(size) => Outcome::Success(FileMeta {
                name,
                size,
                width: spec.width,
                height: spec.height,
                duration: f64::from(spec.frame_count()) / f64::from(spec.fps),
            }),
            Err(e) => Outcome::Failure {
                ext: "InternalError".into(),
                message: format!("the emulator could not render: {e}"),
            },
        }
    }
}

/// Appends `bytes` of a repeating pattern (not zeros, so nothing along the way can compress
/// or sparse it away).
fn pad(path: &std::path::Path, bytes: u64) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().append(true).open(path)?;
    let block: Vec<u8> =
        (0..1024 * 1024u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    let mut left = bytes;
    while left > 0 {
        let n = left.min(block.len() as u64) as usize;
        f.write_all(&block[..n])?;
        left -= n as u64;
    }
    f.sync_all()
}

#[cfg(test)]
mod tests;
mod usage;
