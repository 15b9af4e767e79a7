//! Research data of the practice programmes: staff reading the sessions that run under
//! invitations (messages, usage, notes), researchers' observation notes, and product telemetry.

pub mod graphql;
pub mod loaders;
pub mod service;

pub use service::ResearchService;
