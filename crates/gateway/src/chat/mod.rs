//! Chat: sending, editing and regenerating messages with AI replies, following replies as they
//! are produced, cancelling them, choosing a conversation's model, and users' own provider keys.

mod follow;
mod generate;
pub mod graphql;
pub mod keys;
pub mod recover;
pub mod service;

pub use service::{ChatService, ReplyChunk};
