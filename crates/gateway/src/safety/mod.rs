//! Safety incidents (Azora): anyone signed in reports a message, a conversation or a user they
//! can see (`reportIncident`, with a category and a description); MODERATORs (and admins)
//! triage them OPEN → INVESTIGATING → RESOLVED / DISMISSED with notes and a severity. A reporter
//! sees their own reports and where they stand, never the moderators' notes; anyone else gets
//! NOT_FOUND (null from a look-up).

pub mod graphql;
pub mod service;

pub use service::SafetyService;
