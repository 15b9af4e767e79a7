//! `oauth_states`: OAuth sign-ins in flight, keyed by a SHA-256 of their `state`, so the
//! provider's redirect can finish on any gateway instance. Single use (deleted on callback) and
//! short-lived (`expires_at`).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "oauth_states")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub state_hash: String,
    pub provider: String,
    /// The PKCE verifier: a one-time proof that only pairs with a code the provider sends to the
    /// registered redirect, worthless after `expires_at` and deleted on use.
    #[sea_orm(column_type = "Text")]
    pub pkce_verifier: String,
    pub guest_user_id: Option<String>,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::users::Entity",
        from = "Column::GuestUserId",
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

crate::entity::stamp_timestamps!(created_at);
