//! Every route in one place.

use axum::Router;
use axum::routing::{delete, get, post, put};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::handlers::admin::{
    keys as admin_keys, models as admin_models, reconcile as admin_reconcile,
    reports as admin_reports, requests as admin_requests,
};
use crate::handlers::{
    callbacks, cancel, content, create, dashboard, estimate, list, models, ops, query, status,
    stream, usage, webhook,
};
use crate::{AppState, BASE, FAL_BASE, metrics};

/// The whole API: the queue routes (media included), admin, and the ops routes.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        // The queue API (fal's protocol over the seed's route).
        .route(BASE, post(create::create_request))
        .route(&format!("{BASE}/estimate"), post(estimate::estimate))
        .route("/tencent-vod/v1/usage", get(usage::usage))
        .route(&format!("{BASE}/requests"), get(list::list_requests))
        .route(&format!("{BASE}/requests/{{request_id}}"), get(status::get_result))
        .route(&format!("{BASE}/requests/{{request_id}}/status"), get(status::get_status))
        .route(&format!("{BASE}/requests/{{request_id}}/status/stream"), get(stream::stream_status))
        .route(&format!("{BASE}/requests/{{request_id}}/cancel"), put(cancel::cancel_request))
        .route(
            &format!("{BASE}/requests/{{request_id}}/content"),
            get(content::get_content).delete(content::delete_content),
        )
        .route(&format!("{BASE}/requests/{{request_id}}/webhooks"), get(webhook::list_deliveries))
        .route(
            &format!("{BASE}/requests/{{request_id}}/webhooks/redeliver"),
            post(webhook::redeliver),
        )
        // fal's clients build status/result/cancel URLs without the app's sub-path
        // (`owner/app/requests/{id}`) when they only have a request id.
        .route(&format!("{FAL_BASE}/requests/{{request_id}}"), get(status::get_result))
        .route(&format!("{FAL_BASE}/requests/{{request_id}}/status"), get(status::get_status))
        .route(
            &format!("{FAL_BASE}/requests/{{request_id}}/status/stream"),
            get(stream::stream_status),
        )
        .route(&format!("{FAL_BASE}/requests/{{request_id}}/cancel"), put(cancel::cancel_request))
        .route(
            &format!("{FAL_BASE}/requests/{{request_id}}/content"),
            get(content::get_content).delete(content::delete_content),
        )
        .route(&format!("{FAL_BASE}/models"), get(models::list_models))
        // Administration (admin keys only).
        .route("/admin/keys", post(admin_keys::create_key).get(admin_keys::list_keys))
        .route("/admin/keys/{name}", delete(admin_keys::revoke_key))
        .route("/admin/keys/{name}/limits", put(admin_keys::set_limits))
        .route("/admin/keys/{name}/budget", put(admin_keys::set_budget))
        .route("/admin/keys/{name}/top-ups", post(admin_keys::top_up))
        .route("/admin/requests", get(admin_requests::list))
        .route("/admin/requests/{request_id}", get(admin_requests::get))
        .route("/admin/requests/{request_id}/cancel", put(admin_requests::cancel))
        .route("/admin/usage", get(admin_reports::usage))
        .route("/admin/ledger", get(admin_reports::ledger))
        .route("/admin/audit", get(admin_reports::audit_log))
        .route("/admin/models", get(admin_models::list_entries))
        .route("/admin/reconcile", get(admin_reconcile::get))
        .route(
            "/admin/models/{model}",
            put(admin_models::put_model).delete(admin_models::delete_model),
        )
        .route(
            "/admin/models/{model}/versions/{version}",
            put(admin_models::put_version).delete(admin_models::delete_version),
        )
        // Compatibility with gateways that answer in the upstream's shape.
        .route("/tencent-vod/v1/query/{task_id}", get(query::query_task))
        // The upstream's push-mode completion callbacks.
        .route(
            "/callbacks/tencent-vod",
            post(callbacks::tencent_vod)
                .layer(axum::extract::DefaultBodyLimit::max(callbacks::CALLBACK_MAX_BYTES)),
        )
        .route("/openapi.json", get(ops::openapi_json))
        .route_layer(crate::query_guard::RefuseUnknownLayer)
        .merge(SwaggerUi::new("/docs").config(Config::new(["/openapi.json"])))
        // OpenAI's videos protocol over the same queue.
        .merge(crate::openai::routes());
    let api = if state.config.dashboard {
        api.route("/dashboard", get(dashboard::page))
            .route("/dashboard/", get(dashboard::slash))
            .route("/dashboard/{file}", get(dashboard::file))
    } else {
        api
    };
    finish(api, state)
}

/// Only the ops routes, for processes that run workers but serve no API (`--role worker`).
pub fn ops_router(state: AppState) -> Router {
    finish(Router::new(), state)
}

/// `/metrics` alone, for its own listener (`server.metrics_listen`).
pub fn metrics_router(state: AppState) -> Router {
    Router::new().route("/metrics", get(metrics::render)).with_state(state)
}

/// The span every line of an HTTP request's handling is logged in: the `x-request-id` of the
/// call, and the path without its query (a query may carry a stream token or a webhook URL).
/// Handlers record `request_id` once they know which video request the call is about.
fn http_span(request: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    let id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("");
    tracing::info_span!(
        "http",
        method = %request.method(),
        path = %request.uri().path(),
        http_request_id = %id,
        request_id = tracing::field::Empty,
    )
}

fn finish(routes: Router<AppState>, state: AppState) -> Router {
    let x_request_id = axum::http::HeaderName::from_static("x-request-id");
    let routes = routes.route("/healthz", get(ops::healthz)).route("/readyz", get(ops::readyz));
    let routes = if state.config.metrics_on_main {
        routes.route("/metrics", get(metrics::render))
    } else {
        routes
    };
    let body_read_timeout = state.config.body_read_timeout;
    // Only the metrics layer needs the matched route, so only it is applied per route: axum
    // clones a route's whole layer stack for every request, a boxed clone per layer. The rest
    // wrap the router once.
    let routes = routes
        .fallback(ops::not_found)
        .method_not_allowed_fallback(ops::method_not_allowed)
        .layer(metrics::TrackLayer::default())
        .with_state(state);
    let outer = tower::ServiceBuilder::new()
        .layer(SetRequestIdLayer::new(x_request_id.clone(), MakeRequestUuid))
        .layer(PropagateRequestIdLayer::new(x_request_id))
        .layer(TraceLayer::new_for_http().make_span_with(http_span))
        .layer(CatchPanicLayer::custom(|_| ops::panic_response()))
        // A body that trickles in slower than this fails (the connection with it).
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(body_read_timeout))
        .service(routes);
    Router::new().fallback_service(outer)
}
