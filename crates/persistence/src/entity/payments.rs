//! `payments`: money moving in or out through a payment provider (Azora `Payment`).
//!
//! `status` is PENDING, SUCCEEDED, FAILED or REFUNDED. `amount` is in the
//! smallest unit of `currency`. `provider_reference` is the provider's id for the payment, unique
//! per provider; `idempotency_key` is unique per user. `wallet_id` / `transaction_id` name the
//! wallet credited or debited and its ledger row, once there is one.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "payments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub user_id: String,
    /// Smallest unit of `currency`.
    pub amount: i64,
    pub currency: String,
    pub provider: String,
    pub provider_reference: Option<String>,
    pub status: String,
    pub description: Option<String>,
    pub wallet_id: Option<String>,
    pub transaction_id: Option<String>,
    pub idempotency_key: String,
    #[sea_orm(column_type = "Text")]
    pub failure_reason: Option<String>,
    #[sea_orm(column_type = "JsonBinary")]
    pub metadata: Option<Json>,
    pub completed_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// TOP_UP (credits the wallet) or WITHDRAWAL (debits it).
    pub purpose: String,
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
        belongs_to = "super::wallets::Entity",
        from = "Column::WalletId",
        to = "super::wallets::Column::Id",
        on_delete = "SetNull"
    )]
    Wallets,
    #[sea_orm(
        belongs_to = "super::transactions::Entity",
        from = "Column::TransactionId",
        to = "super::transactions::Column::Id",
        on_delete = "SetNull"
    )]
    Transactions,
}

impl Related<super::users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Users.def()
    }
}

impl Related<super::wallets::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Wallets.def()
    }
}

impl Related<super::transactions::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Transactions.def()
    }
}

crate::entity::stamp_timestamps!(created_at, updated_at);
