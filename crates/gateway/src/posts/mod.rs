//! Posts (OptiMind): articles written as drafts, published for everyone (signed in or not) to
//! read, featured by moderators, addressed by a unique slug made from the title.

pub mod graphql;
pub mod service;

pub use service::PostService;
