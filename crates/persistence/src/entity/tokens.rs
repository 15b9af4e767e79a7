//! `tokens`: hashed single-purpose tokens, shown to their owner once (Azora `Token`, OptiMind
//! `User.apiKey`).
//!
//! `purpose` is `personal_access`, `email_verification` or `password_reset`. `prefix` is the
//! token's first characters, stored in clear so a user can tell their tokens apart. `scopes` is a
//! JSON array of strings. `contact_method_id` names the address an email-verification token checks.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "tokens")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub user_id: String,
    pub purpose: String,
    pub name: Option<String>,
    #[sea_orm(unique)]
    pub token_hash: String,
    pub prefix: String,
    #[sea_orm(column_type = "JsonBinary")]
    pub scopes: Json,
    pub contact_method_id: Option<String>,
    pub last_used_at: Option<DateTimeUtc>,
    pub expires_at: Option<DateTimeUtc>,
    pub used_at: Option<DateTimeUtc>,
    pub revoked_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
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
        belongs_to = "super::contact_methods::Entity",
        from = "Column::ContactMethodId",
        to = "super::contact_methods::Column::Id",
        on_delete = "Cascade"
    )]
    ContactMethods,
}

impl Related<super::users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Users.def()
    }
}

impl Related<super::contact_methods::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ContactMethods.def()
    }
}

crate::entity::stamp_timestamps!(created_at);
