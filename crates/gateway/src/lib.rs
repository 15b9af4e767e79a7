//! Colloquy's gateway: configuration, CLI, the axum server, the async-graphql schema (one module
//! per area under [`graphql`]), dataloaders, limits, and the use cases that compose the crates
//! below it. Start-up order lives in [`app`]; see `docs/ARCHITECTURE.md` for a request's walk.

pub mod accounts;
pub mod administration;
pub mod app;
pub mod attempts;
pub mod cli;
pub mod config;
pub mod error;
pub mod events;
pub mod graphql;
pub mod identity;
pub mod oauth_http;
pub mod outbox;
pub mod rate_limit;
pub mod seed;
pub mod server;
pub mod telemetry;
