//! GraphQL mirrors of the domain's enums (`remote` generates the conversions both ways, so the
//! GraphQL spelling, SCREAMING_CASE, and the stored spelling, the seeds', never mix), and the
//! custom scalars: each says what it holds and carries `@specifiedBy` its format's
//! specification.

use async_graphql::{Enum, InputValueError, InputValueResult, Scalar, ScalarType, Value};

/// What the `DateTime` scalar says of itself. The scalar is async-graphql's own for
/// `chrono::DateTime<Utc>`, which already carries `@specifiedBy(url: RFC 3339)`; the schema
/// replaces its description with this one (`graphql::build`).
pub const DATE_TIME_DESCRIPTION: &str = "A point in time: an RFC 3339 date-time string with its \
    UTC offset. The server sends UTC, to the microsecond (`2025-01-31T09:30:00.123456+00:00`); \
    inputs may use any offset.";

/// Any JSON value (RFC 8259), carried as itself: an object, array, string, number, boolean or
/// null, not a string holding JSON text.
#[derive(Debug, Clone, PartialEq)]
pub struct Json(pub serde_json::Value);

/// Any JSON value (RFC 8259), carried as itself in the response and in variables: an object,
/// array, string, number, boolean or null, never a string holding JSON text.
#[Scalar(
    name = "JSON",
    specified_by_url = "https://www.rfc-editor.org/rfc/rfc8259"
)]
impl ScalarType for Json {
    fn parse(value: Value) -> InputValueResult<Self> {
        value
            .into_json()
            .map(Json)
            .map_err(|e| InputValueError::custom(e.to_string()))
    }

    fn to_value(&self) -> Value {
        Value::from_json(self.0.clone()).unwrap_or(Value::Null)
    }
}

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

/// What kind of AI call a usage record accounts for.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "StreamType", remote = "core_domain::enums::StreamType")]
pub enum StreamType {
    /// A chat reply.
    Chat,
    /// A practice partner's reply in a scenario session.
    Partner,
    /// A coach's comment in a scenario session.
    Coach,
    /// Naming a conversation.
    Title,
    /// An analysis.
    Analysis,
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
