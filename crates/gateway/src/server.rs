//! The HTTP surface: GraphQL over HTTP (POST and GET) at `/graphql`, the GraphiQL playground when
//! a browser GETs `/graphql`, graphql-transport-ws subscriptions at `/graphql/ws`, and `/healthz`,
//! `/readyz`, `/metrics`, and the OAuth redirects `/auth/{provider}/start` and
//! `/auth/{provider}/callback` (see [`oauth_http`]).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql::parser::types::OperationType;
use async_graphql::{Data, ErrorExtensions};
use async_graphql_axum::{GraphQLProtocol, GraphQLRequest, GraphQLResponse, GraphQLWebSocket};
use axum::Router;
use axum::extract::{ConnectInfo, State, WebSocketUpgrade};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use persistence::sessions::Origin;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::accounts::{self, Caller};
use crate::error::ApiError;
use crate::graphql::ColloquySchema;
use crate::graphql::context::{RequestContext, Services};
use crate::graphql::loaders::Loaders;
use crate::{oauth_http, playground};

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub schema: ColloquySchema,
    pub services: Services,
    pub metrics: Arc<HttpMetrics>,
}

/// Request counters for `/metrics`.
#[derive(Debug, Default)]
pub struct HttpMetrics {
    graphql_requests: AtomicU64,
    graphql_errors: AtomicU64,
    rate_limited: AtomicU64,
    ws_connections: AtomicU64,
}

pub fn router(state: AppState) -> Router {
    let max_body = state.services.config.limits.max_body_bytes;
    let x_request_id = header::HeaderName::from_static("x-request-id");
    Router::new()
        .route("/graphql", get(graphql_get).post(graphql_post))
        .route("/graphql/ws", get(graphql_ws))
        .route("/graphql/assets/{name}", get(playground::asset))
        .route("/auth/{provider}/start", get(oauth_http::start))
        .route("/auth/{provider}/callback", get(oauth_http::callback))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        // Limits the body as it streams in (the GraphQL extractor reads the raw body stream, which
        // axum's DefaultBodyLimit does not cover); a declared length over the limit is a 413.
        .layer(RequestBodyLimitLayer::new(max_body))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
                let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
                tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
            }),
        )
        .layer(PropagateRequestIdLayer::new(x_request_id.clone()))
        .layer(SetRequestIdLayer::new(x_request_id, MakeRequestUuid))
        .with_state(state)
}

pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// A GraphQL error response outside of execution (bad token, rate limit, GET mutation).
pub(crate) fn error_response(status: StatusCode, error: ApiError) -> Response {
    let retry_after = match &error {
        ApiError::RateLimited { retry_after } => Some(retry_after.as_secs().max(1)),
        _ => None,
    };
    let err: async_graphql::Error = error.into();
    let server_error = err.into_server_error(async_graphql::Pos::default());
    let body = serde_json::json!({ "errors": [ {
        "message": server_error.message,
        "extensions": server_error.extensions,
    } ] });
    let mut response = (status, axum::Json(body)).into_response();
    if let Some(secs) = retry_after
        && let Ok(v) = HeaderValue::from_str(&secs.to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    response
}

/// Turns the bearer token into a caller. A token that is sent but not valid is refused rather
/// than silently treated as anonymous, so a client knows to sign in again.
pub(crate) async fn caller_from(
    services: &Services,
    token: Option<&str>,
) -> Result<Option<Caller>, ApiError> {
    let Some(token) = token else { return Ok(None) };
    match accounts::authenticate(&services.db, token).await? {
        Some(caller) => Ok(Some(caller)),
        None => Err(ApiError::Unauthenticated),
    }
}

async fn execute(
    state: AppState,
    headers: HeaderMap,
    addr: SocketAddr,
    request: async_graphql::Request,
) -> Response {
    state
        .metrics
        .graphql_requests
        .fetch_add(1, Ordering::Relaxed);
    let services = &state.services;
    let caller = match caller_from(services, bearer(&headers)).await {
        Ok(c) => c,
        Err(ApiError::Unauthenticated) => {
            return error_response(StatusCode::UNAUTHORIZED, ApiError::Unauthenticated);
        }
        Err(e) => return error_response(StatusCode::INTERNAL_SERVER_ERROR, e),
    };
    let limit_key = match &caller {
        Some(c) => format!("user:{}", c.actor.user_id),
        None => format!("ip:{}", addr.ip()),
    };
    if let Err(retry_after) = services.limiter.check(&limit_key) {
        state.metrics.rate_limited.fetch_add(1, Ordering::Relaxed);
        return error_response(
            StatusCode::TOO_MANY_REQUESTS,
            ApiError::RateLimited { retry_after },
        );
    }
    let origin = Origin {
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(256).collect()),
        ip_address: Some(addr.ip().to_string()),
    };
    let request = request
        .data(RequestContext { caller, origin })
        .data(Loaders::new(&services.db));
    let response = state.schema.execute(request).await;
    if response.is_err() {
        state.metrics.graphql_errors.fetch_add(1, Ordering::Relaxed);
    }
    GraphQLResponse::from(response).into_response()
}

async fn graphql_post(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    request: GraphQLRequest,
) -> Response {
    execute(state, headers, addr, request.into_inner()).await
}

/// GET: the playground for a browser, otherwise a query from the URL. Mutations are refused over
/// GET (GraphQL over HTTP: GET must not change state), with 405 and `Allow: POST`.
async fn graphql_get(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> Response {
    if let Some(response) = playground::answer_get_without_query(&headers, uri.query()) {
        return response;
    }
    let request = match parse_get(uri.query().unwrap_or_default()) {
        Ok(r) => r,
        Err(e) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                ApiError::bad_input(
                    "query",
                    format!("the query string is not a GraphQL request: {e}"),
                ),
            );
        }
    };
    if is_mutation(&request) {
        let mut response = error_response(
            StatusCode::METHOD_NOT_ALLOWED,
            ApiError::bad_input("query", "mutations must be sent with POST"),
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    execute(state, headers, addr, request).await
}

/// Reads `query`, `operationName`, `variables` and `extensions` (both JSON) from a URL query
/// string, as the GraphQL-over-HTTP spec spells them.
fn parse_get(query_string: &str) -> Result<async_graphql::Request, String> {
    let mut request = serde_json::Map::new();
    for (key, value) in url::form_urlencoded::parse(query_string.as_bytes()) {
        let value = match key.as_ref() {
            "query" | "operationName" => serde_json::Value::String(value.into_owned()),
            "variables" | "extensions" => {
                serde_json::from_str(&value).map_err(|e| format!("{key} is not JSON: {e}"))?
            }
            _ => continue,
        };
        request.insert(key.into_owned(), value);
    }
    serde_json::from_value(serde_json::Value::Object(request)).map_err(|e| e.to_string())
}

fn is_mutation(request: &async_graphql::Request) -> bool {
    let Ok(doc) = async_graphql::parser::parse_query(&request.query) else {
        return false; // the executor reports the syntax error
    };
    let wanted = request.operation_name.as_deref();
    doc.operations.iter().any(|(name, op)| {
        let selected = match (wanted, name) {
            (Some(w), Some(n)) => w == n.as_str(),
            (None, _) => true,
            (Some(_), None) => false,
        };
        selected && op.node.ty == OperationType::Mutation
    })
}

/// graphql-transport-ws (and the legacy graphql-ws). The token travels in the `connection_init`
/// payload as `{"authorization": "Bearer <token>"}` (browsers cannot set headers on a WebSocket).
async fn graphql_ws(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    state.metrics.ws_connections.fetch_add(1, Ordering::Relaxed);
    let services = state.services.clone();
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| async move {
            GraphQLWebSocket::new(socket, state.schema.clone(), protocol)
                .on_connection_init(move |payload| async move {
                    let token = ["authorization", "Authorization", "token"]
                        .iter()
                        .find_map(|k| payload.get(*k).and_then(|v| v.as_str()))
                        .map(|v| {
                            v.strip_prefix("Bearer ")
                                .or_else(|| v.strip_prefix("bearer "))
                                .unwrap_or(v)
                                .trim()
                                .to_owned()
                        });
                    let caller = caller_from(&services, token.as_deref())
                        .await
                        .map_err(|e| {
                            let err: async_graphql::Error = e.into();
                            err.extend()
                        })?;
                    let origin = Origin {
                        user_agent: None,
                        ip_address: Some(addr.ip().to_string()),
                    };
                    let mut data = Data::default();
                    data.insert(RequestContext { caller, origin });
                    data.insert(Loaders::new(&services.db));
                    Ok(data)
                })
                .serve()
                .await
        })
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
         # TYPE colloquy_rate_limited_total counter\ncolloquy_rate_limited_total {}\n\
         # TYPE colloquy_ws_connections_total counter\ncolloquy_ws_connections_total {}\n\
         # TYPE colloquy_sql_statements_total counter\ncolloquy_sql_statements_total {}\n\
         # TYPE colloquy_sql_failed_statements_total counter\ncolloquy_sql_failed_statements_total {}\n\
         # TYPE colloquy_sql_seconds_total counter\ncolloquy_sql_seconds_total {:.6}\n",
        m.graphql_requests.load(Ordering::Relaxed),
        m.graphql_errors.load(Ordering::Relaxed),
        m.rate_limited.load(Ordering::Relaxed),
        m.ws_connections.load(Ordering::Relaxed),
        sql.statements(),
        sql.failed(),
        sql.total_micros() as f64 / 1e6,
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}
