//! Unknown query parameters are refused, as unknown body fields are: a typo (`?log=1`) should
//! say so instead of silently doing nothing. Each queue route's parameters are listed here,
//! next to the router that names the routes; routes not listed (media, docs, the upstream's
//! callbacks) are not checked.

use std::task::{Context, Poll};

use axum::extract::{MatchedPath, Request};
use axum::response::{IntoResponse, Response};
use futures::future::{Either, Ready, ready};

use crate::ApiError;

/// The query parameters a route takes, by route template (both the seed's and fal's paths).
fn allowed(route: &str) -> Option<&'static [&'static str]> {
    let tail = route
        .strip_prefix(crate::BASE)
        .or_else(|| route.strip_prefix(crate::FAL_BASE))
        .unwrap_or(route);
    Some(match tail {
        "" | "/estimate" => &["fal_webhook"],
        "/requests" => &["status", "limit", "cursor"],
        "/requests/{request_id}/status" => &["logs"],
        "/requests/{request_id}/status/stream" => &["logs", "token"],
        "/requests/{request_id}/content" => &["variant", "token"],
        "/models"
        | "/requests/{request_id}"
        | "/requests/{request_id}/cancel"
        | "/requests/{request_id}/webhooks"
        | "/requests/{request_id}/webhooks/redeliver"
        | "/query/{task_id}" => &[],
        "/tencent-vod/v1/usage" => &["from", "to", "group_by"],
        "/admin/requests" => &["key", "status", "limit", "cursor"],
        "/admin/usage" => &["key", "from", "to", "group_by"],
        "/admin/ledger" | "/admin/audit" => &["key", "after", "limit"],
        "/admin/reconcile" => &["date", "from", "to", "tolerance"],
        "/admin/keys"
        | "/admin/keys/{name}"
        | "/admin/keys/{name}/limits"
        | "/admin/keys/{name}/budget"
        | "/admin/keys/{name}/top-ups"
        | "/admin/requests/{request_id}"
        | "/admin/requests/{request_id}/cancel"
        | "/admin/models"
        | "/admin/models/{model}"
        | "/admin/models/{model}/versions/{version}" => &[],
        "/v1/videos" => &["after", "limit", "order"],
        "/v1/videos/{video_id}/content" => &["variant"],
        "/v1/videos/{video_id}" | "/v1/models" => &[],
        _ => return None,
    })
}

/// The layer that refuses unknown query parameters, per route (it needs the matched route).
/// A plain service rather than `from_fn`, which would box and clone the route's stack again
/// for every request.
#[derive(Clone, Copy, Default)]
pub struct RefuseUnknownLayer;

impl<S> tower::Layer<S> for RefuseUnknownLayer {
    type Service = RefuseUnknown<S>;

    fn layer(&self, inner: S) -> RefuseUnknown<S> {
        RefuseUnknown(inner)
    }
}

#[derive(Clone)]
pub struct RefuseUnknown<S>(S);

impl<S> tower::Service<Request> for RefuseUnknown<S>
where
    S: tower::Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Either<Ready<Result<Response, S::Error>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        match refusal(&request) {
            Some(refused) => Either::Left(ready(Ok(refused))),
            None => Either::Right(self.0.call(request)),
        }
    }
}

/// The 422 for the first query parameter the matched route does not take, if any.
fn refusal(request: &Request) -> Option<Response> {
    let route = request.extensions().get::<MatchedPath>()?;
    let allowed = allowed(route.as_str())?;
    let query = request.uri().query()?;
    // Names as the caller meant them (`%6Cogs` is `logs`).
    let first = url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, _)| k)
        .find(|k| !allowed.contains(&k.as_ref()))?;
    let takes = if allowed.is_empty() {
        "this route takes no query parameters".to_owned()
    } else {
        format!("this route takes {}", allowed.join(", "))
    };
    Some(
        ApiError::invalid(
            &["query", &first],
            "extra_forbidden",
            format!("unknown query parameter {first:?}: {takes}"),
        )
        .into_response(),
    )
}
