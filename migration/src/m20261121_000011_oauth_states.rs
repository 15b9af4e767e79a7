//! OAuth sign-ins in flight: the `state` a browser was sent off with, kept in the database so the
//! provider's redirect can land on any gateway instance (several instances share one
//! PostgreSQL). Only a SHA-256 of the state is stored; a row is deleted when its callback arrives
//! (single use) and is worthless after `expires_at`.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{string, string_null, text, timestamp_with_time_zone};

use crate::ddl::{create_indexes, drop_tables, foreign_key, index, timestamp_now};
use crate::m20261121_000001_identity::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OauthStates::Table)
                    .col(string(OauthStates::StateHash).primary_key())
                    .col(string(OauthStates::Provider))
                    .col(text(OauthStates::PkceVerifier))
                    .col(string_null(OauthStates::GuestUserId))
                    .col(timestamp_now(OauthStates::CreatedAt))
                    .col(timestamp_with_time_zone(OauthStates::ExpiresAt))
                    .foreign_key(&mut foreign_key(
                        OauthStates::Table,
                        OauthStates::GuestUserId,
                        Users::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            [
                index(OauthStates::Table, [OauthStates::ExpiresAt]),
                index(OauthStates::Table, [OauthStates::GuestUserId]),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, [OauthStates::Table.into_iden()]).await
    }
}

#[derive(DeriveIden)]
pub(crate) enum OauthStates {
    Table,
    StateHash,
    Provider,
    PkceVerifier,
    GuestUserId,
    CreatedAt,
    ExpiresAt,
}
