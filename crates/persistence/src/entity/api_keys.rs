//! `api_keys`: a user's own AI-provider keys (VibeBot `ApiKey`), encrypted at rest.
//!
//! `provider` is `anthropic` or `openai`. `encrypted_key` is the AES-256-GCM ciphertext (with its
//! nonce) under the server master key named by `key_id`, so keys can be rotated. Only `provider`,
//! `name` and `last4` ever leave the server.

use core_domain::enums::KeyProvider;
use sea_orm::entity::prelude::*;

use crate::stored::Text;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "api_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub user_id: String,
    pub provider: Text<KeyProvider>,
    pub name: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub encrypted_key: String,
    pub key_id: String,
    pub last4: String,
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
