//! A minimal graphql-transport-ws client over a real WebSocket.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub struct WsClient {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_id: u64,
}

impl WsClient {
    /// Connects and completes `connection_init` → `connection_ack`. Panics if the server refuses.
    pub async fn connect(url: &str, token: Option<&str>) -> Self {
        Self::try_connect(url, token)
            .await
            .expect("connection acknowledged")
    }

    /// Connects; `Err` carries the server's closing message when `connection_init` is refused.
    pub async fn try_connect(url: &str, token: Option<&str>) -> Result<Self, String> {
        let mut request = url.into_client_request().expect("ws url");
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            "graphql-transport-ws".parse().expect("header"),
        );
        let (socket, _) = tokio_tungstenite::connect_async(request)
            .await
            .expect("websocket handshake");
        let mut client = Self { socket, next_id: 1 };
        let payload = match token {
            Some(t) => json!({ "authorization": format!("Bearer {t}") }),
            None => json!({}),
        };
        client
            .send(json!({ "type": "connection_init", "payload": payload }))
            .await;
        match client.next_raw(Duration::from_secs(10)).await {
            Some(v) if v["type"] == "connection_ack" => Ok(client),
            other => Err(format!("{other:?}")),
        }
    }

    async fn send(&mut self, v: Value) {
        self.socket
            .send(Message::Text(v.to_string().into()))
            .await
            .expect("ws send");
    }

    /// The next protocol message (pings answered), or None on close or timeout.
    pub async fn next_raw(&mut self, wait: Duration) -> Option<Value> {
        loop {
            let msg = tokio::time::timeout(wait, self.socket.next())
                .await
                .ok()??
                .ok()?;
            match msg {
                Message::Text(t) => {
                    let v: Value = serde_json::from_str(&t).ok()?;
                    if v["type"] == "ping" {
                        self.send(json!({ "type": "pong" })).await;
                        continue;
                    }
                    return Some(v);
                }
                Message::Close(frame) => {
                    return frame.map(|f| json!({ "type": "close", "code": u16::from(f.code), "reason": f.reason.to_string() }));
                }
                _ => continue,
            }
        }
    }

    /// Starts a subscription; returns its id.
    pub async fn subscribe(&mut self, query: &str, variables: Value) -> String {
        let id = self.next_id.to_string();
        self.next_id += 1;
        self.send(json!({ "id": id, "type": "subscribe", "payload": { "query": query, "variables": variables } })).await;
        id
    }

    /// The next `next` payload of subscription `id` (other ids' messages are skipped), or the
    /// `error`/`complete` message as is. None on timeout.
    pub async fn next_for(&mut self, id: &str, wait: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let v = self.next_raw(left).await?;
            if v["id"] == id {
                return Some(if v["type"] == "next" {
                    v["payload"].clone()
                } else {
                    v
                });
            }
        }
    }

    pub async fn complete(&mut self, id: &str) {
        self.send(json!({ "id": id, "type": "complete" })).await;
    }
}
