//! GraphQL mirrors of the domain's enums. `remote` generates the conversions both ways, so the
//! GraphQL spelling (SCREAMING_CASE) and the stored spelling (the seeds') never mix.

use async_graphql::Enum;

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "Role", remote = "core_domain::enums::Role")]
pub enum Role {
    Guest,
    User,
    Educator,
    Staff,
    Moderator,
    Developer,
    Admin,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "MessageRole", remote = "core_domain::enums::MessageRole")]
pub enum MessageRole {
    User,
    Assistant,
    System,
    Partner,
    Coach,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "MessageStatus", remote = "core_domain::enums::MessageStatus")]
pub enum MessageStatus {
    Complete,
    Streaming,
    Failed,
    Cancelled,
}

/// A provider a user can bring their own key for.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "KeyProvider", remote = "core_domain::enums::KeyProvider")]
pub enum KeyProvider {
    Anthropic,
    #[graphql(name = "OPENAI")]
    OpenAi,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(
    name = "ConversationStatus",
    remote = "core_domain::enums::ConversationStatus"
)]
pub enum ConversationStatus {
    Active,
    Paused,
    Completed,
    Abandoned,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "PromptType", remote = "core_domain::enums::PromptType")]
pub enum PromptType {
    Open,
    Guided,
    ShortForm,
    Targeted,
}

/// Sort direction of a list.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug, Default)]
pub enum SortDirection {
    Asc,
    #[default]
    Desc,
}
