//! Trace export over OTLP/HTTP: a real server with `OTEL_EXPORTER_OTLP_ENDPOINT` (its
//! `ops.otel_endpoint`) pointing at a fake collector (an axum server taking `POST /v1/traces`
//! protobuf), a GraphQL read and a chat reply from the fake provider, then the collector must hold
//! the request span carrying the `x-request-id` the response had, resolver spans under it, SQL
//! statement spans (kind and duration only) under those, and the provider call's span under the
//! sending resolver.
//!
//! A test binary of its own (`[[test]] traces`): the trace subscriber is the process's global
//! one, which the e2e binary's hundreds of tests must not share (thread-local subscribers per
//! test lost spans when other tests ran alongside). One test runs SQLite, then PostgreSQL.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ai_providers::RetryConfig;
use ai_providers::testing::FakeProvider;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use colloquy_tests::{Backend, TestApp};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message as _;
use serde_json::{Value, json};

const MODEL: &str = "claude-sonnet-4-20250514";

type Received = Arc<Mutex<Vec<Span>>>;

/// A fake OTLP/HTTP collector on an ephemeral port: every span it was sent.
async fn collector() -> (String, Received) {
    async fn traces(State(spans): State<Received>, body: Bytes) -> &'static str {
        let request = ExportTraceServiceRequest::decode(body).expect("an OTLP protobuf body");
        let mut all = spans.lock().unwrap();
        for resource in request.resource_spans {
            for scope in resource.scope_spans {
                all.extend(scope.spans);
            }
        }
        ""
    }
    let spans: Received = Arc::default();
    let app = axum::Router::new()
        .route("/v1/traces", post(traces))
        .with_state(Arc::clone(&spans));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, spans)
}

fn attr<'a>(span: &'a Span, key: &str) -> Option<&'a Any> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

fn attr_str<'a>(span: &'a Span, key: &str) -> Option<&'a str> {
    match attr(span, key) {
        Some(Any::StringValue(s)) => Some(s),
        _ => None,
    }
}

/// A GraphQL request returning its `data` and `x-request-id`.
async fn request(app: &TestApp, token: &str, query: &str, variables: Value) -> (Value, String) {
    let res = app
        .http
        .post(app.url("/graphql"))
        .bearer_auth(token)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .expect("request sent");
    let id = res
        .headers()
        .get("x-request-id")
        .expect("an x-request-id")
        .to_str()
        .unwrap()
        .to_owned();
    let body: Value = res.json().await.expect("JSON");
    assert!(body.get("errors").is_none(), "unexpected errors: {body:#}");
    (body["data"].clone(), id)
}

/// What one request's trace holds, once the collector has it all.
struct RequestTrace {
    resolver_paths: Vec<String>,
    sql_kinds: Vec<String>,
}

/// The trace of the request whose `request_id` is `id`: its HTTP request span, the resolver
/// (`field`) spans and SQL spans descending from it. None until the collector holds the request
/// span and `ready` says the trace is complete.
fn request_trace(
    spans: &[Span],
    id: &str,
    ready: impl Fn(&RequestTrace) -> bool,
) -> Option<RequestTrace> {
    let root = spans
        .iter()
        .find(|s| s.name == "request" && attr_str(s, "request_id") == Some(id))?;
    let in_trace: Vec<&Span> = spans
        .iter()
        .filter(|s| s.trace_id == root.trace_id)
        .collect();
    // Descendants of the request span, by parent links (not the trace id alone).
    let mut family = vec![root.span_id.clone()];
    let mut grew = true;
    while grew {
        grew = false;
        for s in &in_trace {
            if !family.contains(&s.span_id) && family.contains(&s.parent_span_id) {
                family.push(s.span_id.clone());
                grew = true;
            }
        }
    }
    let under = |s: &&&Span| family.contains(&s.span_id) && s.span_id != root.span_id;
    let trace = RequestTrace {
        resolver_paths: in_trace
            .iter()
            .filter(under)
            .filter(|s| s.name == "field")
            .filter_map(|s| attr_str(s, "path").map(str::to_owned))
            .collect(),
        sql_kinds: in_trace
            .iter()
            .filter(under)
            .filter(|s| s.name == "sql")
            .filter_map(|s| attr_str(s, "db.operation.name").map(str::to_owned))
            .collect(),
    };
    ready(&trace).then_some(trace)
}

/// Polls the collector (the exporter sends batches every few seconds) until `id`'s trace is
/// `ready`, or fails after a deadline.
async fn wait_for_trace(
    spans: &Received,
    id: &str,
    ready: impl Fn(&RequestTrace) -> bool,
) -> RequestTrace {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(trace) = request_trace(&spans.lock().unwrap(), id, &ready) {
            return trace;
        }
        if tokio::time::Instant::now() > deadline {
            let short = |b: &[u8]| {
                b.iter()
                    .take(4)
                    .map(|x| format!("{x:02x}"))
                    .collect::<String>()
            };
            let names: Vec<String> = spans
                .lock()
                .unwrap()
                .iter()
                .map(|s| {
                    format!(
                        "{} t{} s{} p{} {:?}",
                        s.name,
                        short(&s.trace_id),
                        short(&s.span_id),
                        short(&s.parent_span_id),
                        attr_str(s, "request_id").or(attr_str(s, "path"))
                    )
                })
                .collect();
            panic!(
                "no complete trace for request {id} in time; spans received:\n{}",
                names.join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn traces_reach_the_collector(backend: Backend, endpoint: String, spans: Received) {
    let system = match backend {
        Backend::Postgres => "postgresql",
        Backend::Sqlite => "sqlite",
    };
    let fake = FakeProvider::start().await.unwrap();
    let endpoint = endpoint.clone();
    let Some(app) = TestApp::spawn_with(backend, |c| {
        c.ops.otel_endpoint = Some(endpoint);
        c.chat.providers.anthropic = Some(fake.http_config(Some("sk-server")));
        c.chat.providers.retry = RetryConfig {
            max_attempts: 1,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(100),
        };
    })
    .await
    else {
        return;
    };
    let ada = app.register("ada@example.com").await;

    // A read: its request span carries the response's request id, with the resolvers and
    // their statements under it.
    let (_, read_id) = request(
        &app,
        &ada.token,
        "{ me { email conversations(first: 5) { totalCount } } }",
        json!({}),
    )
    .await;
    let read = wait_for_trace(&spans, &read_id, |t| {
        t.resolver_paths.iter().any(|p| p == "me") && !t.sql_kinds.is_empty()
    })
    .await;
    // (PostgreSQL's shared rate limiter also writes on a read.)
    assert!(
        read.sql_kinds.iter().any(|k| k == "SELECT"),
        "a read selects: {:?}",
        read.sql_kinds
    );

    // A chat reply: the provider call's span is in the sending request's trace.
    let (data, _) = request(
            &app,
            &ada.token,
            "mutation($m: String) { createConversation(input: { title: \"Chat\", model: $m }) { conversation { id } } }",
            json!({ "m": MODEL }),
        )
        .await;
    let conversation = data["createConversation"]["conversation"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (data, send_id) = request(
        &app,
        &ada.token,
        "mutation($i: SendMessageInput!) { sendMessage(input: $i) { reply { id } } }",
        json!({ "i": { "conversationId": conversation, "content": "hello there" } }),
    )
    .await;
    let reply = data["sendMessage"]["reply"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut ws = app.ws(Some(&ada.token)).await;
    let sub = ws
        .subscribe(
            "subscription($id: ID!) { messageStream(messageId: $id) { done status } }",
            json!({ "id": reply }),
        )
        .await;
    loop {
        let event = ws
            .next_for(&sub, Duration::from_secs(60))
            .await
            .expect("a stream event in time");
        if event["data"]["messageStream"]["done"] == true {
            assert_eq!(event["data"]["messageStream"]["status"], "COMPLETE");
            break;
        }
    }
    // The provider call is a child of the `sendMessage` resolver (the parent of the
    // `sendMessage.reply` resolver), in its trace, with the request's INSERTs.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        // (provider, model, whether the trace holds INSERTs) of the call, once exported.
        let found = {
            let all = spans.lock().unwrap();
            let reply = all
                .iter()
                .find(|s| s.name == "field" && attr_str(s, "path") == Some("sendMessage.reply"));
            let call = reply.and_then(|r| {
                all.iter().find(|s| {
                    s.name == "provider_call"
                        && s.trace_id == r.trace_id
                        && s.parent_span_id == r.parent_span_id
                })
            });
            call.map(|call| {
                (
                    attr_str(call, "provider").map(str::to_owned),
                    attr_str(call, "model").map(str::to_owned),
                    all.iter().any(|s| {
                        s.name == "sql"
                            && s.trace_id == call.trace_id
                            && attr_str(s, "db.operation.name") == Some("INSERT")
                            && attr_str(s, "db.system.name") == Some(system)
                    }),
                )
            })
        };
        if let Some((provider, model, inserts)) = found {
            assert_eq!(provider.as_deref(), Some("anthropic"));
            assert_eq!(model.as_deref(), Some(MODEL));
            assert!(inserts, "sendMessage's trace holds its INSERTs");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no provider_call span under sendMessage in time (request {send_id})"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Statement spans carry their kind, database and duration: never text or values.
    let all = spans.lock().unwrap();
    let sql: Vec<&Span> = all.iter().filter(|s| s.name == "sql").collect();
    assert!(!sql.is_empty());
    for s in &sql {
        let keys: Vec<&str> = s.attributes.iter().map(|kv| kv.key.as_str()).collect();
        assert_eq!(
            keys,
            ["db.system.name", "db.operation.name", "db.duration_us"],
            "a SQL span's attributes"
        );
        assert!(s.end_time_unix_nano >= s.start_time_unix_nano);
        assert!(
            matches!(attr_str(s, "db.system.name"), Some("sqlite" | "postgresql")),
            "{s:?}"
        );
    }
    let dump = format!("{:?}", sql);
    assert!(!dump.contains("hello there") && !dump.contains("ada@example.com"));

    // async-graphql's parse span records the operation with its variables filled in: input
    // fields marked secret (passwords, PINs, tokens, provider keys) must read as `***` there.
    let everything = format!("{:?}", *all);
    assert!(
        everything.contains("register(input"),
        "the registration's parse span was exported"
    );
    assert!(
        !everything.contains("correct horse battery staple"),
        "a password reached the traces"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traces_reach_the_collector_on_sqlite_and_postgresql() {
    let (endpoint, spans) = collector().await;
    let mut log = gateway::platform::config::Config::for_tests("sqlite::memory:").log;
    log.filter = "warn,gateway=info,async_graphql=info".to_owned();
    let (dispatch, guard) = gateway::platform::telemetry::subscriber(&log, Some(&endpoint));
    let guard = guard.expect("the OTLP exporter is set up");
    tracing::dispatcher::set_global_default(dispatch).expect("the only subscriber");
    for backend in [Backend::Sqlite, Backend::Postgres] {
        // Each run's spans are told apart by their request ids and the sendMessage they follow.
        spans.lock().unwrap().clear();
        traces_reach_the_collector(backend, endpoint.clone(), Arc::clone(&spans)).await;
    }
    // Flushing blocks: off the runtime's threads.
    tokio::task::spawn_blocking(move || drop(guard))
        .await
        .unwrap();
}
