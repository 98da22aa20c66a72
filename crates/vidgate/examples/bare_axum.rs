//! The ceiling for this HTTP stack: axum on tokio answering a fixed JSON body, nothing else.
//! `bench/run.sh` loads it beside vidgate so vidgate's figures read as ratios of it.
//!
//!     cargo run --release -p vidgate --example bare_axum -- 127.0.0.1:9999

#![allow(clippy::unwrap_used)] // an example: a panic is how it reports failure

use axum::Router;
use axum::http::header;
use axum::routing::get;

const BODY: &str = r#"{"status":"IN_QUEUE","request_id":"019ab2c4-0000-7000-8000-000000000000","queue_position":3,"logs":null,"metrics":{}}"#;

#[tokio::main]
async fn main() {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:9999".into());
    let app = Router::new()
        .fallback(get(|| async { ([(header::CONTENT_TYPE, "application/json")], BODY) }));
    let listener = tokio::net::TcpListener::bind(&addr).await.expect("bind");
    axum::serve(listener, app).await.expect("serve");
}
