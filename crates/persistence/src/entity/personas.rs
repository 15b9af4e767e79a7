//! `personas`: AI personalities (Numira `Persona`, Azora `AIPersonality`), with readable slug ids
//! (`elara`). `tags` is a JSON array of strings. The rooms a persona suits are in `persona_rooms`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "personas")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub name: String,
    pub tone: String,
    pub voice: String,
    #[sea_orm(column_type = "Text")]
    pub description: String,
    #[sea_orm(column_type = "Text")]
    pub system_prompt: String,
    #[sea_orm(column_type = "JsonBinary")]
    pub tags: Json,
    pub default_model: Option<String>,
    pub avatar_url: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// Set when an admin retired it: gone from the public lists and from new conversations.
    pub retired_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::persona_rooms::Entity")]
    PersonaRooms,
    #[sea_orm(has_many = "super::conversations::Entity")]
    Conversations,
    #[sea_orm(has_many = "super::journals::Entity")]
    Journals,
}

impl Related<super::persona_rooms::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::PersonaRooms.def()
    }
}

impl Related<super::rooms::Entity> for Entity {
    fn to() -> RelationDef {
        super::persona_rooms::Relation::Rooms.def()
    }

    fn via() -> Option<RelationDef> {
        Some(super::persona_rooms::Relation::Personas.def().rev())
    }
}

impl Related<super::conversations::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Conversations.def()
    }
}

impl Related<super::journals::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Journals.def()
    }
}

crate::entity::stamp_timestamps!(created_at, updated_at);
