//! GraphQL over HTTP: POST, and GET for queries (with the playground for browsers). Each request
//! resolves its caller, passes the per-caller rate limit, and runs with fresh per-request loaders.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;

use async_graphql::parser::types::OperationType;
use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::caller::{error_response, origin, resolve};
use crate::error::ApiError;
use crate::graphql::context::{Loaders, RequestContext};

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
    // A token that is not valid is ignored (the request runs anonymously, flagged in a header).
    let who = match resolve(services, &headers).await {
        Ok(who) => who,
        Err(e) => return error_response(StatusCode::INTERNAL_SERVER_ERROR, e),
    };
    let limit_key = match &who.caller {
        Some(c) => format!("user:{}", c.actor.user_id),
        None => format!("ip:{}", addr.ip()),
    };
    if let Err(retry_after) = services.limiter.check(&limit_key) {
        state.metrics.rate_limited.fetch_add(1, Ordering::Relaxed);
        return who.mark(error_response(
            StatusCode::TOO_MANY_REQUESTS,
            ApiError::RateLimited { retry_after },
        ));
    }
    let origin = origin(&headers, addr);
    let request = request
        .data(RequestContext {
            caller: who.caller.clone(),
            origin,
        })
        .data(Loaders::new(&services.db));
    let response = state.schema.execute(request).await;
    if response.is_err() {
        state.metrics.graphql_errors.fetch_add(1, Ordering::Relaxed);
    }
    who.mark(GraphQLResponse::from(response).into_response())
}

pub(super) async fn post(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    request: GraphQLRequest,
) -> Response {
    execute(state, headers, addr, request.into_inner()).await
}

/// GET: the playground for a browser, otherwise a query from the URL. Mutations are refused over
/// GET (GraphQL over HTTP: GET must not change state), with 405 and `Allow: POST`.
pub(super) async fn get(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> Response {
    if let Some(response) = super::playground::answer_get_without_query(&headers, uri.query()) {
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
