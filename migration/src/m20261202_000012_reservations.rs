//! Budget reservations held by AI calls in flight, one row per call, written in the transaction
//! that reserves the tokens and deleted in the one that settles them. A call whose server died
//! leaves its row behind, so recovery knows which budgets to release, how many tokens the prompt
//! was, and which model to bill: the reservation is settled and the usage row written exactly
//! once, by whoever deletes the row (the generator or recovery, never both).
//!
//! `budget_ids` is a JSON array of `budgets.id`; `message_id` is the reply being generated (none
//! for calls that store no message, such as titles). Neither is a foreign key: the row is written
//! before the reply is stored, and it must survive whatever happens to the conversation.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, integer, json_binary, string, string_null};

use crate::ddl::{create_indexes, drop_tables, index, pk_text, timestamp_now};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(BudgetReservations::Table)
                    .col(pk_text(BudgetReservations::Id))
                    .col(string_null(BudgetReservations::MessageId))
                    .col(string_null(BudgetReservations::UserId))
                    .col(string_null(BudgetReservations::ConversationId))
                    .col(json_binary(BudgetReservations::BudgetIds))
                    .col(big_integer(BudgetReservations::Tokens))
                    .col(integer(BudgetReservations::PromptTokens))
                    .col(string(BudgetReservations::Model))
                    .col(string(BudgetReservations::Provider))
                    .col(string(BudgetReservations::StreamType))
                    .col(timestamp_now(BudgetReservations::CreatedAt))
                    .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            [index(
                BudgetReservations::Table,
                [BudgetReservations::MessageId],
            )],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, [BudgetReservations::Table.into_iden()]).await
    }
}

#[derive(DeriveIden)]
pub(crate) enum BudgetReservations {
    Table,
    Id,
    MessageId,
    UserId,
    ConversationId,
    BudgetIds,
    Tokens,
    PromptTokens,
    Model,
    Provider,
    StreamType,
    CreatedAt,
}
