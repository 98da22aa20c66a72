//! Unknown query parameters are refused, as unknown body fields are: a typo (`?log=1`) should
//! say so instead of silently doing nothing. Each queue route's parameters are listed here,
//! next to the router that names the routes; routes not listed (media, docs, the upstream's
//! callbacks) are not checked.

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

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
        "/admin/keys"
        | "/admin/keys/{name}"
        | "/admin/keys/{name}/limits"
        | "/admin/keys/{name}/budget"
        | "/admin/keys/{name}/top-ups"
        | "/admin/requests/{request_id}"
        | "/admin/requests/{request_id}/cancel" => &[],
        "/v1/videos" => &["after", "limit", "order"],
        "/v1/videos/{video_id}/content" => &["variant"],
        "/v1/videos/{video_id}" | "/v1/models" => &[],
        _ => return None,
    })
}

pub async fn refuse_unknown(request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned());
    if let (Some(allowed), Some(query)) =
        (route.as_deref().and_then(allowed), request.uri().query())
    {
        // Names as the caller meant them (`%6Cogs` is `logs`).
        let unknown: Vec<String> = url::form_urlencoded::parse(query.as_bytes())
            .map(|(k, _)| k.into_owned())
            .filter(|k| !allowed.contains(&k.as_str()))
            .collect();
        if let Some(first) = unknown.first() {
            let takes = if allowed.is_empty() {
                "this route takes no query parameters".to_owned()
            } else {
                format!("this route takes {}", allowed.join(", "))
            };
            return ApiError::invalid(
                &["query", first],
                "extra_forbidden",
                format!("unknown query parameter {first:?}: {takes}"),
            )
            .into_response();
        }
    }
    next.run(request).await
}
