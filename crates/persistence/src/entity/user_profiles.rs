//! `user_profiles`: the optional 1:1 extension of a user (Azora `UserProfile`).
//!
//! `preferences` is a JSON object, `{}` when nothing is set.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "user_profiles")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    #[sea_orm(unique)]
    pub user_id: String,
    #[sea_orm(column_type = "Text")]
    pub bio: Option<String>,
    pub headline: Option<String>,
    pub location: Option<String>,
    pub timezone: Option<String>,
    pub locale: Option<String>,
    #[sea_orm(column_type = "JsonBinary")]
    pub preferences: Json,
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
}

impl Related<super::users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Users.def()
    }
}

crate::entity::stamp_timestamps!(created_at, updated_at);
