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
        let mut client = Self::open(url, None).await;
        let payload = match token {
            Some(t) => json!({ "authorization": format!("Bearer {t}") }),
            None => json!({}),
        };
        client
            .init(payload)
            .await
            .map(|()| client)
            .map_err(|refusal| format!("{refusal:?}"))
    }

    /// Opens the socket (graphql-transport-ws) without sending `connection_init`; `header_token`
    /// travels as `Authorization: Bearer` on the upgrade request.
    pub async fn open(url: &str, header_token: Option<&str>) -> Self {
        let mut request = url.into_client_request().expect("ws url");
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            "graphql-transport-ws".parse().expect("header"),
        );
        if let Some(t) = header_token {
            request.headers_mut().insert(
                "Authorization",
                format!("Bearer {t}").parse().expect("header"),
            );
        }
        let (socket, _) = tokio_tungstenite::connect_async(request)
            .await
            .expect("websocket handshake");
        Self { socket, next_id: 1 }
    }

    /// Sends `connection_init` with `payload`; Ok on `connection_ack`, otherwise the server's
    /// answer (e.g. `{"type": "close", "code": 4403, ...}`), or Null when the socket just ended.
    pub async fn init(&mut self, payload: Value) -> Result<(), Value> {
        self.send(json!({ "type": "connection_init", "payload": payload }))
            .await;
        match self.next_raw(Duration::from_secs(10)).await {
            Some(v) if v["type"] == "connection_ack" => Ok(()),
            Some(other) => Err(other),
            None => Err(Value::Null),
        }
    }

    /// Sends a protocol message as it is.
    pub async fn send(&mut self, v: Value) {
        self.socket
            .send(Message::Text(v.to_string().into()))
            .await
            .expect("ws send");
    }

    /// Sends a text message that the server may refuse by closing: Err when the socket broke.
    pub async fn try_send_text(&mut self, text: String) -> Result<(), String> {
        self.socket
            .send(Message::Text(text.into()))
            .await
            .map_err(|e| e.to_string())
    }

    /// Starts a subscription under an id of the caller's choosing.
    pub async fn subscribe_as(&mut self, id: &str, query: &str, variables: Value) {
        self.send(json!({ "id": id, "type": "subscribe", "payload": { "query": query, "variables": variables } })).await;
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
