//! `transactions`: the append-only ledger (Azora `Transaction`): one row per balance change of a
//! wallet, never updated.
//!
//! `type` is DEPOSIT, WITHDRAWAL, TRANSFER_IN, TRANSFER_OUT, MINING_REWARD, PAYMENT, REFUND or FEE.
//! `amount` is signed (credit > 0, debit < 0) and `balance_after` is the wallet's balance once
//! applied, both in the wallet currency's smallest unit. `idempotency_key` is unique per wallet.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "transactions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub wallet_id: String,
    pub r#type: String,
    /// Signed: credit > 0, debit < 0.
    pub amount: i64,
    pub balance_after: i64,
    /// The other wallet of a transfer.
    pub counterparty_wallet_id: Option<String>,
    pub description: Option<String>,
    pub idempotency_key: String,
    #[sea_orm(column_type = "JsonBinary")]
    pub metadata: Option<Json>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::wallets::Entity",
        from = "Column::WalletId",
        to = "super::wallets::Column::Id",
        on_delete = "Cascade"
    )]
    Wallet,
    #[sea_orm(
        belongs_to = "super::wallets::Entity",
        from = "Column::CounterpartyWalletId",
        to = "super::wallets::Column::Id",
        on_delete = "SetNull"
    )]
    CounterpartyWallet,
}

impl Related<super::wallets::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Wallet.def()
    }
}

crate::entity::stamp_timestamps!(created_at);
