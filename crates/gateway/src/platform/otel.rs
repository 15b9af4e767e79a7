//! OpenTelemetry traces over OTLP/HTTP (protobuf), only when `OTEL_EXPORTER_OTLP_ENDPOINT` is
//! set: the `tracing` spans (each request's span with its `request_id`, async-graphql's spans
//! for parsing, validation and each resolver, `provider_call` spans of reply generation) become
//! OpenTelemetry spans, exported in batches from a background thread to
//! `<endpoint>/v1/traces`. Unset (the default), no layer, exporter or extension is installed:
//! nothing is recorded and nothing costs.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{SpanExporter, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};

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
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
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
