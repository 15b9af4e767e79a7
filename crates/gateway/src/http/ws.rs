//! Subscriptions over WebSocket: graphql-transport-ws (and the legacy graphql-ws).

use std::net::SocketAddr;
use std::sync::atomic::Ordering;

use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql::{Data, ErrorExtensions};
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::extract::{ConnectInfo, State, WebSocketUpgrade};
use axum::response::Response;

use super::AppState;
use super::caller::caller_from;
use crate::graphql::context::{Loaders, Origin, RequestContext};

/// graphql-transport-ws (and the legacy graphql-ws). The token travels in the `connection_init`
/// payload as `{"authorization": "Bearer <token>"}` (browsers cannot set headers on a WebSocket).
pub(super) async fn upgrade(
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
