//! Journals (Numira): prompt and response pairs a user keeps, saved from a reply in one of
//! their conversations or written out, each with the persona and room it belongs to. Only ever
//! visible to their owner.

pub mod graphql;
pub mod service;

pub use service::JournalService;
