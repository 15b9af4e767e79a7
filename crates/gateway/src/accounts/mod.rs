//! Accounts: sign-in (passwords, guests, OAuth), sessions, API tokens, contact methods, the
//! disclaimer, and administration.

mod administration;
mod callers;
pub mod graphql;
pub mod identity;
pub mod loaders;
pub mod service;

pub use service::{
    AccountService, Caller, SignedIn, publish_configured_disclaimer, require_disclaimer,
};
