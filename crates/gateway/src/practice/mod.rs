//! The practice coach: scenarios (a partner to talk to and a coach who comments), quota presets,
//! invitations with token quotas, scenario sessions and their lifecycle. The two streamed replies
//! of a session's messages are chat's (`chat::service`), which sees the scenario on the
//! conversation.

pub mod graphql;
pub mod loaders;
pub mod service;

pub use service::PracticeService;
