//! Subscriptions over WebSocket at `/graphql/ws`: graphql-transport-ws (and the legacy graphql-ws
//! of subscriptions-transport-ws).
//!
//! async-graphql's protocol engine (`async_graphql::http::WebSocket`) runs each socket; a [`Gate`]
//! sits between it and the socket and adds what graphql-transport-ws requires and the engine does
//! not do:
//!
//! - **Authentication** at `connection_init`: the token is the payload's `authorization` (or
//!   `Authorization`, or `token`; `Bearer ` optional), else the upgrade request's
//!   `Authorization: Bearer` header; the payload wins when both are sent. A token that is not valid
//!   closes the socket with **4403 Forbidden** (the engine would close with 1002). No token is an
//!   anonymous connection.
//! - `subscribe` before the connection is acknowledged closes with **4401 Unauthorized**; a second
//!   `connection_init` with **4429**; a message that is not a protocol message with **4400**.
//! - A `subscribe` whose id is already running closes with **4409 `Subscriber for <id> already
//!   exists`** (the engine would silently replace the first subscription).
//! - A document that does not parse or validate (or fails the limits) answers an **`error`**
//!   message with the GraphQL errors, and nothing after it for that id (the engine would send
//!   `next` + `complete`).
//! - Frames and messages are limited to `COLLOQUY_MAX_BODY_BYTES`, like HTTP bodies; a larger one
//!   closes the socket with **1009 Message Too Big**.
//! - **A socket does not outlive its credential**: when the session it signed in with ends
//!   (logout, revoked, password changed elsewhere), its API token is revoked, or its user is
//!   deactivated, deleted or given another role, on any instance, the socket is closed with
//!   **4403** at once, so it runs no more operations and receives no more events.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};

use async_graphql::Data;
use async_graphql::http::{ALL_WEBSOCKET_PROTOCOLS, WebSocketProtocols, WsMessage};
use axum::body::Bytes;
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use axum::extract::{ConnectInfo, State, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};

use super::caller::{bearer, caller_from, origin};
use super::{AppState, request_id_of};
use crate::error::ApiError;
use crate::graphql::context::{Loaders, Origin, RequestContext};

/// Close codes of graphql-transport-ws, and RFC 6455's for an oversized message.
mod close {
    pub const INVALID_MESSAGE: u16 = 4400;
    pub const UNAUTHORIZED: u16 = 4401;
    pub const FORBIDDEN: u16 = 4403;
    pub const DUPLICATE_SUBSCRIBER: u16 = 4409;
    pub const TOO_MANY_INITIALISATION_REQUESTS: u16 = 4429;
    pub const PROTOCOL_ERROR: u16 = 1002;
    pub const MESSAGE_TOO_BIG: u16 = 1009;
    pub const INTERNAL_ERROR: u16 = 1011;
}

pub(super) async fn upgrade(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let max = state.services.config.limits.max_body_bytes;
    let upgrade = upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .max_message_size(max)
        .max_frame_size(max);
    let Some(protocol) = upgrade
        .selected_protocol()
        .and_then(|p| p.to_str().ok())
        .and_then(|p| p.parse::<WebSocketProtocols>().ok())
    else {
        return (
            StatusCode::BAD_REQUEST,
            "Sec-WebSocket-Protocol must be graphql-transport-ws (or graphql-ws)",
        )
            .into_response();
    };
    state.metrics.ws_connections.fetch_add(1, Ordering::Relaxed);
    let header_token = bearer(&headers).map(str::to_owned);
    let origin = origin(&headers, addr);
    let request_id = request_id_of(&headers);
    upgrade.on_upgrade(move |socket| {
        // Mutations sent over the socket are audited under the upgrade's request id.
        crate::platform::audit::in_request(
            request_id,
            serve(socket, state, protocol, header_token, origin),
        )
    })
}

/// Runs one socket: client messages pass the [`Gate`] into the engine, the engine's messages pass
/// the gate out to the client.
async fn serve(
    socket: WebSocket,
    state: AppState,
    protocol: WebSocketProtocols,
    header_token: Option<String>,
    origin: Origin,
) {
    let (mut sink, mut source) = socket.split();
    let (to_engine, engine_input) = futures::channel::mpsc::unbounded::<Bytes>();
    // The gate authenticates `connection_init` before handing it on; the engine's initialiser
    // then takes the connection's data from here.
    let accepted: Arc<Mutex<Option<Data>>> = Arc::default();
    let taken = accepted.clone();
    let engine = async_graphql::http::WebSocket::new(state.schema.clone(), engine_input, protocol)
        .on_connection_init(move |_payload| async move {
            taken
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take()
                .ok_or_else(|| async_graphql::Error::new("Unauthorized"))
        });
    futures::pin_mut!(engine);
    let mut gate = Gate::new(protocol);
    // Subscribed before authenticating, so a revocation that lands in between is not missed.
    let mut auth_events = state.services.accounts.auth_events();
    let mut signed_in: Option<(crate::accounts::Caller, String)> = None;

    loop {
        tokio::select! {
            incoming = source.next() => {
                let data = match incoming {
                    None | Some(Ok(Message::Close(_))) => break,
                    Some(Ok(message @ (Message::Text(_) | Message::Binary(_)))) => message.into_data(),
                    Some(Ok(_)) => continue, // ping and pong: axum answers pings itself
                    Some(Err(e)) => {
                        // Over the size limit (or a broken frame): say why, as far as we can.
                        let text = e.to_string();
                        let (code, reason) = if text.contains("too long") || text.contains("Space limit") {
                            (close::MESSAGE_TOO_BIG, "Message too big")
                        } else {
                            (close::PROTOCOL_ERROR, "Malformed frame")
                        };
                        tracing::debug!(error = %text, "websocket read failed");
                        let _ = sink.send(close_message(code, reason)).await;
                        break;
                    }
                };
                match gate.incoming(&data) {
                    Verdict::Forward => {
                        if to_engine.unbounded_send(data).is_err() {
                            break;
                        }
                    }
                    Verdict::Authenticate(token) => {
                        let token = token.or_else(|| header_token.clone());
                        match caller_from(&state.services, token.as_deref()).await {
                            Ok(caller) => {
                                signed_in = caller.clone().zip(token.clone());
                                let mut data = Data::default();
                                data.insert(RequestContext { caller, origin: origin.clone() });
                                data.insert(Loaders::new(&state.services.db));
                                *accepted.lock().unwrap_or_else(PoisonError::into_inner) = Some(data);
                                if to_engine.unbounded_send(data_of_init()).is_err() {
                                    break;
                                }
                            }
                            Err(e) => {
                                let (code, reason) = match e {
                                    ApiError::Unauthenticated => (close::FORBIDDEN, "Forbidden"),
                                    other => {
                                        tracing::error!(error = ?other, "websocket authentication failed");
                                        (close::INTERNAL_ERROR, "internal error")
                                    }
                                };
                                if protocol == WebSocketProtocols::SubscriptionsTransportWS {
                                    let refusal = json!({ "type": "connection_error", "payload": { "message": reason } });
                                    let _ = sink.send(Message::Text(refusal.to_string().into())).await;
                                }
                                let _ = sink.send(close_message(code, reason)).await;
                                break;
                            }
                        }
                    }
                    Verdict::Close(code, reason) => {
                        let _ = sink.send(close_message(code, &reason)).await;
                        break;
                    }
                }
            }
            event = auth_events.recv(), if signed_in.is_some() => {
                let ended = match (&event, &signed_in) {
                    (Ok(event), Some((caller, _))) => caller.ended_by(event),
                    // Fell behind the events: ask the database whether the token still works.
                    (Err(tokio::sync::broadcast::error::RecvError::Lagged(_)), Some((_, token))) => {
                        !matches!(caller_from(&state.services, Some(token)).await, Ok(Some(_)))
                    }
                    _ => false,
                };
                if ended {
                    let _ = sink.send(close_message(close::FORBIDDEN, "Forbidden: the session ended")).await;
                    break;
                }
            }
            outgoing = engine.next() => {
                match outgoing {
                    None => break,
                    Some(WsMessage::Text(text)) => match gate.outgoing(text) {
                        Out::Send(text) => {
                            if sink.send(Message::Text(text.into())).await.is_err() {
                                break;
                            }
                        }
                        Out::Drop => {}
                        Out::Error { message, stop } => {
                            // The engine still holds the failed operation until it ends; stop it
                            // now, so the client may reuse the id at once.
                            if to_engine.unbounded_send(stop).is_err()
                                || sink.send(Message::Text(message.into())).await.is_err()
                            {
                                break;
                            }
                        }
                    },
                    Some(WsMessage::Close(code, reason)) => {
                        let code = gate.engine_close_code(code);
                        let _ = sink.send(close_message(code, &reason)).await;
                        break;
                    }
                }
            }
        }
    }
}

/// What `connection_init` becomes on its way to the engine: the payload was read by the gate, so
/// the engine gets an empty one (its initialiser takes the authenticated data instead).
fn data_of_init() -> Bytes {
    Bytes::from_static(br#"{"type":"connection_init"}"#)
}

fn close_message(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}

/// What to do with a client message.
#[derive(Debug, PartialEq)]
enum Verdict {
    /// Hand it to the engine unchanged.
    Forward,
    /// `connection_init` with the payload's token (if any): authenticate, then hand on.
    Authenticate(Option<String>),
    /// Close the socket.
    Close(u16, String),
}

/// What to do with an engine message.
#[derive(Debug, PartialEq)]
enum Out {
    Send(String),
    Drop,
    /// Send `message` (an `error`) to the client and `stop` (a `complete`) to the engine.
    Error {
        message: String,
        stop: Bytes,
    },
}

/// One `subscribe` of an id, from the client's message until the engine's `complete` for it.
#[derive(Debug)]
struct Operation {
    /// Still running as far as the client knows: neither completed by the client nor answered
    /// with `error`. Messages of an operation that is no longer live are not sent.
    live: bool,
    /// No result sent yet: a request error can only be the first.
    first: bool,
}

/// The graphql-transport-ws rules the engine lacks, as a state machine over the messages in both
/// directions (no IO, so it is tested on its own). For the legacy protocol it only authenticates.
///
/// The engine answers every `subscribe` with exactly one `complete` (when the operation ends, or
/// when the client's `complete` stops it) and handles messages in order, so an id's operations
/// complete in the order they were started; `ops` keeps them in that order.
struct Gate {
    protocol: WebSocketProtocols,
    initialised: bool,
    ops: HashMap<String, VecDeque<Operation>>,
}

impl Gate {
    fn new(protocol: WebSocketProtocols) -> Self {
        Self {
            protocol,
            initialised: false,
            ops: HashMap::new(),
        }
    }

    fn transport_ws(&self) -> bool {
        self.protocol == WebSocketProtocols::GraphQLWS
    }

    fn incoming(&mut self, data: &[u8]) -> Verdict {
        let message: Option<Value> = serde_json::from_slice(data).ok();
        let kind = message
            .as_ref()
            .and_then(|m| m.get("type"))
            .and_then(Value::as_str);
        if kind == Some("connection_init") {
            if self.initialised && self.transport_ws() {
                return Verdict::Close(
                    close::TOO_MANY_INITIALISATION_REQUESTS,
                    "Too many initialisation requests".into(),
                );
            }
            self.initialised = true;
            let payload = message.as_ref().and_then(|m| m.get("payload"));
            return Verdict::Authenticate(payload.and_then(token_of));
        }
        if !self.transport_ws() {
            return Verdict::Forward;
        }
        let Some(kind) = kind else {
            return Verdict::Close(close::INVALID_MESSAGE, "Invalid message received".into());
        };
        let id = message
            .as_ref()
            .and_then(|m| m.get("id"))
            .and_then(Value::as_str);
        match (kind, id) {
            ("subscribe", Some(id)) => {
                if !self.initialised {
                    return Verdict::Close(close::UNAUTHORIZED, "Unauthorized".into());
                }
                let ops = self.ops.entry(id.to_owned()).or_default();
                if ops.iter().any(|op| op.live) {
                    return Verdict::Close(
                        close::DUPLICATE_SUBSCRIBER,
                        format!("Subscriber for {id} already exists"),
                    );
                }
                ops.push_back(Operation {
                    live: true,
                    first: true,
                });
                Verdict::Forward
            }
            ("complete", Some(id)) => {
                if let Some(op) = self
                    .ops
                    .get_mut(id)
                    .and_then(|ops| ops.iter_mut().find(|op| op.live))
                {
                    op.live = false;
                }
                Verdict::Forward
            }
            ("subscribe" | "complete", None) => {
                Verdict::Close(close::INVALID_MESSAGE, "Invalid message received".into())
            }
            _ => Verdict::Forward,
        }
    }

    fn outgoing(&mut self, text: String) -> Out {
        if !self.transport_ws() {
            return Out::Send(text);
        }
        let Ok(message) = serde_json::from_str::<Value>(&text) else {
            return Out::Send(text);
        };
        let (Some(kind), Some(id)) = (
            message.get("type").and_then(Value::as_str),
            message.get("id").and_then(Value::as_str),
        ) else {
            return Out::Send(text);
        };
        match kind {
            "next" => {
                let Some(op) = self.ops.get_mut(id).and_then(|ops| ops.front_mut()) else {
                    return Out::Send(text);
                };
                if !op.live {
                    return Out::Drop;
                }
                let first = std::mem::replace(&mut op.first, false);
                let payload = message.get("payload").unwrap_or(&Value::Null);
                if first && is_request_error(payload) {
                    op.live = false;
                    let error = json!({ "id": id, "type": "error", "payload": payload["errors"] });
                    let stop = json!({ "id": id, "type": "complete" });
                    return Out::Error {
                        message: error.to_string(),
                        stop: Bytes::from(stop.to_string()),
                    };
                }
                Out::Send(text)
            }
            "complete" => {
                let Some(ops) = self.ops.get_mut(id) else {
                    return Out::Send(text);
                };
                let op = ops.pop_front();
                if ops.is_empty() {
                    self.ops.remove(id);
                }
                match op {
                    Some(op) if !op.live => Out::Drop,
                    _ => Out::Send(text),
                }
            }
            _ => Out::Send(text),
        }
    }

    /// The close code for an engine close: the engine uses 1002 for a message it cannot read,
    /// which graphql-transport-ws calls 4400.
    fn engine_close_code(&self, code: u16) -> u16 {
        if self.transport_ws() && code == close::PROTOCOL_ERROR {
            close::INVALID_MESSAGE
        } else {
            code
        }
    }
}

/// The token in a `connection_init` payload: `authorization`, `Authorization` or `token`, with or
/// without `Bearer `.
fn token_of(payload: &Value) -> Option<String> {
    ["authorization", "Authorization", "token"]
        .iter()
        .find_map(|k| payload.get(*k).and_then(Value::as_str))
        .map(|v| {
            let v = v.trim();
            match v.split_once(' ') {
                Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
                _ => v,
            }
            .to_owned()
        })
        .filter(|t| !t.is_empty())
}

/// A result that is a request error: no data, and errors none of which belongs to a field (see
/// `graphql::is_request_error`, the same rule on the typed response).
fn is_request_error(payload: &Value) -> bool {
    let no_data = payload.get("data").is_none_or(Value::is_null);
    let errors = payload.get("errors").and_then(Value::as_array);
    no_data
        && errors.is_some_and(|errors| {
            !errors.is_empty() && errors.iter().all(|e| e.get("path").is_none())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate() -> Gate {
        let mut gate = Gate::new(WebSocketProtocols::GraphQLWS);
        assert_eq!(
            gate.incoming(br#"{"type":"connection_init","payload":{"authorization":"Bearer t"}}"#),
            Verdict::Authenticate(Some("t".into()))
        );
        gate
    }

    fn subscribe(id: &str) -> Vec<u8> {
        json!({ "id": id, "type": "subscribe", "payload": { "query": "subscription { a }" } })
            .to_string()
            .into_bytes()
    }

    fn next(id: &str, payload: Value) -> String {
        json!({ "id": id, "type": "next", "payload": payload }).to_string()
    }

    fn complete(id: &str) -> String {
        json!({ "id": id, "type": "complete" }).to_string()
    }

    #[test]
    fn init_and_unauthorised_subscribe() {
        let mut fresh = Gate::new(WebSocketProtocols::GraphQLWS);
        assert!(matches!(
            fresh.incoming(&subscribe("1")),
            Verdict::Close(close::UNAUTHORIZED, _)
        ));
        let mut gate = gate();
        assert!(matches!(
            gate.incoming(br#"{"type":"connection_init"}"#),
            Verdict::Close(close::TOO_MANY_INITIALISATION_REQUESTS, _)
        ));
        assert!(matches!(
            Gate::new(WebSocketProtocols::GraphQLWS).incoming(b"not json"),
            Verdict::Close(close::INVALID_MESSAGE, _)
        ));
        assert_eq!(token_of(&json!({ "token": "abc" })).as_deref(), Some("abc"));
        assert_eq!(
            token_of(&json!({ "authorization": "bearer  x " })).as_deref(),
            Some("x")
        );
        assert_eq!(token_of(&json!({})), None);
    }

    #[test]
    fn duplicate_ids_close_and_finished_ids_are_reusable() {
        let mut gate = gate();
        assert_eq!(gate.incoming(&subscribe("1")), Verdict::Forward);
        assert_eq!(
            gate.incoming(&subscribe("1")),
            Verdict::Close(
                close::DUPLICATE_SUBSCRIBER,
                "Subscriber for 1 already exists".into()
            )
        );
        // Completed by the engine: the id is free again.
        let mut gate = self::gate();
        gate.incoming(&subscribe("1"));
        assert_eq!(
            gate.outgoing(next("1", json!({ "data": {} }))),
            Out::Send(next("1", json!({ "data": {} })))
        );
        assert_eq!(gate.outgoing(complete("1")), Out::Send(complete("1")));
        assert_eq!(gate.incoming(&subscribe("1")), Verdict::Forward);
        // Completed by the client: free at once; the engine's late messages for it are dropped.
        gate.incoming(complete("1").as_bytes());
        assert_eq!(gate.incoming(&subscribe("1")), Verdict::Forward);
        assert_eq!(
            gate.outgoing(next("1", json!({ "data": { "old": 1 } }))),
            Out::Drop
        );
        assert_eq!(gate.outgoing(complete("1")), Out::Drop);
        let fresh = next("1", json!({ "data": { "new": 1 } }));
        assert_eq!(gate.outgoing(fresh.clone()), Out::Send(fresh));
    }

    #[test]
    fn request_errors_become_error_messages() {
        let mut gate = gate();
        gate.incoming(&subscribe("7"));
        let failed = json!({ "data": null, "errors": [{ "message": "Unknown field" }] });
        let Out::Error { message, stop } = gate.outgoing(next("7", failed)) else {
            panic!("a request error becomes `error`");
        };
        let message: Value = serde_json::from_str(&message).unwrap();
        assert_eq!(message["type"], "error");
        assert_eq!(message["payload"][0]["message"], "Unknown field");
        assert_eq!(&stop[..], complete("7").as_bytes());
        // The id is free for the client, and the engine's complete is not passed on.
        assert_eq!(gate.incoming(&subscribe("7")), Verdict::Forward);
        assert_eq!(gate.outgoing(complete("7")), Out::Drop);
        // A field error (it has a path) is a result like any other.
        let field_error = json!({ "data": null, "errors": [{ "message": "no", "path": ["a"] }] });
        assert_eq!(
            gate.outgoing(next("7", field_error.clone())),
            Out::Send(next("7", field_error))
        );
    }
}
