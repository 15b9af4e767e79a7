//! OpenTelemetry traces over OTLP/HTTP (protobuf), only when `OTEL_EXPORTER_OTLP_ENDPOINT` is
//! set: the `tracing` spans (each request's span with its `request_id`, async-graphql's spans
//! for parsing, validation and each resolver, `provider_call` spans of reply generation) become
//! OpenTelemetry spans, exported in batches from a background thread to
//! `<endpoint>/v1/traces`. Each SQL statement becomes a `sql` span, child of the span that issued
//! it (see [`sql_span`]). Unset (the default), no layer, exporter, extension or statement
//! observer is installed: nothing is recorded and nothing costs.

use std::time::SystemTime;

use opentelemetry::KeyValue;
use opentelemetry::trace::{Span as _, SpanKind, Status, Tracer as _, TracerProvider as _};
use opentelemetry_otlp::{SpanExporter, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, SdkTracer, SdkTracerProvider,
};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// A layer that records nothing itself: it carries the tracer SQL spans are made with, found
/// through the current dispatcher (so each subscriber, e.g. each test's, exports its own).
pub struct SqlSpans(SdkTracer);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for SqlSpans {}

/// The [`SqlSpans`] layer for `tracer`; installs the pool's statement observer (once).
pub fn sql_spans(tracer: SdkTracer) -> SqlSpans {
    persistence::set_statement_observer(sql_span);
    SqlSpans(tracer)
}

/// A statement as a span: named `sql`, with its kind (`db.operation.name`: `SELECT`, `INSERT`,
/// ...), the database (`db.system.name`) and its duration, under the span that issued it (a
/// resolver, a request, a provider call). Never the statement's text or bound values: they may
/// hold messages, tokens or keys. The pool reports a statement once it ended, so the span is
/// made afterwards with its real start and end. Statements outside any span (start-up, background
/// sweeps, data loaders' own tasks) would each start a trace of one span: they are left out.
fn sql_span(done: &persistence::StatementDone<'_>) {
    // Out of `get_default` before going on: within it the dispatcher is busy, and
    // `Span::current()` would answer no span.
    let tracer = tracing::dispatcher::get_default(|dispatch| {
        dispatch
            .downcast_ref::<SqlSpans>()
            .map(|SqlSpans(tracer)| tracer.clone())
    });
    if let Some(tracer) = tracer {
        record_sql_span(&tracer, done);
    }
}

fn record_sql_span(tracer: &SdkTracer, done: &persistence::StatementDone<'_>) {
    let current = tracing::Span::current();
    if current.is_none() {
        return;
    }
    let parent = current.context();
    let end = SystemTime::now();
    let start = end.checked_sub(done.elapsed).unwrap_or(end);
    let mut span = tracer
        .span_builder("sql")
        .with_kind(SpanKind::Client)
        .with_start_time(start)
        .with_attributes([
            KeyValue::new("db.system.name", done.system),
            KeyValue::new("db.operation.name", done.kind.to_owned()),
            KeyValue::new(
                "db.duration_us",
                i64::try_from(done.elapsed.as_micros()).unwrap_or(i64::MAX),
            ),
        ])
        .start_with_context(tracer, &parent);
    if done.failed {
        span.set_status(Status::error("statement failed"));
    }
    span.end_with_timestamp(end);
}

/// Spans waiting for export at most (then new ones are dropped) unless
/// `OTEL_BSP_MAX_QUEUE_SIZE` is set.
const SPAN_QUEUE: usize = 32_768;

/// Flushes and stops the exporter when dropped (at the end of `main`).
pub struct TraceGuard(SdkTracerProvider);

impl Drop for TraceGuard {
    fn drop(&mut self) {
        if let Err(error) = self.0.shutdown() {
            eprintln!("warning: cannot flush traces: {error}");
        }
    }
}

/// The traces endpoint of an OTLP base endpoint (`http://collector:4318` →
/// `http://collector:4318/v1/traces`).
pub fn traces_url(endpoint: &str) -> String {
    let base = endpoint.trim_end_matches('/');
    if base.ends_with("/v1/traces") {
        base.to_owned()
    } else {
        format!("{base}/v1/traces")
    }
}

/// A tracer exporting to `endpoint`, and the guard that flushes it.
pub fn tracer(endpoint: &str) -> anyhow::Result<(SdkTracer, TraceGuard)> {
    let exporter = SpanExporter::builder()
        .with_http()
        .with_endpoint(traces_url(endpoint))
        .build()?;
    // Statements multiply the spans of a request (dozens each, and a streamed reply's batched
    // saves): the standard queue of 2,048 spans fills within one export interval under
    // modest load and drops spans, so it is larger unless OTEL_BSP_MAX_QUEUE_SIZE says.
    let mut batch = BatchConfigBuilder::default();
    if std::env::var_os("OTEL_BSP_MAX_QUEUE_SIZE").is_none() {
        batch = batch.with_max_queue_size(SPAN_QUEUE);
    }
    let processor = BatchSpanProcessor::builder(exporter)
        .with_batch_config(batch.build())
        .build();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(processor)
        .with_resource(
            Resource::builder()
                .with_service_name("colloquy")
                .with_attribute(opentelemetry::KeyValue::new(
                    "service.version",
                    env!("CARGO_PKG_VERSION"),
                ))
                .build(),
        )
        .build();
    let tracer = provider.tracer("colloquy");
    Ok((tracer, TraceGuard(provider)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_traces_path_is_appended_once() {
        assert_eq!(
            traces_url("http://collector:4318/"),
            "http://collector:4318/v1/traces"
        );
        assert_eq!(
            traces_url("http://collector:4318/v1/traces"),
            "http://collector:4318/v1/traces"
        );
    }
}
