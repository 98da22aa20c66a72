//! OpenAI's videos protocol (`openai-python`'s `client.videos`) over the same queue, store
//! and keys as the fal routes: a request made through either is visible through the other,
//! with the same id. Errors take OpenAI's shape (`error.rs`); model names are aliases.

pub(crate) mod create;
pub(crate) mod doc;
mod error;
mod form;
pub(crate) mod routes;
mod video;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;

use crate::AppState;

pub use video::{VideoError, VideoObject};

/// The `/v1` routes, with OpenAI's error shape and the house query check.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/videos",
            axum::routing::post(routes::create_video)
                .layer(DefaultBodyLimit::max(form::MULTIPART_MAX_BYTES))
                .get(routes::list_videos),
        )
        .route("/v1/videos/{video_id}", get(routes::retrieve_video).delete(routes::delete_video))
        .route("/v1/videos/{video_id}/content", get(routes::video_content))
        .route("/v1/models", get(routes::list_models))
        .route_layer(crate::query_guard::RefuseUnknownLayer)
        .route_layer(axum::middleware::from_fn(error::reshape))
}
