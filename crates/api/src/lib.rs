//! vidgate's HTTP edge: the fal-style queue API over `POST /tencent-vod/v1/aigc-video`, the
//! Tencent-compatible query route, media files, OpenAI's `/v1/videos`, and the ops routes. Handlers stay thin:
//! extract (auth, JSON, base URL) → domain/store call → view. All routes are in `router.rs`.

pub mod auth;
mod base_url;
pub mod catalog;
mod error;
mod error_code;
mod extract;
mod handlers;
pub mod limits;
pub mod metrics;
pub mod openai;
pub mod openapi;
pub mod pricing;
mod query_guard;
pub mod reconcile;
pub mod replicas;
mod router;
mod state;
pub mod status_cache;
pub mod stream_limit;
pub mod stream_tokens;
pub mod time;
mod views;

pub use auth::{generate_key, hash_key};
pub use error::{ApiError, ErrorView};
pub use error_code::ErrorCode;
pub use handlers::content::ServeMode;
pub use router::{metrics_router, ops_router, router};
pub use state::{ApiConfig, AppState, MediaServing, OutputLimits, Shared};
pub use time::rfc3339;

/// Base path of the queue API.
pub const BASE: &str = vidgate_wire::ROUTE_BASE;

/// fal's `owner/app` prefix of `BASE` (`aigc-video` is the app's sub-path in fal's terms).
pub const FAL_BASE: &str = "/tencent-vod/v1";
