//! Logging setup: `text` or `json`, filtered by `log.level` (or `RUST_LOG`), to stderr so
//! stdout stays for command output (`keys create` prints only the key).

use tracing_subscriber::EnvFilter;

use crate::config::LogConfig;

pub fn init(log: &LogConfig) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&log.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    // JSON lines carry every enclosing span's fields (`http_request_id`, `request_id`, …), so
    // one request's whole life can be selected from the log by its id.
    let _ = if log.format == crate::config::LogFormat::Json {
        builder.json().with_current_span(true).with_span_list(true).try_init()
    } else {
        builder.try_init()
    };
}
