//! A fake AI provider server for tests (feature `testing`): it speaks Anthropic Messages at
//! `POST /v1/messages` and OpenAI Chat Completions at `POST /v1/chat/completions`, serving the
//! recorded fixtures in `fixtures/`, and can be scripted per request.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use ai_providers::testing::{FakeProvider, FakeReply};
//! let fake = FakeProvider::start().await?;
//! fake.push(FakeReply::error(429).retry_after(1)); // the first request is rate-limited,
//! fake.push(FakeReply::text(["Hi", "!"]));         // the second gets "Hi!",
//! // ... and later ones the fixture reply ("Hello there!"), unless `set_default` says otherwise.
//! let config = fake.http_config(Some("sk-test"));  // point a provider at the fake
//! # let _ = config; Ok(()) }
//! ```
//!
//! Scripted replies are used in order; a reply pushed with [`FakeProvider::push_when`] is only
//! used by a request it matches (handy when a chat stream and a title request race). Every
//! request is recorded (headers and JSON body) for assertions. Dropping the fake stops it and
//! ends any stalled response.

mod reply;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::HttpProviderConfig;
pub use reply::{
    ANTHROPIC_FIXTURE_USAGE, FIXTURE_DELTAS, FakeReply, OPENAI_FIXTURE_USAGE, WireFormat,
};
use reply::{Ending, Rendered};

/// Lets bytes already written reach the client before a cut, so "partial output" is real.
const FLUSH_PAUSE: Duration = Duration::from_millis(20);

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: Method,
    pub path: String,
    pub headers: HeaderMap,
    /// The JSON body, or `Value::Null` when it was not JSON.
    pub body: serde_json::Value,
}

impl RecordedRequest {
    /// A header's value (names are case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Which API the request was for, from its path.
    pub fn format(&self) -> Option<WireFormat> {
        match self.path.as_str() {
            "/v1/messages" => Some(WireFormat::Anthropic),
            "/v1/chat/completions" => Some(WireFormat::OpenAi),
            _ => None,
        }
    }

    /// Whether the body asked for a stream.
    pub fn is_streaming(&self) -> bool {
        self.body["stream"] == true
    }

    /// The system prompt in either format.
    pub fn system_prompt(&self) -> Option<&str> {
        match self.format()? {
            WireFormat::Anthropic => self.body["system"].as_str(),
            WireFormat::OpenAi => self.body["messages"]
                .as_array()?
                .iter()
                .find(|m| m["role"] == "system")?["content"]
                .as_str(),
        }
    }
}

type Matcher = Arc<dyn Fn(&RecordedRequest) -> bool + Send + Sync>;

struct Script {
    matcher: Option<Matcher>,
    reply: FakeReply,
}

struct Shared {
    scripts: Mutex<VecDeque<Script>>,
    default: Mutex<FakeReply>,
    requests: Mutex<Vec<RecordedRequest>>,
    shutdown: watch::Receiver<bool>,
    /// Response bodies the server is still sending (see [`FakeProvider::open_responses`]).
    open_responses: Arc<AtomicUsize>,
}

/// Counts a response body as open for as long as it lives.
struct OpenResponse(Arc<AtomicUsize>);

impl OpenResponse {
    fn new(counter: &Arc<AtomicUsize>) -> Self {
        counter.fetch_add(1, Ordering::SeqCst);
        Self(Arc::clone(counter))
    }
}

impl Drop for OpenResponse {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking test thread must not hide the recorded requests from the others.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running fake provider on `127.0.0.1` and an ephemeral port.
pub struct FakeProvider {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
    server: JoinHandle<()>,
}

impl FakeProvider {
    /// Starts the server on an ephemeral port. Needs a Tokio runtime.
    pub async fn start() -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let (shutdown, shutdown_rx) = watch::channel(false);
        let shared = Arc::new(Shared {
            scripts: Mutex::new(VecDeque::new()),
            default: Mutex::new(FakeReply::success()),
            requests: Mutex::new(Vec::new()),
            shutdown: shutdown_rx,
            open_responses: Arc::new(AtomicUsize::new(0)),
        });
        let app = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&shared));
        let server = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                tracing::error!(%error, "the fake provider stopped");
            }
        });
        Ok(Self {
            addr,
            shared,
            shutdown,
            server,
        })
    }

    /// `http://127.0.0.1:<port>`: the base URL for either provider.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A provider configuration pointing at the fake.
    pub fn http_config(&self, api_key: Option<&str>) -> HttpProviderConfig {
        HttpProviderConfig {
            base_url: self.base_url(),
            api_key: api_key.map(str::to_owned),
        }
    }

    /// Queues a reply for the next request.
    pub fn push(&self, reply: FakeReply) {
        lock(&self.shared.scripts).push_back(Script {
            matcher: None,
            reply,
        });
    }

    /// Queues the same reply for the next `times` requests.
    pub fn push_times(&self, reply: FakeReply, times: usize) {
        for _ in 0..times {
            self.push(reply.clone());
        }
    }

    /// Queues a reply for the first later request that `matcher` accepts; requests it rejects
    /// get the next reply without a matcher, or the default.
    pub fn push_when<F>(&self, matcher: F, reply: FakeReply)
    where
        F: Fn(&RecordedRequest) -> bool + Send + Sync + 'static,
    {
        lock(&self.shared.scripts).push_back(Script {
            matcher: Some(Arc::new(matcher)),
            reply,
        });
    }

    /// The reply when nothing queued applies (initially [`FakeReply::success`]).
    pub fn set_default(&self, reply: FakeReply) {
        *lock(&self.shared.default) = reply;
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.requests).clone()
    }

    pub fn request_count(&self) -> usize {
        lock(&self.shared.requests).len()
    }

    pub fn last_request(&self) -> Option<RecordedRequest> {
        lock(&self.shared.requests).last().cloned()
    }

    /// Response bodies still being sent. A client that drops a stream closes its connection,
    /// and the server drops the body soon after: tests of cancellation wait for this to reach 0.
    pub fn open_responses(&self) -> usize {
        self.shared.open_responses.load(Ordering::SeqCst)
    }

    /// Replies still queued.
    pub fn pending_replies(&self) -> usize {
        lock(&self.shared.scripts).len()
    }
}

impl Drop for FakeProvider {
    fn drop(&mut self) {
        // Ends stalled bodies (their connections are served by tasks of their own).
        let _ = self.shutdown.send(true);
        self.server.abort();
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = RecordedRequest {
        method,
        path: uri.path().to_owned(),
        headers,
        body: serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
    };
    lock(&shared.requests).push(request.clone());
    let Some(format) = request.format().filter(|_| request.method == Method::POST) else {
        return status_only(StatusCode::NOT_FOUND);
    };
    let reply = next_reply(&shared, &request);
    let usage_requested = match format {
        WireFormat::Anthropic => true,
        WireFormat::OpenAi => {
            !request.is_streaming() || request.body["stream_options"]["include_usage"] == true
        }
    };
    let rendered = reply.render(format, request.is_streaming(), usage_requested);
    let open = OpenResponse::new(&shared.open_responses);
    respond(rendered, shared.shutdown.clone(), open)
}

fn next_reply(shared: &Shared, request: &RecordedRequest) -> FakeReply {
    let mut scripts = lock(&shared.scripts);
    let position = scripts
        .iter()
        .position(|s| s.matcher.as_ref().is_none_or(|m| m(request)));
    match position.and_then(|i| scripts.remove(i)) {
        Some(script) => script.reply,
        None => lock(&shared.default).clone(),
    }
}

fn status_only(status: StatusCode) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = status;
    response
}

fn respond(
    rendered: Rendered,
    mut shutdown: watch::Receiver<bool>,
    open: OpenResponse,
) -> Response {
    let Rendered {
        status,
        headers,
        parts,
        chunk_delay,
        ending,
    } = rendered;
    let body = async_stream::stream! {
        let _open = open;
        for part in parts {
            if !chunk_delay.is_zero() {
                tokio::time::sleep(chunk_delay).await;
            }
            yield Ok::<Bytes, std::io::Error>(part);
        }
        match ending {
            Ending::Complete => {}
            Ending::CutAfter(_) => {
                tokio::time::sleep(FLUSH_PAUSE).await;
                yield Err(std::io::Error::other("the fake provider cut the connection"));
            }
            Ending::StallAfter(_) => {
                let _ = shutdown.wait_for(|stopped| *stopped).await;
                yield Err(std::io::Error::other("the fake provider stopped"));
            }
        }
    };
    let mut response = Response::new(Body::from_stream(body));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}
