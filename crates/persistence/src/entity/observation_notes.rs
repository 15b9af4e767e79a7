//! `observation_notes`: a staff researcher's note on an invitation and optionally one of its
//! conversations (002 `ObservationNote`), and optionally one message of it. Deleted with the
//! invitation; the researcher cannot be hard-deleted while their notes exist.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "observation_notes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub invitation_id: String,
    pub conversation_id: Option<String>,
    /// The message the note is about, when it is about one (SET NULL when it goes).
    pub message_id: Option<String>,
    pub researcher_id: String,
    #[sea_orm(column_type = "Text")]
    pub content: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::invitations::Entity",
        from = "Column::InvitationId",
        to = "super::invitations::Column::Id",
        on_delete = "Cascade"
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
    #[sea_orm(
        belongs_to = "super::users::Entity",
        from = "Column::ResearcherId",
        to = "super::users::Column::Id",
        on_delete = "Restrict"
    )]
    Researcher,
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

impl Related<super::users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Researcher.def()
    }
}

crate::entity::stamp_timestamps!(created_at);
