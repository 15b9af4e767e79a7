//! The HTTP surface: GraphQL over HTTP (POST and GET) at `/graphql`, the GraphiQL playground when
//! a browser GETs `/graphql`, graphql-transport-ws subscriptions at `/graphql/ws`, GraphQL over
//! SSE at `/graphql/stream`, `/healthz`, `/readyz`, `/metrics`, and the OAuth redirects
//! `/auth/{provider}/start` and `/auth/{provider}/callback`. Every route resolves its caller
//! through [`caller`]. CORS is off unless `COLLOQUY_CORS_ORIGINS` names origins.

pub mod caller;
mod files;
mod graphql;
mod oauth;
pub mod playground;
mod sse;
mod ws;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::graphql::ColloquySchema;
use crate::graphql::context::Services;
use crate::graphql::fast::FastPath;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub schema: ColloquySchema,
    /// The extension-free schema for reads that qualify (see `graphql::fast`).
    pub fast: FastPath,
    pub services: Services,
    pub metrics: Arc<HttpMetrics>,
}

/// Request counters for `/metrics`.
#[derive(Debug, Default)]
pub struct HttpMetrics {
    graphql_requests: AtomicU64,
    graphql_errors: AtomicU64,
    /// Reads answered by the extension-free schema, and those of them run again on the exact one.
    graphql_fast: AtomicU64,
    graphql_fast_retried: AtomicU64,
    /// Fast reads with a root field answered by a plan (`graphql::plan`).
    graphql_planned: AtomicU64,
    rate_limited: AtomicU64,
    ws_connections: AtomicU64,
}

pub fn router(state: AppState) -> Router {
    let max_body = state.services.config.limits.max_body_bytes;
    let x_request_id = header::HeaderName::from_static("x-request-id");
    let cors = cors(&state.services.config.server.cors_origins);
    // `/graphql` also takes GraphQL multipart requests carrying a file (`uploadFile`): its body
    // may be COLLOQUY_MAX_UPLOAD_BYTES larger; JSON bodies are still held to the plain limit.
    let upload_body = usize::try_from(state.services.config.uploads.max_bytes)
        .unwrap_or(usize::MAX)
        .saturating_add(max_body);
    let graphql_routes = Router::new()
        .route("/graphql", get(graphql::get).post(graphql::post))
        .layer(DefaultBodyLimit::max(upload_body))
        .layer(RequestBodyLimitLayer::new(upload_body));
    let router = Router::new()
        .route("/files/{id}", get(files::download))
        .route("/graphql/ws", get(ws::upgrade))
        .route("/graphql/stream", get(sse::get).post(sse::post))
        .route("/graphql/assets/{name}", get(playground::asset))
        .route("/auth/{provider}/start", get(oauth::start))
        .route("/auth/{provider}/callback", get(oauth::callback))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        // Limits the body as it streams in; a declared length over the limit is a 413. The
        // handlers read bodies as `Bytes`, which axum limits too: the same limit, not axum's 2 MB.
        .layer(DefaultBodyLimit::max(max_body))
        .layer(RequestBodyLimitLayer::new(max_body))
        .merge(graphql_routes)
        .layer(axum::middleware::map_response(close_after_refused_body))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
                let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
                tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
            }),
        )
        .layer(PropagateRequestIdLayer::new(x_request_id.clone()))
        .layer(SetRequestIdLayer::new(x_request_id, MakeRequestUuid));
    // Outermost, so preflights are answered before routing and every response (413s included)
    // carries the headers.
    match cors {
        Some(cors) => router.layer(cors).with_state(state),
        None => router.with_state(state),
    }
}

/// A 413 says the connection will close. The server answers it without reading the body and
/// then drops the connection (the unread body cannot be skipped); without `Connection: close` a
/// client sees a complete response, keeps the connection for its next request, and that request
/// fails with a broken pipe (seen in `transport::request_body_limit`).
async fn close_after_refused_body(mut response: Response) -> Response {
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// CORS for the configured origins (`*` for any), or None (no CORS headers at all) when there are
/// none. Browsers may send `Authorization` and `Content-Type` with GET and POST, and read the
/// request id, the ignored-token warning and `Retry-After`. No credentials: Colloquy uses bearer
/// tokens, never cookies.
/// The request's `x-request-id` (set by the router's layer when the client sent none).
pub(crate) fn request_id_of(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn cors(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let allow_origin = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(
            origins
                .iter()
                .filter_map(|o| HeaderValue::from_str(o).ok())
                .collect::<Vec<_>>(),
        )
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow_origin)
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
            .expose_headers([
                header::HeaderName::from_static("x-request-id"),
                caller::AUTH_WARNING,
                header::RETRY_AFTER,
            ])
            .max_age(std::time::Duration::from_secs(600)),
    )
}

async fn readyz(State(state): State<AppState>) -> Response {
    match state.services.db.ping().await {
        Ok(()) => (StatusCode::OK, "ready").into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
        }
    }
}

/// Prometheus text format.
async fn metrics(State(state): State<AppState>) -> Response {
    let sql = state.services.db.stats();
    let m = &state.metrics;
    let body = format!(
        "# TYPE colloquy_graphql_requests_total counter\ncolloquy_graphql_requests_total {}\n\
         # TYPE colloquy_graphql_error_responses_total counter\ncolloquy_graphql_error_responses_total {}\n\
         # TYPE colloquy_graphql_fast_path_total counter\ncolloquy_graphql_fast_path_total {}\n\
         # TYPE colloquy_graphql_fast_path_retried_total counter\ncolloquy_graphql_fast_path_retried_total {}\n\
         # TYPE colloquy_graphql_planned_total counter\ncolloquy_graphql_planned_total {}\n\
         # TYPE colloquy_rate_limited_total counter\ncolloquy_rate_limited_total {}\n\
         # TYPE colloquy_ws_connections_total counter\ncolloquy_ws_connections_total {}\n\
         # TYPE colloquy_sql_statements_total counter\ncolloquy_sql_statements_total {}\n\
         # TYPE colloquy_sql_failed_statements_total counter\ncolloquy_sql_failed_statements_total {}\n\
         # TYPE colloquy_sql_seconds_total counter\ncolloquy_sql_seconds_total {:.6}\n",
        m.graphql_requests.load(Ordering::Relaxed),
        m.graphql_errors.load(Ordering::Relaxed),
        m.graphql_fast.load(Ordering::Relaxed),
        m.graphql_fast_retried.load(Ordering::Relaxed),
        m.graphql_planned.load(Ordering::Relaxed),
        m.rate_limited.load(Ordering::Relaxed),
        m.ws_connections.load(Ordering::Relaxed),
        sql.statements(),
        sql.failed(),
        sql.total_micros() as f64 / 1e6,
    ) + &crate::platform::metrics::global().render(sql);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}
