//! `users`: every account of the five apps, including guests (no email, no credentials).
//!
//! `role` is one of GUEST, USER, EDUCATOR, STAFF, MODERATOR, DEVELOPER, ADMIN. `password_hash` is an
//! argon2id PHC string (salt included). Rows with `deleted_at` set are soft-deleted and invisible to
//! every query but admin ones.

use core_domain::enums::Role;
use sea_orm::entity::prelude::*;

use crate::stored::Text;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Unique when present; guests have none.
    #[sea_orm(unique)]
    pub email: Option<String>,
    pub name: Option<String>,
    pub avatar_url: Option<String>,
    pub role: Text<Role>,
    pub is_active: bool,
    pub password_hash: Option<String>,
    pub disclaimer_accepted: bool,
    pub disclaimer_accepted_at: Option<DateTimeUtc>,
    pub disclaimer_version: Option<String>,
    pub last_login_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_one = "super::user_profiles::Entity")]
    UserProfiles,
    #[sea_orm(has_many = "super::contact_methods::Entity")]
    ContactMethods,
    #[sea_orm(has_many = "super::external_identities::Entity")]
    ExternalIdentities,
    #[sea_orm(has_many = "super::sessions::Entity")]
    Sessions,
    #[sea_orm(has_many = "super::tokens::Entity")]
    Tokens,
    #[sea_orm(has_many = "super::api_keys::Entity")]
    ApiKeys,
    #[sea_orm(has_many = "super::conversations::Entity")]
    Conversations,
    #[sea_orm(has_many = "super::messages::Entity")]
    Messages,
    #[sea_orm(has_many = "super::journals::Entity")]
    Journals,
    #[sea_orm(has_many = "super::projects::Entity")]
    Projects,
}

impl Related<super::user_profiles::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::UserProfiles.def()
    }
}

impl Related<super::contact_methods::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ContactMethods.def()
    }
}

impl Related<super::external_identities::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ExternalIdentities.def()
    }
}

impl Related<super::sessions::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Sessions.def()
    }
}

impl Related<super::tokens::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Tokens.def()
    }
}

impl Related<super::api_keys::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ApiKeys.def()
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

impl Related<super::journals::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Journals.def()
    }
}

impl Related<super::projects::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Projects.def()
    }
}

crate::entity::stamp_timestamps!(created_at, updated_at);
