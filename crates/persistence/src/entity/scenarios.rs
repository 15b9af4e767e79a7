//! `scenarios`: a role-play scenario (002 `Scenario`): a partner persona the user talks to and a
//! coach that comments, each with its own system prompt and model.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "scenarios")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub name: String,
    #[sea_orm(column_type = "Text")]
    pub description: String,
    #[sea_orm(unique)]
    pub slug: String,
    pub partner_persona: String,
    #[sea_orm(column_type = "Text")]
    pub partner_system_prompt: String,
    #[sea_orm(column_type = "Text")]
    pub coach_system_prompt: String,
    pub partner_model: String,
    pub coach_model: String,
    pub is_active: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::invitations::Entity")]
    Invitations,
    #[sea_orm(has_many = "super::conversations::Entity")]
    Conversations,
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

crate::entity::stamp_timestamps!(created_at, updated_at);
