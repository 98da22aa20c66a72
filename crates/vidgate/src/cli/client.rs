//! The client commands: talk to a running vidgate over HTTP like any application would.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::progress::{Download, Watch};

#[derive(Debug, Clone, Args)]
pub struct Conn {
    /// The vidgate server.
    #[arg(long, env = "VIDGATE_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// API key (`vidgate keys create`).
    #[arg(long, env = "VIDGATE_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
}

#[derive(Debug, Args)]
pub struct IdArgs {
    /// The request id (`request_id` of the create answer).
    pub id: String,
    #[command(flatten)]
    pub conn: Conn,
}

#[derive(Debug, Args)]
pub struct ResultArgs {
    pub id: String,
    /// Download the video to this file.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub conn: Conn,
}

#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// Model name: Kling, Hailuo, Vidu, GV, OS, PixVerse, Hunyuan, Mingmou.
    #[arg(long)]
    pub model: Option<String>,
    /// Model version, e.g. 2.1 for Kling.
    #[arg(long = "version", value_name = "VERSION")]
    pub model_version: Option<String>,
    #[arg(long)]
    pub prompt: Option<String>,
    #[arg(long)]
    pub negative_prompt: Option<String>,
    /// Seconds.
    #[arg(long)]
    pub duration: Option<String>,
    /// e.g. 720P, 1080P.
    #[arg(long)]
    pub resolution: Option<String>,
    /// e.g. 16:9, 9:16, 1:1.
    #[arg(long)]
    pub aspect_ratio: Option<String>,
    /// Ask for an audio track.
    #[arg(long)]
    pub audio: bool,
    /// −10 … 10, higher first.
    #[arg(long, allow_hyphen_values = true)]
    pub priority: Option<i64>,
    /// First-frame image URL (repeat for several images).
    #[arg(long = "image")]
    pub images: Vec<String>,
    /// Last-frame image URL.
    #[arg(long)]
    pub last_frame: Option<String>,
    #[arg(long)]
    pub session_id: Option<String>,
    #[arg(long)]
    pub session_context: Option<String>,
    /// A JSON file with a whole create body; the flags above override its fields.
    #[arg(long)]
    pub body: Option<PathBuf>,
    #[arg(long)]
    pub idempotency_key: Option<String>,
    /// Wait for the request to finish, showing progress.
    #[arg(long)]
    pub wait: bool,
    /// Download the finished video here (implies --wait).
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Print the whole create answer as JSON instead of only the request id.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub conn: Conn,
}

pub struct Client {
    http: reqwest::Client,
    conn: Conn,
}

impl Client {
    fn new(conn: Conn) -> Result<Client, String> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
        Ok(Client { http, conn })
    }

    fn base(&self) -> String {
        format!("{}/tencent-vod/v1/aigc-video", self.conn.url.trim_end_matches('/'))
    }

    fn request(&self, method: Method, url: &str) -> reqwest::RequestBuilder {
        let mut r = self.http.request(method, url);
        // Only vidgate itself gets the key; a video URL on another host must not.
        if url.starts_with(self.conn.url.trim_end_matches('/'))
            && let Some(k) = &self.conn.api_key
        {
            r = r.bearer_auth(k);
        }
        r
    }

    async fn call(&self, r: reqwest::RequestBuilder) -> Result<(StatusCode, Value), String> {
        let response =
            r.send().await.map_err(|e| format!("cannot reach {}: {e}", self.conn.url))?;
        let status = response.status();
        let text = response.text().await.map_err(|e| format!("reading the answer failed: {e}"))?;
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok((status, body))
    }

    pub async fn get(&self, url: &str) -> Result<(StatusCode, Value), String> {
        self.call(self.request(Method::GET, url)).await
    }

    pub async fn download(&self, url: &str, to: &std::path::Path) -> Result<u64, String> {
        let mut response = self
            .request(Method::GET, url)
            .send()
            .await
            .map_err(|e| format!("download failed: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("download failed: HTTP {}", response.status()));
        }
        let bar = Download::new(response.content_length());
        let tmp = to.with_extension("partial");
        let mut file = tokio::fs::File::create(&tmp)
            .await
            .map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
        let mut total = 0u64;
        while let Some(chunk) =
            response.chunk().await.map_err(|e| format!("download failed: {e}"))?
        {
            tokio::io::AsyncWriteExt::write_all(&mut file, &chunk)
                .await
                .map_err(|e| e.to_string())?;
            total += chunk.len() as u64;
            bar.set(total);
        }
        tokio::io::AsyncWriteExt::flush(&mut file).await.map_err(|e| e.to_string())?;
        tokio::fs::rename(&tmp, to).await.map_err(|e| e.to_string())?;
        bar.finish();
        Ok(total)
    }
}

/// Explains an error answer in a line or a few (422: one line per problem).
fn explain(status: StatusCode, body: &Value) -> String {
    match body.get("detail") {
        Some(Value::Array(items)) => {
            let lines: Vec<String> = items
                .iter()
                .map(|e| {
                    let loc: Vec<String> = e["loc"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|l| l.to_string().trim_matches('"').to_owned())
                        .collect();
                    format!("  {}: {}", loc.join("."), e["msg"].as_str().unwrap_or(""))
                })
                .collect();
            format!("HTTP {status}: the request is invalid:\n{}", lines.join("\n"))
        }
        Some(Value::String(d)) => format!("HTTP {status}: {d}"),
        _ => format!("HTTP {status}: {body}"),
    }
}

fn build_body(a: &SubmitArgs) -> Result<Value, String> {
    let mut body = match &a.body {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            serde_json::from_str(&text)
                .map_err(|e| format!("{} is not valid JSON: {e}", path.display()))?
        }
        None => json!({}),
    };
    let Some(obj) = body.as_object_mut() else {
        return Err("the --body file must hold a JSON object".into());
    };
    let mut set = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            obj.insert(k.into(), v);
        }
    };
    set("model_name", a.model.clone().map(Value::from));
    set("model_version", a.model_version.clone().map(Value::from));
    set("prompt", a.prompt.clone().map(Value::from));
    set("negative_prompt", a.negative_prompt.clone().map(Value::from));
    set("tasks_priority", a.priority.map(Value::from));
    set("last_frame_url", a.last_frame.clone().map(Value::from));
    set("session_id", a.session_id.clone().map(Value::from));
    set("session_context", a.session_context.clone().map(Value::from));
    if !a.images.is_empty() {
        set(
            "file_infos",
            Some(a.images.iter().map(|u| json!({"type": "Url", "url": u})).collect()),
        );
    }
    let output = obj.entry("output_config").or_insert_with(|| json!({}));
    if let Some(o) = output.as_object_mut() {
        for (k, v) in [
            ("duration", &a.duration),
            ("resolution", &a.resolution),
            ("aspect_ratio", &a.aspect_ratio),
        ] {
            if let Some(v) = v {
                o.insert(k.into(), Value::from(v.clone()));
            }
        }
        if a.audio {
            o.insert("audio_generation".into(), "Enabled".into());
        }
        if o.is_empty() {
            obj.remove("output_config");
        }
    }
    Ok(body)
}

fn client_or_exit(conn: &Conn) -> Result<Client, ExitCode> {
    if conn.api_key.is_none() {
        eprintln!("vidgate: no API key: pass --api-key or set VIDGATE_API_KEY");
        return Err(ExitCode::FAILURE);
    }
    Client::new(conn.clone()).map_err(super::fail)
}

pub async fn submit(a: SubmitArgs) -> ExitCode {
    let client = match client_or_exit(&a.conn) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let body = match build_body(&a) {
        Ok(b) => b,
        Err(e) => return super::fail(e),
    };
    let mut r = client.request(Method::POST, &client.base()).json(&body);
    if let Some(k) = &a.idempotency_key {
        r = r.header("Idempotency-Key", k);
    }
    let handle = match client.call(r).await {
        Ok((s, b)) if s.is_success() => b,
        Ok((s, b)) => return super::fail(explain(s, &b)),
        Err(e) => return super::fail(e),
    };
    let id = handle["request_id"].as_str().unwrap_or_default().to_owned();
    if a.json {
        println!("{}", serde_json::to_string_pretty(&handle).unwrap_or_default());
    } else {
        println!("{id}");
    }
    if !(a.wait || a.output.is_some()) {
        return ExitCode::SUCCESS;
    }
    let status_url = handle["status_url"].as_str().unwrap_or_default().to_owned();
    let final_status = match watch(&client, &status_url).await {
        Ok(s) => s,
        Err(e) => return super::fail(e),
    };
    if let Some(err) = final_status.get("error").and_then(Value::as_str) {
        let kind = final_status["error_type"].as_str().unwrap_or("error");
        return super::fail(format!("request {id} failed ({kind}): {err}"));
    }
    let response_url = handle["response_url"].as_str().unwrap_or_default();
    fetch_result(&client, response_url, a.output.as_deref()).await
}

/// Polls until COMPLETED, drawing queue position then progress.
async fn watch(client: &Client, status_url: &str) -> Result<Value, String> {
    let watch = Watch::new();
    loop {
        let (code, body) = client.get(status_url).await?;
        if !(code == StatusCode::OK || code == StatusCode::ACCEPTED) {
            watch.abandon();
            return Err(explain(code, &body));
        }
        match body["status"].as_str() {
            Some("IN_QUEUE") => watch.queued(body["queue_position"].as_i64().unwrap_or(0)),
            Some("IN_PROGRESS") => watch.progress(body["progress"].as_u64().unwrap_or(0)),
            _ => {
                watch.done(body.get("error").and_then(Value::as_str).is_none());
                return Ok(body);
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn fetch_result(client: &Client, url: &str, output: Option<&std::path::Path>) -> ExitCode {
    let (code, body) = match client.get(url).await {
        Ok(x) => x,
        Err(e) => return super::fail(e),
    };
    match code {
        StatusCode::OK => {}
        StatusCode::ACCEPTED => {
            eprintln!(
                "vidgate: not finished yet (status {})",
                body["status"].as_str().unwrap_or("?")
            );
            println!("{}", serde_json::to_string_pretty(&body).unwrap_or_default());
            return ExitCode::from(3);
        }
        _ => return super::fail(explain(code, &body)),
    }
    let Some(path) = output else {
        println!("{}", serde_json::to_string_pretty(&body).unwrap_or_default());
        return ExitCode::SUCCESS;
    };
    let Some(video_url) = body["video"]["url"].as_str() else {
        return super::fail("the result has no video.url");
    };
    match client.download(video_url, path).await {
        Ok(bytes) => {
            eprintln!("vidgate: saved {} ({bytes} bytes)", path.display());
            ExitCode::SUCCESS
        }
        Err(e) => super::fail(e),
    }
}

pub async fn status(a: IdArgs) -> ExitCode {
    let client = match client_or_exit(&a.conn) {
        Ok(c) => c,
        Err(code) => return code,
    };
    match client.get(&format!("{}/requests/{}/status?logs=1", client.base(), a.id)).await {
        Ok((s, b)) if s == StatusCode::OK || s == StatusCode::ACCEPTED => {
            println!("{}", serde_json::to_string_pretty(&b).unwrap_or_default());
            ExitCode::SUCCESS
        }
        Ok((s, b)) => super::fail(explain(s, &b)),
        Err(e) => super::fail(e),
    }
}

pub async fn result(a: ResultArgs) -> ExitCode {
    let client = match client_or_exit(&a.conn) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let url = format!("{}/requests/{}", client.base(), a.id);
    fetch_result(&client, &url, a.output.as_deref()).await
}

pub async fn cancel(a: IdArgs) -> ExitCode {
    let client = match client_or_exit(&a.conn) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let url = format!("{}/requests/{}/cancel", client.base(), a.id);
    match client.call(client.request(Method::PUT, &url)).await {
        Ok((s, b)) => {
            println!("{}", b["status"].as_str().unwrap_or("?"));
            if s == StatusCode::ACCEPTED { ExitCode::SUCCESS } else { ExitCode::FAILURE }
        }
        Err(e) => super::fail(e),
    }
}
