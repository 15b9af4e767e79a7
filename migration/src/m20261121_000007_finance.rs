//! Finance (Azora, seed 004, fields designed here): one wallet per user and currency, an
//! append-only ledger of transactions, Proof-of-Knowledge mining rewards, and payments.
//!
//! Money is a signed 64-bit count of the currency's smallest unit, never a float; which unit
//! (cents, satoshi, gwei, ...) is fixed per currency by `core-domain`. Every balance change is a
//! `transactions` row written in the same database transaction as the new balance, carrying the
//! balance after it (so the ledger can be audited row by row) and an idempotency key that is
//! unique per wallet (a retried request finds its first result instead of paying twice).
//! Ledger rows are never updated: a correction is a new, opposite row.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, json_binary_null, string, string_null, text_null, timestamp_with_time_zone_null,
};

use crate::ddl::{
    create_indexes, drop_tables, foreign_key, index, named_index, pk_text, timestamp_now, unique,
};
use crate::m20261121_000001_identity::Users;
use crate::m20261121_000006_education::{Assessments, Courses};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Wallets::Table)
                    .col(pk_text(Wallets::Id))
                    .col(string(Wallets::UserId))
                    .col(string(Wallets::Currency))
                    .col(big_integer(Wallets::Balance).default(0))
                    .col(string_null(Wallets::Address))
                    .col(timestamp_now(Wallets::CreatedAt))
                    .col(timestamp_now(Wallets::UpdatedAt))
                    .foreign_key(&mut foreign_key(
                        Wallets::Table,
                        Wallets::UserId,
                        Users::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Transactions::Table)
                    .col(pk_text(Transactions::Id))
                    .col(string(Transactions::WalletId))
                    .col(string(Transactions::Type))
                    .col(big_integer(Transactions::Amount))
                    .col(big_integer(Transactions::BalanceAfter))
                    .col(string_null(Transactions::CounterpartyWalletId))
                    .col(string_null(Transactions::Description))
                    .col(string(Transactions::IdempotencyKey))
                    .col(json_binary_null(Transactions::Metadata))
                    .col(timestamp_now(Transactions::CreatedAt))
                    .foreign_key(&mut foreign_key(
                        Transactions::Table,
                        Transactions::WalletId,
                        Wallets::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut foreign_key(
                        Transactions::Table,
                        Transactions::CounterpartyWalletId,
                        Wallets::Table,
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(MiningActivities::Table)
                    .col(pk_text(MiningActivities::Id))
                    .col(string(MiningActivities::UserId))
                    .col(string(MiningActivities::ActivityType))
                    .col(string_null(MiningActivities::CourseId))
                    .col(string_null(MiningActivities::AssessmentId))
                    .col(big_integer(MiningActivities::RewardAmount))
                    .col(string(MiningActivities::Currency).default("AZR"))
                    .col(string(MiningActivities::Status).default("PENDING"))
                    .col(json_binary_null(MiningActivities::Proof))
                    .col(string_null(MiningActivities::TransactionId))
                    .col(timestamp_with_time_zone_null(MiningActivities::VerifiedAt))
                    .col(timestamp_now(MiningActivities::CreatedAt))
                    .col(timestamp_now(MiningActivities::UpdatedAt))
                    .foreign_key(&mut foreign_key(
                        MiningActivities::Table,
                        MiningActivities::UserId,
                        Users::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut foreign_key(
                        MiningActivities::Table,
                        MiningActivities::CourseId,
                        Courses::Table,
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut foreign_key(
                        MiningActivities::Table,
                        MiningActivities::AssessmentId,
                        Assessments::Table,
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut foreign_key(
                        MiningActivities::Table,
                        MiningActivities::TransactionId,
                        Transactions::Table,
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Payments::Table)
                    .col(pk_text(Payments::Id))
                    .col(string(Payments::UserId))
                    .col(big_integer(Payments::Amount))
                    .col(string(Payments::Currency))
                    .col(string(Payments::Provider))
                    .col(string_null(Payments::ProviderReference))
                    .col(string(Payments::Status).default("PENDING"))
                    .col(string_null(Payments::Description))
                    .col(string_null(Payments::WalletId))
                    .col(string_null(Payments::TransactionId))
                    .col(string(Payments::IdempotencyKey))
                    .col(text_null(Payments::FailureReason))
                    .col(json_binary_null(Payments::Metadata))
                    .col(timestamp_with_time_zone_null(Payments::CompletedAt))
                    .col(timestamp_now(Payments::CreatedAt))
                    .col(timestamp_now(Payments::UpdatedAt))
                    .foreign_key(&mut foreign_key(
                        Payments::Table,
                        Payments::UserId,
                        Users::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut foreign_key(
                        Payments::Table,
                        Payments::WalletId,
                        Wallets::Table,
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut foreign_key(
                        Payments::Table,
                        Payments::TransactionId,
                        Transactions::Table,
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;

        create_indexes(
            manager,
            [
                unique(Wallets::Table, [Wallets::UserId, Wallets::Currency]),
                unique(
                    Transactions::Table,
                    [Transactions::WalletId, Transactions::IdempotencyKey],
                ),
                named_index(
                    "idx_transactions_wallet_created",
                    Transactions::Table,
                    [
                        Transactions::WalletId,
                        Transactions::CreatedAt,
                        Transactions::Id,
                    ],
                ),
                index(Transactions::Table, [Transactions::CounterpartyWalletId]),
                named_index(
                    "idx_mining_activities_user_created",
                    MiningActivities::Table,
                    [
                        MiningActivities::UserId,
                        MiningActivities::CreatedAt,
                        MiningActivities::Id,
                    ],
                ),
                index(MiningActivities::Table, [MiningActivities::CourseId]),
                index(MiningActivities::Table, [MiningActivities::AssessmentId]),
                index(MiningActivities::Table, [MiningActivities::TransactionId]),
                index(MiningActivities::Table, [MiningActivities::Status]),
                unique(
                    Payments::Table,
                    [Payments::UserId, Payments::IdempotencyKey],
                ),
                unique(
                    Payments::Table,
                    [Payments::Provider, Payments::ProviderReference],
                ),
                named_index(
                    "idx_payments_user_created",
                    Payments::Table,
                    [Payments::UserId, Payments::CreatedAt, Payments::Id],
                ),
                index(Payments::Table, [Payments::WalletId]),
                index(Payments::Table, [Payments::TransactionId]),
                index(Payments::Table, [Payments::Status]),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(
            manager,
            [
                Payments::Table.into_iden(),
                MiningActivities::Table.into_iden(),
                Transactions::Table.into_iden(),
                Wallets::Table.into_iden(),
            ],
        )
        .await
    }
}

#[derive(DeriveIden)]
enum Wallets {
    Table,
    Id,
    UserId,
    Currency,
    Balance,
    Address,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Transactions {
    Table,
    Id,
    WalletId,
    Type,
    Amount,
    BalanceAfter,
    CounterpartyWalletId,
    Description,
    IdempotencyKey,
    Metadata,
    CreatedAt,
}

#[derive(DeriveIden)]
enum MiningActivities {
    Table,
    Id,
    UserId,
    ActivityType,
    CourseId,
    AssessmentId,
    RewardAmount,
    Currency,
    Status,
    Proof,
    TransactionId,
    VerifiedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Payments {
    Table,
    Id,
    UserId,
    Amount,
    Currency,
    Provider,
    ProviderReference,
    Status,
    Description,
    WalletId,
    TransactionId,
    IdempotencyKey,
    FailureReason,
    Metadata,
    CompletedAt,
    CreatedAt,
    UpdatedAt,
}
