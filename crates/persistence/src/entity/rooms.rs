//! `rooms`: themed spaces for conversations (Numira `Room`), with readable slug ids.
//!
//! `prompt_type` is `open`, `guided`, `short-form` or `targeted`; `tags` is a JSON array of
//! strings; `features` a JSON object. The personas a room supports are in `persona_rooms`.

use core_domain::enums::PromptType;
use sea_orm::entity::prelude::*;

use crate::stored::Text;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "rooms")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub name: String,
    #[sea_orm(column_type = "Text")]
    pub description: String,
    #[sea_orm(column_type = "Text")]
    pub purpose: String,
    #[sea_orm(column_type = "Text")]
    pub sample_prompt: String,
    #[sea_orm(column_type = "JsonBinary")]
    pub tags: Json,
    pub prompt_type: Text<PromptType>,
    #[sea_orm(column_type = "JsonBinary")]
    pub features: Json,
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

impl Related<super::personas::Entity> for Entity {
    fn to() -> RelationDef {
        super::persona_rooms::Relation::Personas.def()
    }

    fn via() -> Option<RelationDef> {
        Some(super::persona_rooms::Relation::Rooms.def().rev())
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
