//! Conversations and their messages: reading them (nested pages through loaders), creating,
//! renaming and deleting conversations, adding a user's message, and following new messages
//! live on any instance.

pub mod graphql;
pub mod loaders;
pub mod service;

pub use service::ConversationService;
