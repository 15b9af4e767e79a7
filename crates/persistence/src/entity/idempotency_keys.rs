//! `idempotency_keys`: one row per (user, key) of a money mutation (transfer, payment, refund),
//! written first in the mutation's transaction so the unique index decides races.
//!
//! `operation` names the mutation (`transfer`, `payment`, `refund`); `fingerprint` is the
//! request's parameters, to refuse a key reused for another request; `result_id` is the record
//! the first request produced (a ledger transaction or a payment).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "idempotency_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub user_id: String,
    pub key: String,
    pub operation: String,
    #[sea_orm(column_type = "Text")]
    pub fingerprint: String,
    pub result_id: Option<String>,
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
}

impl Related<super::users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Users.def()
    }
}

crate::entity::stamp_timestamps!(created_at);
