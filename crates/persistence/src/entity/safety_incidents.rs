//! `safety_incidents`: reported safety problems for moderators (Azora `SafetyIncident`).
//!
//! `category` is HARASSMENT, SELF_HARM, ABUSE, SPAM, FRAUD, INAPPROPRIATE_CONTENT or OTHER;
//! `severity` is LOW, MEDIUM, HIGH or CRITICAL; `status` is OPEN, INVESTIGATING, RESOLVED or
//! DISMISSED. The incident outlives everything it refers to (references become NULL).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "safety_incidents")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub reporter_id: Option<String>,
    /// The user the report is about.
    pub subject_user_id: Option<String>,
    pub conversation_id: Option<String>,
    pub message_id: Option<String>,
    /// The moderator handling it.
    pub assigned_to_id: Option<String>,
    pub category: String,
    pub severity: String,
    pub status: String,
    #[sea_orm(column_type = "Text")]
    pub description: String,
    #[sea_orm(column_type = "Text")]
    pub resolution: Option<String>,
    #[sea_orm(column_type = "JsonBinary")]
    pub metadata: Option<Json>,
    pub resolved_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::users::Entity",
        from = "Column::ReporterId",
        to = "super::users::Column::Id",
        on_delete = "SetNull"
    )]
    Reporter,
    #[sea_orm(
        belongs_to = "super::users::Entity",
        from = "Column::SubjectUserId",
        to = "super::users::Column::Id",
        on_delete = "SetNull"
    )]
    SubjectUser,
    #[sea_orm(
        belongs_to = "super::conversations::Entity",
        from = "Column::ConversationId",
        to = "super::conversations::Column::Id",
        on_delete = "SetNull"
    )]
    Conversations,
    #[sea_orm(
        belongs_to = "super::messages::Entity",
        from = "Column::MessageId",
        to = "super::messages::Column::Id",
        on_delete = "SetNull"
    )]
    Messages,
    #[sea_orm(
        belongs_to = "super::users::Entity",
        from = "Column::AssignedToId",
        to = "super::users::Column::Id",
        on_delete = "SetNull"
    )]
    AssignedTo,
}

impl Related<super::conversations::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Conversations.def()
    }
}

impl Related<super::messages::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Messages.def()
    }
}

crate::entity::stamp_timestamps!(created_at, updated_at);
