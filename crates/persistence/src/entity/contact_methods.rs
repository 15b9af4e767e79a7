//! `contact_methods`: a way to reach a user (002 `ContactMethod`).
//!
//! `type` is free text (`email`, `phone`, `whatsapp`, ...). (`type`, `value`) is unique across all
//! users, and at most one row per (user, type) has `is_primary` (partial unique index).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "contact_methods")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub user_id: String,
    pub r#type: String,
    pub value: String,
    pub verified: bool,
    /// The seed's `primary`, renamed because PRIMARY is an SQL keyword.
    pub is_primary: bool,
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
    #[sea_orm(has_many = "super::tokens::Entity")]
    Tokens,
}

impl Related<super::users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Users.def()
    }
}

impl Related<super::tokens::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Tokens.def()
    }
}

crate::entity::stamp_timestamps!(created_at, updated_at);
