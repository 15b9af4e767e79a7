//! `conversations`: every app's conversation (VibeBot and OptiMind `Conversation`, Azora
//! `ChatSession`, 002 `ConversationSession`, Numira reflections).
//!
//! `user_id` is NULL for invitation-only sessions. `status` is ACTIVE, PAUSED, COMPLETED or
//! ABANDONED; `duration_seconds` is active time, pauses excluded, counted up to `active_since`.
//! `title_is_custom` is set once the user names the conversation, so an automatic title
//! never overwrites theirs. Soft-deleted through `deleted_at`. Pages of a user's conversations use
//! the indexes `idx_conversations_user_created` / `idx_conversations_user_updated`
//! (`user_id`, `created_at`|`updated_at`, `id`).

use core_domain::enums::ConversationStatus;
use sea_orm::entity::prelude::*;

use crate::stored::Text;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "conversations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub user_id: Option<String>,
    pub invitation_id: Option<String>,
    pub scenario_id: Option<String>,
    pub persona_id: Option<String>,
    pub room_id: Option<String>,
    pub project_id: Option<String>,
    pub title: String,
    pub title_is_custom: bool,
    pub model: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub system_prompt: Option<String>,
    pub status: Text<ConversationStatus>,
    pub started_at: DateTimeUtc,
    pub ended_at: Option<DateTimeUtc>,
    pub total_messages: i32,
    pub duration_seconds: Option<i32>,
    /// When the current active stretch began (NULL while paused or ended): `duration_seconds`
    /// holds the active time before it.
    pub active_since: Option<DateTimeUtc>,
    #[sea_orm(column_type = "JsonBinary")]
    pub metadata: Option<Json>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::users::Entity",
        from = "Column::UserId",
        to = "super::users::Column::Id",
        on_delete = "Cascade"
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
        belongs_to = "super::scenarios::Entity",
        from = "Column::ScenarioId",
        to = "super::scenarios::Column::Id",
        on_delete = "SetNull"
    )]
    Scenarios,
    #[sea_orm(
        belongs_to = "super::personas::Entity",
        from = "Column::PersonaId",
        to = "super::personas::Column::Id",
        on_delete = "SetNull"
    )]
    Personas,
    #[sea_orm(
        belongs_to = "super::rooms::Entity",
        from = "Column::RoomId",
        to = "super::rooms::Column::Id",
        on_delete = "SetNull"
    )]
    Rooms,
    #[sea_orm(
        belongs_to = "super::projects::Entity",
        from = "Column::ProjectId",
        to = "super::projects::Column::Id",
        on_delete = "Cascade"
    )]
    Projects,
    #[sea_orm(has_many = "super::messages::Entity")]
    Messages,
    #[sea_orm(has_many = "super::usage_logs::Entity")]
    UsageLogs,
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

impl Related<super::scenarios::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Scenarios.def()
    }
}

impl Related<super::personas::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Personas.def()
    }
}

impl Related<super::rooms::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Rooms.def()
    }
}

impl Related<super::projects::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Projects.def()
    }
}

impl Related<super::messages::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Messages.def()
    }
}

impl Related<super::usage_logs::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::UsageLogs.def()
    }
}

crate::entity::stamp_timestamps!(created_at, updated_at);
