//! Logging through `tracing`: human-readable by default, JSON lines with
//! `COLLOQUY_LOG_FORMAT=json`, filtered by `RUST_LOG`; and, when `OTEL_EXPORTER_OTLP_ENDPOINT` is
//! set, the same spans exported as OpenTelemetry traces (`platform::otel`).

use tracing::Dispatch;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::platform::config::{LogConfig, LogFormat};
use crate::platform::otel::{self, TraceGuard};

/// Installs the global subscriber; a second call (tests) is a no-op.
pub fn init(config: &LogConfig) {
    let _ = init_with_traces(config, None);
}

/// [`init`], plus trace export to `otel_endpoint` when given. Keep the returned guard alive
/// until exit: dropping it flushes the last spans.
pub fn init_with_traces(config: &LogConfig, otel_endpoint: Option<&str>) -> Option<TraceGuard> {
    let (dispatch, guard) = subscriber(config, otel_endpoint);
    // Already installed (e.g. by another test in this process): keep the first.
    let _ = dispatch.try_init();
    guard
}

/// The subscriber [`init_with_traces`] installs, not installed: the log layer, and with
/// `otel_endpoint` the trace export (request, resolver, provider-call and SQL spans). A test
/// sets it as its threads' default to see its own server's traces.
pub fn subscriber(
    config: &LogConfig,
    otel_endpoint: Option<&str>,
) -> (Dispatch, Option<TraceGuard>) {
    let filter = EnvFilter::try_new(&config.filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let (traces, guard) = match otel_endpoint.map(otel::tracer) {
        Some(Ok((tracer, guard))) => (
            Some(
                tracing_opentelemetry::layer()
                    .with_tracer(tracer.clone())
                    .and_then(otel::sql_spans(tracer)),
            ),
            Some(guard),
        ),
        Some(Err(error)) => {
            eprintln!("warning: traces are off: cannot set up the OTLP exporter: {error:#}");
            (None, None)
        }
        None => (None, None),
    };
    let registry = tracing_subscriber::registry().with(filter).with(traces);
    let dispatch = match config.format {
        LogFormat::Pretty => {
            Dispatch::new(registry.with(tracing_subscriber::fmt::layer().with_target(false)))
        }
        LogFormat::Json => Dispatch::new(
            registry.with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true),
            ),
        ),
    };
    (dispatch, guard)
}
