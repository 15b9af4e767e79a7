//! The administrators' view of the record: the audit log (`auditEvents`, every change every
//! mutation made, with who, what, when and from which request) and soft-deleted records
//! (`deletedRecords`, `restoreRecord`). ADMIN only; everyone else gets FORBIDDEN.

pub mod graphql;
pub mod service;

pub use service::AuditService;
