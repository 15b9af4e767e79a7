//! `wallets`: a user's balance in one currency (Azora `Wallet`), one per (user, currency).
//!
//! `currency` is AZR, BTC, ETH, USD or ZAR; `balance` is in that currency's smallest unit, as
//! fixed by `core-domain`. Change it only together with a `transactions` row, in one database
//! transaction.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "wallets")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub user_id: String,
    pub currency: String,
    /// Smallest unit of `currency`.
    pub balance: i64,
    /// On-chain address, for crypto currencies.
    pub address: Option<String>,
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
    #[sea_orm(has_many = "super::transactions::Entity", via_rel = "Relation::Wallet")]
    Transactions,
}

impl Related<super::users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Users.def()
    }
}

impl Related<super::transactions::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Transactions.def()
    }
}

crate::entity::stamp_timestamps!(created_at, updated_at);
