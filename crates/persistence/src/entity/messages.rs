//! `messages`: messages of a conversation (VibeBot, OptiMind and 002 `Message`, Azora
//! `ChatMessage`), a tree through `parent_id`: an edit or a regeneration is a sibling under the same
//! parent.
//!
//! `role` is USER, ASSISTANT, SYSTEM, PARTNER or COACH; `user_id` is NULL for AI messages. `status`
//! is COMPLETE, STREAMING, FAILED or CANCELLED; `error` says why a message FAILED. Pages of a
//! conversation use `idx_messages_conversation_created` (`conversation_id`, `created_at`, `id`).

use core_domain::enums::{MessageRole, MessageStatus};
use sea_orm::entity::prelude::*;

use crate::stored::Text;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "messages")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub conversation_id: String,
    pub user_id: Option<String>,
    pub parent_id: Option<String>,
    pub role: Text<MessageRole>,
    #[sea_orm(column_type = "Text")]
    pub content: String,
    pub status: Text<MessageStatus>,
    #[sea_orm(column_type = "Text")]
    pub error: Option<String>,
    pub model: Option<String>,
    pub provider: Option<String>,
    pub input_tokens: Option<i32>,
    pub output_tokens: Option<i32>,
    pub audio_url: Option<String>,
    #[sea_orm(column_type = "JsonBinary")]
    pub metadata: Option<Json>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::conversations::Entity",
        from = "Column::ConversationId",
        to = "super::conversations::Column::Id",
        on_delete = "Cascade"
    )]
    Conversations,
    #[sea_orm(
        belongs_to = "super::users::Entity",
        from = "Column::UserId",
        to = "super::users::Column::Id",
        on_delete = "SetNull"
    )]
    Users,
    #[sea_orm(
        belongs_to = "Entity",
        from = "Column::ParentId",
        to = "Column::Id",
        on_delete = "Cascade"
    )]
    Parent,
}

impl Related<super::conversations::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Conversations.def()
    }
}

impl Related<super::users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Users.def()
    }
}

crate::entity::stamp_timestamps!(created_at, updated_at);
