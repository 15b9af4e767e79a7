//! `security_settings`: server-wide security settings (OptiMind `SecuritySettings`), a single row
//! whose id is `main`. `pin_hash` is the argon2id hash of the admin PIN.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "security_settings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub pin_hash: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

crate::entity::stamp_timestamps!(created_at, updated_at);
