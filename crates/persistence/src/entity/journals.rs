//! `journals`: a prompt and response the user saved (Numira `Journal`), with the persona and room
//! they came from and, when known, the conversation and messages; an optional title and tags
//! (a JSON array of strings).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "journals")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub user_id: String,
    pub persona_id: String,
    pub room_id: String,
    #[sea_orm(column_type = "Text")]
    pub prompt: String,
    #[sea_orm(column_type = "Text")]
    pub response: String,
    /// An optional title the user gave the entry.
    pub title: Option<String>,
    /// A JSON array of strings (the user's own labels).
    #[sea_orm(column_type = "JsonBinary")]
    pub tags: Json,
    pub conversation_id: Option<String>,
    pub prompt_message_id: Option<String>,
    pub response_message_id: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
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
        belongs_to = "super::personas::Entity",
        from = "Column::PersonaId",
        to = "super::personas::Column::Id",
        on_delete = "Restrict"
    )]
    Personas,
    #[sea_orm(
        belongs_to = "super::rooms::Entity",
        from = "Column::RoomId",
        to = "super::rooms::Column::Id",
        on_delete = "Restrict"
    )]
    Rooms,
    #[sea_orm(
        belongs_to = "super::conversations::Entity",
        from = "Column::ConversationId",
        to = "super::conversations::Column::Id",
        on_delete = "SetNull"
    )]
    Conversations,
    #[sea_orm(
        belongs_to = "super::messages::Entity",
        from = "Column::PromptMessageId",
        to = "super::messages::Column::Id",
        on_delete = "SetNull"
    )]
    PromptMessage,
    #[sea_orm(
        belongs_to = "super::messages::Entity",
        from = "Column::ResponseMessageId",
        to = "super::messages::Column::Id",
        on_delete = "SetNull"
    )]
    ResponseMessage,
}

impl Related<super::users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Users.def()
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

impl Related<super::conversations::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Conversations.def()
    }
}

crate::entity::stamp_timestamps!(created_at, updated_at);
