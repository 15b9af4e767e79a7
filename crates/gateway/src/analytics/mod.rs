//! Internal analytics (`analytics { usage activity quotas telemetry funnel top-N }` for staff and
//! administrators), usage where users look for it (`Message.usage`, `me { usage }`, an
//! invitation's usage for its invitee), and the operator's `serverStatus`.

pub mod graphql;
pub mod loaders;
pub mod service;

pub use service::AnalyticsService;
