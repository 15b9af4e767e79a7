//! `usage_logs`: one row per AI call of any kind (002 `UsageLog`), kept when what it refers to is
//! deleted (references become NULL).
//!
//! `stream_type` is `chat`, `partner`, `coach`, `title` or `analysis`. `cost_micros` is in
//! millionths of a US dollar, NULL when the cost is unknown.

use core_domain::enums::StreamType;
use sea_orm::entity::prelude::*;

use crate::stored::Text;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "usage_logs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub user_id: Option<String>,
    pub invitation_id: Option<String>,
    pub conversation_id: Option<String>,
    pub message_id: Option<String>,
    pub provider: String,
    pub model: String,
    pub stream_type: Text<StreamType>,
    pub input_tokens: i32,
    pub output_tokens: i32,
    /// Millionths of a US dollar; NULL when unknown.
    pub cost_micros: Option<i64>,
    pub latency_ms: Option<i32>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::users::Entity",
        from = "Column::UserId",
        to = "super::users::Column::Id",
        on_delete = "SetNull"
    )]
    Users,
    #[sea_orm(
        belongs_to = "super::invitations::Entity",
        from = "Column::InvitationId",
        to = "super::invitations::Column::Id",
        on_delete = "SetNull"
    )]
    Invitations,
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
}

impl Related<super::users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Users.def()
    }
}

impl Related<super::invitations::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Invitations.def()
    }
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

crate::entity::stamp_timestamps!(created_at);
