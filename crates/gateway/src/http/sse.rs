//! GraphQL over Server-Sent Events: the graphql-sse protocol in its "distinct connections mode",
//! a subscription transport for clients that cannot open a WebSocket.
//!
//! `POST /graphql/stream` (a GraphQL request as JSON, like `POST /graphql`) or
//! `GET /graphql/stream?query=...` (queries and subscriptions; mutations are 405) answers
//! `text/event-stream`: one `event: next` per execution result (`data:` the result as JSON) and a
//! final `event: complete` (with an empty `data:` so `EventSource` listeners fire). A query or a
//! mutation gives one `next`; a subscription gives one per event until the client closes the
//! connection, which ends the subscription. As the protocol requires, errors found before
//! execution (parse, validation, limits) arrive as a `next` event holding `errors`, not as a 400;
//! a body that is not a GraphQL request is still refused as on `POST /graphql` (400, 415).
//!
//! The caller comes from the `Authorization` header, as on `/graphql` (an invalid token is ignored
//! and flagged with `x-colloquy-auth: invalid-token`); the rate limit counts one request per stream.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;

use super::AppState;
use super::graphql::{Refusal, accept_ranges, prepare, quality, read_get, read_post};

/// How often an idle stream sends a comment, so proxies keep it open and a closed client is
/// noticed.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// 406 unless the client accepts `text/event-stream` (a missing `Accept` is taken as yes).
fn check_accept(headers: &HeaderMap) -> Result<(), Refusal> {
    let Some(ranges) = accept_ranges(headers) else {
        return Ok(());
    };
    if quality(&ranges, "text/event-stream").0 > 0.0 {
        return Ok(());
    }
    Err(Refusal::new(
        StatusCode::NOT_ACCEPTABLE,
        "accept",
        "/graphql/stream answers text/event-stream (GraphQL over SSE); use /graphql for JSON",
    ))
}

pub(super) async fn post(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    if let Err(refusal) = check_accept(&headers) {
        return refusal.into_response();
    }
    let max = state.services.config.limits.max_body_bytes;
    match read_post(&headers, body, max).await {
        Ok(request) => stream(state, headers, addr, request).await,
        Err(refusal) => refusal.into_response(),
    }
}

pub(super) async fn get(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> Response {
    if let Err(refusal) = check_accept(&headers) {
        return refusal.into_response();
    }
    match read_get(uri.query().unwrap_or_default()) {
        Ok(request) => stream(state, headers, addr, request).await,
        Err(refusal) => refusal.into_response(),
    }
}

/// Executes `request` and streams its results. The execution stream lives in the response body:
/// when the client disconnects, the server drops the body and with it the subscription.
async fn stream(
    state: AppState,
    headers: HeaderMap,
    addr: SocketAddr,
    request: async_graphql::Request,
) -> Response {
    let (request, who) = match prepare(&state, &headers, addr, request).await {
        Ok(prepared) => prepared,
        Err(response) => return response,
    };
    let metrics = state.metrics.clone();
    let results = state.schema.execute_stream(request).map(move |result| {
        if result.is_err() {
            metrics.graphql_errors.fetch_add(1, Ordering::Relaxed);
        }
        Event::default()
            .event("next")
            .json_data(&result)
            .unwrap_or_else(|e| {
                tracing::error!(error = %e, "a GraphQL result could not be serialized");
                Event::default().event("next").data(
                    r#"{"errors":[{"message":"internal error","extensions":{"code":"INTERNAL"}}]}"#,
                )
            })
    });
    let complete = futures::stream::once(async { Event::default().event("complete").data("") });
    let events = results.chain(complete).map(Ok::<_, Infallible>);
    let mut response = Sse::new(events)
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response();
    // Ask reverse proxies (nginx) not to buffer the stream.
    response
        .headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    who.mark(response)
}
