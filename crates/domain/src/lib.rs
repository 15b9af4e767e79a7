//! Colloquy's language: ids, enums, value types, validation, pure rules and the access policy.
//!
//! Nothing here does IO, is async, or knows about SeaORM or GraphQL: every other crate depends on
//! this one, and this one on none of ours. Where two crates need the same type, it lives here.

pub mod enums;
pub mod ids;
pub mod pagination;
pub mod policy;
pub mod time;
pub mod validation;

pub use enums::*;
pub use policy::{Action, Actor, Resource};
pub use validation::ValidationError;
