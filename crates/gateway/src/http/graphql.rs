//! GraphQL over HTTP, as the GraphQL-over-HTTP specification (and graphql-http's audit of it)
//! asks: POST, and GET for queries (with the playground for browsers). Each request resolves its
//! caller, passes the per-caller rate limit, and runs with fresh per-request loaders.
//!
//! - **Response media type** by `Accept`: `application/graphql-response+json` when the client lists
//!   it (and prefers it at least as much as `application/json`); `application/json` for
//!   `application/json`, `*/*`, `application/*` or no `Accept` at all, and for a browser
//!   (`text/html`) opening a URL with a query; 406 when the client accepts none of these.
//! - **Status**: with `application/graphql-response+json`, a request error (the document does not
//!   parse, fails validation or the depth and complexity limits, the variables do not coerce: the
//!   response has no `data`) is a 400 whose body has no `data` key; with `application/json` it stays
//!   a 200, as the specification asks for compatibility. Field errors are 200 either way.
//! - **Request body**: `application/json` (UTF-8; a `charset` other than utf-8 is refused) or
//!   `multipart/form-data` (the GraphQL multipart request). A POST without a `Content-Type`, or with
//!   any other (`text/plain` included), is 415. A body that is not a JSON object with a string
//!   `query` (or a persisted query's hash in `extensions`), a string `operationName`, and object
//!   `variables` and `extensions` (each may be null) is 400.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;

use async_graphql::http::MultipartOptions;
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::parser::types::OperationType;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::TryStreamExt as _;
use serde_json::{Map, Value};

use super::AppState;
use super::caller::{Resolved, error_response, origin, resolve};
use crate::error::ApiError;
use crate::graphql::context::{Loaders, RequestContext};
use crate::graphql::plan;

/// `application/graphql-response+json`.
pub(super) const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";

/// The media type of a GraphQL response, chosen from the request's `Accept`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Media {
    /// `application/json`: request errors are 200 (the legacy behaviour the spec keeps).
    Json,
    /// `application/graphql-response+json`: request errors are 400 without `data`.
    GraphqlResponse,
}

impl Media {
    fn content_type(self) -> HeaderValue {
        match self {
            Media::Json => HeaderValue::from_static("application/json; charset=utf-8"),
            Media::GraphqlResponse => {
                HeaderValue::from_static("application/graphql-response+json; charset=utf-8")
            }
        }
    }
}

/// The media ranges of `Accept` (`type/subtype` in lowercase, and its quality), or None when the
/// header is absent or empty.
pub(super) fn accept_ranges(headers: &HeaderMap) -> Option<Vec<(String, f32)>> {
    let accept = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",");
    if accept.trim().is_empty() {
        return None;
    }
    let ranges = accept
        .split(',')
        .filter_map(|part| {
            let mut params = part.split(';');
            let essence = params.next()?.trim().to_ascii_lowercase();
            if essence.is_empty() {
                return None;
            }
            let q = params
                .filter_map(|p| p.split_once('='))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("q"))
                .and_then(|(_, v)| v.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            Some((essence, q))
        })
        .collect();
    Some(ranges)
}

/// How much `ranges` accept `media` (`type/subtype`): the quality of the most specific range that
/// matches (exact, then `type/*`, then `*/*`), and whether that range named it exactly.
pub(super) fn quality(ranges: &[(String, f32)], media: &str) -> (f32, bool) {
    let kind = media.split('/').next().unwrap_or_default();
    let find = |wanted: &str| {
        ranges
            .iter()
            .filter(|(essence, _)| essence == wanted)
            .map(|&(_, q)| q)
            .reduce(f32::max)
    };
    if let Some(q) = find(media) {
        return (q, true);
    }
    if let Some(q) = find(&format!("{kind}/*")) {
        return (q, false);
    }
    (find("*/*").unwrap_or(0.0), false)
}

/// Chooses the response's media type, or answers 406.
pub(super) fn negotiate(headers: &HeaderMap) -> Result<Media, Refusal> {
    let Some(ranges) = accept_ranges(headers) else {
        return Ok(Media::Json);
    };
    let (gr_q, gr_exact) = quality(&ranges, GRAPHQL_RESPONSE_JSON);
    let (json_q, _) = quality(&ranges, "application/json");
    if gr_q <= 0.0 && json_q <= 0.0 {
        // A browser opening a URL with a query (`Accept: text/html`) is answered in JSON, which
        // it displays: the spec lets a server disregard Accept and use application/json.
        if quality(&ranges, "text/html").0 > 0.0 {
            return Ok(Media::Json);
        }
        return Err(Refusal::new(
            StatusCode::NOT_ACCEPTABLE,
            "accept",
            "/graphql answers application/json or application/graphql-response+json; \
             subscriptions over text/event-stream are served at /graphql/stream",
        ));
    }
    // Higher quality wins; at equal quality a type the client named beats a wildcard, and
    // between two named ones the GraphQL media type is preferred, between two wildcards JSON.
    let media = if gr_q > json_q {
        Media::GraphqlResponse
    } else if json_q > gr_q {
        Media::Json
    } else if gr_exact {
        Media::GraphqlResponse
    } else {
        Media::Json
    };
    Ok(media)
}

/// A request refused before execution: its status and the GraphQL error of its body.
#[derive(Debug)]
pub(super) struct Refusal {
    status: StatusCode,
    error: ApiError,
}

impl Refusal {
    pub(super) fn new(status: StatusCode, field: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            error: ApiError::bad_input(field, message),
        }
    }

    #[cfg(test)]
    fn status(&self) -> StatusCode {
        self.status
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut response = error_response(self.status, self.error);
        if self.status == StatusCode::METHOD_NOT_ALLOWED {
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST"));
        }
        response
    }
}

fn bad_request(field: &'static str, message: impl Into<String>) -> Refusal {
    Refusal::new(StatusCode::BAD_REQUEST, field, message)
}

fn unsupported_media_type(message: &str) -> Refusal {
    Refusal::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "content-type",
        format!("{message}: send Content-Type: application/json (or multipart/form-data)"),
    )
}

/// Reads a POST body into a GraphQL request: 415 for a missing or unsupported content type, 400
/// for a body that is not a GraphQL request, 413 for a JSON body over `max_json` bytes.
///
/// A multipart body (a file upload) is parsed as it streams in: async-graphql writes each file
/// part to a temporary file, so an upload is never held in memory whole (the route's body limit
/// still caps it). A JSON body is read into memory, up to `max_json`.
pub(super) async fn read_post(
    headers: &HeaderMap,
    body: Body,
    max_json: usize,
) -> Result<async_graphql::Request, Refusal> {
    let Some(content_type) = headers.get(header::CONTENT_TYPE) else {
        return Err(unsupported_media_type("the request has no Content-Type"));
    };
    let content_type = content_type.to_str().unwrap_or_default();
    let mut params = content_type.split(';');
    let essence = params
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "application/json" => {
            let charset = params
                .filter_map(|p| p.split_once('='))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("charset"))
                .map(|(_, v)| v.trim().trim_matches('"').to_ascii_lowercase());
            if charset.is_some_and(|c| c != "utf-8" && c != "utf8") {
                return Err(unsupported_media_type(
                    "GraphQL requests are read as UTF-8 only",
                ));
            }
            let body = axum::body::to_bytes(body, max_json).await.map_err(|_| {
                Refusal::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "body",
                    format!(
                        "is over {max_json} bytes (COLLOQUY_MAX_BODY_BYTES; only a multipart upload may be larger)"
                    ),
                )
            })?;
            if body.iter().all(u8::is_ascii_whitespace) {
                return Err(bad_request("body", "the request body is empty"));
            }
            let value: Value = serde_json::from_slice(&body)
                .map_err(|e| bad_request("body", format!("the body is not JSON: {e}")))?;
            request_from_json(value).map_err(|(field, message)| bad_request(field, message))
        }
        "multipart/form-data" => async_graphql::http::receive_body(
            Some(content_type),
            body.into_data_stream()
                .map_err(std::io::Error::other)
                .into_async_read(),
            MultipartOptions::default(),
        )
        .await
        .map_err(|e| bad_request("body", format!("not a GraphQL multipart request: {e}"))),
        _ => Err(unsupported_media_type(&format!(
            "Content-Type {content_type:?} is not supported"
        ))),
    }
}

/// A GraphQL request from its JSON form (a POST body, or a GET's parameters), checking each
/// parameter's type as GraphQL over HTTP defines it; `Err` names the offending parameter.
pub(super) fn request_from_json(
    value: Value,
) -> Result<async_graphql::Request, (&'static str, String)> {
    let Value::Object(mut map) = value else {
        return Err((
            "body",
            "a GraphQL request is a JSON object with a \"query\"".to_owned(),
        ));
    };
    // Null parameters are the same as absent ones.
    for key in ["query", "operationName", "variables", "extensions"] {
        if map.get(key).is_some_and(Value::is_null) {
            map.remove(key);
        }
    }
    let check =
        |map: &Map<String, Value>, key: &'static str, ok: fn(&Value) -> bool, what| match map
            .get(key)
        {
            Some(v) if !ok(v) => Err((key, format!("{key} must be {what}"))),
            _ => Ok(()),
        };
    check(&map, "query", Value::is_string, "a string")?;
    check(&map, "operationName", Value::is_string, "a string")?;
    check(&map, "variables", Value::is_object, "an object")?;
    check(&map, "extensions", Value::is_object, "an object")?;
    let persisted = map
        .get("extensions")
        .and_then(|e| e.get("persistedQuery"))
        .is_some();
    if !map.contains_key("query") && !persisted {
        return Err(("query", "the request has no query".to_owned()));
    }
    serde_json::from_value(Value::Object(map)).map_err(|e| ("body", e.to_string()))
}

/// Whether `response` answers a request error: execution never began (the document did not parse
/// or validate, the variables did not coerce, an operation could not be chosen), so there is no
/// `data`, and no error belongs to a field. A field error always has a `path`.
pub(super) fn is_request_error(response: &async_graphql::Response) -> bool {
    response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty())
}

/// Writes a GraphQL response in `media`, with the status that media type calls for.
pub(super) fn respond(response: async_graphql::Response, media: Media) -> Response {
    let request_error = is_request_error(&response);
    let status = if request_error && media == Media::GraphqlResponse {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let body = if request_error {
        // A request error has no `data` entry at all.
        let mut body = serde_json::json!({ "errors": response.errors });
        if !response.extensions.is_empty() {
            body["extensions"] = serde_json::json!(response.extensions);
        }
        serde_json::to_vec(&body).map(|body| vec![body.into()])
    } else {
        // Plans' JSON is sent where their fields are (`graphql::plan`); only fast reads hold any.
        plan::write_response(&response)
    };
    let pieces = match body {
        Ok(pieces) => pieces,
        Err(e) => {
            return error_response(StatusCode::INTERNAL_SERVER_ERROR, ApiError::internal(e));
        }
    };
    let length: usize = pieces.iter().map(Bytes::len).sum();
    // A large planned answer is sent in its pieces, never copied; a small one is joined, which
    // costs less than sending pieces.
    let body = match <[Bytes; 1]>::try_from(pieces) {
        Ok([one]) => Body::from(one),
        Err(pieces) if length < 64 * 1024 => Body::from(pieces.concat()),
        Err(pieces) => Body::from_stream(futures::stream::iter(
            pieces.into_iter().map(Ok::<_, std::convert::Infallible>),
        )),
    };
    let mut http = (status, body).into_response();
    let headers = http.headers_mut();
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    headers.insert(header::CONTENT_TYPE, media.content_type());
    if response.is_ok()
        && let Some(value) = response.cache_control.value()
        && let Ok(value) = HeaderValue::from_str(&value)
    {
        headers.insert(header::CACHE_CONTROL, value);
    }
    headers.extend(response.http_headers);
    http
}

/// What every transport does before executing: count the request, resolve the caller (a bad token
/// is ignored), apply the per-caller rate limit (per IP when anonymous), and attach the request's
/// context and fresh loaders. `Err` is the response to send instead.
pub(super) async fn prepare(
    state: &AppState,
    headers: &HeaderMap,
    addr: SocketAddr,
    request: async_graphql::Request,
) -> Result<(async_graphql::Request, Resolved), Response> {
    state
        .metrics
        .graphql_requests
        .fetch_add(1, Ordering::Relaxed);
    let services = &state.services;
    let who = match resolve(services, headers).await {
        Ok(who) => who,
        Err(e) => return Err(error_response(StatusCode::INTERNAL_SERVER_ERROR, e)),
    };
    let limit_key = match &who.caller {
        Some(c) => format!("user:{}", c.actor.user_id),
        None => format!("ip:{}", addr.ip()),
    };
    if let Err(retry_after) = services.limiter.check(&limit_key).await {
        state.metrics.rate_limited.fetch_add(1, Ordering::Relaxed);
        return Err(who.mark(error_response(
            StatusCode::TOO_MANY_REQUESTS,
            ApiError::RateLimited { retry_after },
        )));
    }
    let request = attach(state, &who, headers, addr, request);
    Ok((request, who))
}

/// Gives `request` its caller's context and fresh loaders.
fn attach(
    state: &AppState,
    who: &Resolved,
    headers: &HeaderMap,
    addr: SocketAddr,
    request: async_graphql::Request,
) -> async_graphql::Request {
    request
        .data(RequestContext {
            caller: who.caller.clone(),
            origin: origin(headers, addr),
        })
        .data(Loaders::new(&state.services.db))
}

/// Request errors for the selected operation's required variables (non-null, without a default)
/// that are missing or null. The specification makes them request errors (variable coercion
/// fails before execution); async-graphql reports them only when a field reads the variable, as
/// field errors with a path.
fn missing_variables(
    request: &async_graphql::Request,
    document: Option<&ExecutableDocument>,
) -> Vec<async_graphql::ServerError> {
    let Some(doc) = document else {
        return Vec::new(); // the executor reports the syntax error
    };
    let wanted = request.operation_name.as_deref();
    let Some(operation) = doc
        .operations
        .iter()
        .find(|(name, _)| wanted.is_none_or(|w| name.is_some_and(|n| n.as_str() == w)))
        .map(|(_, op)| op)
    else {
        return Vec::new(); // the executor reports the unknown operation
    };
    operation
        .node
        .variable_definitions
        .iter()
        .filter(|v| !v.node.var_type.node.nullable && v.node.default_value.is_none())
        .filter(|v| {
            request
                .variables
                .get(&v.node.name.node)
                .is_none_or(|value| *value == async_graphql::Value::Null)
        })
        .map(|v| {
            async_graphql::ServerError::new(
                format!(
                    "Variable \"${}\" of required type \"{}\" was not provided.",
                    v.node.name.node, v.node.var_type.node
                ),
                Some(v.pos),
            )
        })
        .collect()
}

async fn execute(
    state: AppState,
    headers: HeaderMap,
    addr: SocketAddr,
    request: async_graphql::Request,
    media: Media,
) -> Response {
    let request_id = super::request_id_of(&headers);
    crate::platform::audit::in_request(
        request_id,
        execute_in_request(state, headers, addr, request, media),
    )
    .await
}

async fn execute_in_request(
    state: AppState,
    headers: HeaderMap,
    addr: SocketAddr,
    request: async_graphql::Request,
    media: Media,
) -> Response {
    let (mut request, who) = match prepare(&state, &headers, addr, request).await {
        Ok(prepared) => prepared,
        Err(response) => return response,
    };
    // Parsed once here (or found parsed before), for the variables check and the fast path (the
    // executor parses a request the fast path does not take).
    let document = state.fast.parse(&request.query);
    let missing = missing_variables(&request, document.as_deref());
    let response = if !missing.is_empty() {
        async_graphql::Response::from_errors(missing)
    } else if let Some(retry) = state.fast.admit(&mut request, document) {
        // A read with no error is answered as the extension-free schema gives it; any error and
        // it runs again with the extensions that make an error response exact (`graphql::fast`).
        state.metrics.graphql_fast.fetch_add(1, Ordering::Relaxed);
        let mut response = state.fast.schema.execute(request).await;
        if state.fast.finish(&retry, &mut response) {
            if plan::was_planned(&response.data) {
                state
                    .metrics
                    .graphql_planned
                    .fetch_add(1, Ordering::Relaxed);
            }
            response
        } else {
            state
                .metrics
                .graphql_fast_retried
                .fetch_add(1, Ordering::Relaxed);
            let again = attach(&state, &who, &headers, addr, retry.into_request());
            state.schema.execute(again).await
        }
    } else {
        state.schema.execute(request).await
    };
    if response.is_err() {
        state.metrics.graphql_errors.fetch_add(1, Ordering::Relaxed);
    }
    who.mark(respond(response, media))
}

pub(super) async fn post(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let media = match negotiate(&headers) {
        Ok(m) => m,
        Err(refusal) => return refusal.into_response(),
    };
    // Only a multipart request (a file upload) may use the larger limit of this route.
    let max_json = state.services.config.limits.max_body_bytes;
    let request = match read_post(&headers, body, max_json).await {
        Ok(r) => r,
        Err(refusal) => return refusal.into_response(),
    };
    execute(state, headers, addr, request, media).await
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
    let media = match negotiate(&headers) {
        Ok(m) => m,
        Err(refusal) => return refusal.into_response(),
    };
    let request = match read_get(uri.query().unwrap_or_default()) {
        Ok(r) => r,
        Err(refusal) => return refusal.into_response(),
    };
    execute(state, headers, addr, request, media).await
}

/// A GET's GraphQL request, refusing mutations with 405 and `Allow: POST`.
pub(super) fn read_get(query_string: &str) -> Result<async_graphql::Request, Refusal> {
    let request = parse_get(query_string).map_err(|(field, message)| {
        bad_request(
            field,
            format!("the query string is not a GraphQL request: {message}"),
        )
    })?;
    if is_mutation(&request) {
        return Err(Refusal::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "query",
            "mutations must be sent with POST",
        ));
    }
    Ok(request)
}

/// Reads `query`, `operationName`, `variables` and `extensions` (both JSON) from a URL query
/// string, as the GraphQL-over-HTTP spec spells them.
fn parse_get(query_string: &str) -> Result<async_graphql::Request, (&'static str, String)> {
    let mut request = Map::new();
    for (key, value) in url::form_urlencoded::parse(query_string.as_bytes()) {
        let (key, value) = match key.as_ref() {
            "query" => ("query", Value::String(value.into_owned())),
            "operationName" => ("operationName", Value::String(value.into_owned())),
            "variables" => (
                "variables",
                serde_json::from_str(&value)
                    .map_err(|e| ("variables", format!("variables is not JSON: {e}")))?,
            ),
            "extensions" => (
                "extensions",
                serde_json::from_str(&value)
                    .map_err(|e| ("extensions", format!("extensions is not JSON: {e}")))?,
            ),
            _ => continue,
        };
        request.insert(key.to_owned(), value);
    }
    request_from_json(Value::Object(request))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn content_negotiation() {
        assert_eq!(negotiate(&HeaderMap::new()).unwrap(), Media::Json);
        for (value, media) in [
            ("application/json", Media::Json),
            ("*/*", Media::Json),
            ("application/*", Media::Json),
            ("text/html, */*;q=0.8", Media::Json),
            (GRAPHQL_RESPONSE_JSON, Media::GraphqlResponse),
            (
                "application/graphql-response+json, application/json;q=0.9",
                Media::GraphqlResponse,
            ),
            (
                "application/json, application/graphql-response+json",
                Media::GraphqlResponse,
            ),
            (
                "application/graphql-response+json;q=0.5, application/json",
                Media::Json,
            ),
            ("application/json; charset=utf-8", Media::Json),
        ] {
            assert_eq!(negotiate(&accept(value)).unwrap(), media, "{value}");
        }
        assert_eq!(negotiate(&accept("text/html")).unwrap(), Media::Json);
        for refused in ["text/xml", "application/json;q=0, text/plain"] {
            let response = negotiate(&accept(refused)).unwrap_err();
            assert_eq!(response.status(), StatusCode::NOT_ACCEPTABLE, "{refused}");
        }
    }

    #[test]
    fn request_parameters_are_typed() {
        let ok = serde_json::json!({ "query": "{ a }", "operationName": null, "variables": null, "extensions": null });
        assert!(request_from_json(ok).is_ok());
        let apq = serde_json::json!({ "extensions": { "persistedQuery": { "version": 1, "sha256Hash": "ab" } } });
        assert!(request_from_json(apq).is_ok());
        for (body, field) in [
            (serde_json::json!({ "notquery": "{ a }" }), "query"),
            (serde_json::json!({ "query": 0 }), "query"),
            (serde_json::json!({ "query": ["{ a }"] }), "query"),
            (
                serde_json::json!({ "query": "{ a }", "operationName": false }),
                "operationName",
            ),
            (
                serde_json::json!({ "query": "{ a }", "variables": "x" }),
                "variables",
            ),
            (
                serde_json::json!({ "query": "{ a }", "extensions": [1] }),
                "extensions",
            ),
            (serde_json::json!([{ "query": "{ a }" }]), "body"),
        ] {
            assert_eq!(
                request_from_json(body.clone()).unwrap_err().0,
                field,
                "{body}"
            );
        }
    }
}
