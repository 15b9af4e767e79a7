//! Shared machinery every area uses: configuration, the event buses, rate limits and attempt
//! counters, the outbox for one-time tokens, telemetry set-up and the seed loader.

pub mod attempts;
pub mod audit;
pub mod config;
pub mod events;
pub mod jobs;
pub mod metrics;
pub mod outbox;
pub mod rate_limit;
pub mod seed;
pub mod telemetry;
// operations (analytics helper)
pub mod heartbeat;
pub mod otel;
