//! Identity and access: users and everything that authenticates them (DESIGN.md §2).
//!
//! Users are the union of the five seeds' `User` models. Credentials never sit on the user row
//! except the argon2id `password_hash`; tokens and sessions store only hashes.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    boolean, json_binary, string, string_null, text, text_null, timestamp_with_time_zone,
    timestamp_with_time_zone_null,
};

use crate::ddl::{create_indexes, drop_tables, foreign_key, index, pk_text, timestamp_now, unique};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(pk_text(Users::Id))
                    // Guests have no email; several NULLs never collide in a unique index.
                    .col(string_null(Users::Email))
                    .col(string_null(Users::Name))
                    .col(string_null(Users::AvatarUrl))
                    .col(string(Users::Role).default("USER"))
                    .col(boolean(Users::IsActive).default(true))
                    .col(string_null(Users::PasswordHash))
                    .col(boolean(Users::DisclaimerAccepted).default(false))
                    .col(timestamp_with_time_zone_null(Users::DisclaimerAcceptedAt))
                    .col(string_null(Users::DisclaimerVersion))
                    .col(timestamp_with_time_zone_null(Users::LastLoginAt))
                    .col(timestamp_now(Users::CreatedAt))
                    .col(timestamp_now(Users::UpdatedAt))
                    .col(timestamp_with_time_zone_null(Users::DeletedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(UserProfiles::Table)
                    .col(pk_text(UserProfiles::Id))
                    .col(string(UserProfiles::UserId))
                    .col(text_null(UserProfiles::Bio))
                    .col(string_null(UserProfiles::Headline))
                    .col(string_null(UserProfiles::Location))
                    .col(string_null(UserProfiles::Timezone))
                    .col(string_null(UserProfiles::Locale))
                    .col(json_binary(UserProfiles::Preferences).default("{}"))
                    .col(timestamp_now(UserProfiles::CreatedAt))
                    .col(timestamp_now(UserProfiles::UpdatedAt))
                    .foreign_key(&mut foreign_key(
                        UserProfiles::Table,
                        UserProfiles::UserId,
                        Users::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ContactMethods::Table)
                    .col(pk_text(ContactMethods::Id))
                    .col(string(ContactMethods::UserId))
                    .col(string(ContactMethods::Type))
                    .col(string(ContactMethods::Value))
                    .col(boolean(ContactMethods::Verified).default(false))
                    .col(boolean(ContactMethods::IsPrimary).default(false))
                    .col(timestamp_now(ContactMethods::CreatedAt))
                    .col(timestamp_now(ContactMethods::UpdatedAt))
                    .foreign_key(&mut foreign_key(
                        ContactMethods::Table,
                        ContactMethods::UserId,
                        Users::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ExternalIdentities::Table)
                    .col(pk_text(ExternalIdentities::Id))
                    .col(string(ExternalIdentities::UserId))
                    .col(string(ExternalIdentities::Provider))
                    .col(string(ExternalIdentities::ExternalId))
                    .col(string_null(ExternalIdentities::Email))
                    .col(timestamp_now(ExternalIdentities::CreatedAt))
                    .foreign_key(&mut foreign_key(
                        ExternalIdentities::Table,
                        ExternalIdentities::UserId,
                        Users::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .col(pk_text(Sessions::Id))
                    .col(string(Sessions::UserId))
                    .col(string(Sessions::TokenHash))
                    .col(string_null(Sessions::UserAgent))
                    .col(string_null(Sessions::IpAddress))
                    .col(timestamp_with_time_zone(Sessions::ExpiresAt))
                    .col(timestamp_with_time_zone_null(Sessions::RevokedAt))
                    .col(timestamp_with_time_zone_null(Sessions::LastUsedAt))
                    .col(timestamp_now(Sessions::CreatedAt))
                    .foreign_key(&mut foreign_key(
                        Sessions::Table,
                        Sessions::UserId,
                        Users::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Tokens::Table)
                    .col(pk_text(Tokens::Id))
                    .col(string(Tokens::UserId))
                    .col(string(Tokens::Purpose))
                    .col(string_null(Tokens::Name))
                    .col(string(Tokens::TokenHash))
                    .col(string(Tokens::Prefix))
                    .col(json_binary(Tokens::Scopes).default("[]"))
                    .col(string_null(Tokens::ContactMethodId))
                    .col(timestamp_with_time_zone_null(Tokens::LastUsedAt))
                    .col(timestamp_with_time_zone_null(Tokens::ExpiresAt))
                    .col(timestamp_with_time_zone_null(Tokens::UsedAt))
                    .col(timestamp_with_time_zone_null(Tokens::RevokedAt))
                    .col(timestamp_now(Tokens::CreatedAt))
                    .foreign_key(&mut foreign_key(
                        Tokens::Table,
                        Tokens::UserId,
                        Users::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    // A verification token is worthless once the address it verifies is gone.
                    .foreign_key(&mut foreign_key(
                        Tokens::Table,
                        Tokens::ContactMethodId,
                        ContactMethods::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ApiKeys::Table)
                    .col(pk_text(ApiKeys::Id))
                    .col(string(ApiKeys::UserId))
                    .col(string(ApiKeys::Provider))
                    .col(string_null(ApiKeys::Name))
                    .col(text(ApiKeys::EncryptedKey))
                    .col(string(ApiKeys::KeyId))
                    .col(string(ApiKeys::Last4))
                    .col(timestamp_now(ApiKeys::CreatedAt))
                    .col(timestamp_now(ApiKeys::UpdatedAt))
                    .foreign_key(&mut foreign_key(
                        ApiKeys::Table,
                        ApiKeys::UserId,
                        Users::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(SecuritySettings::Table)
                    .col(pk_text(SecuritySettings::Id))
                    .col(string_null(SecuritySettings::PinHash))
                    .col(timestamp_now(SecuritySettings::CreatedAt))
                    .col(timestamp_now(SecuritySettings::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        create_indexes(
            manager,
            [
                unique(Users::Table, [Users::Email]),
                unique(UserProfiles::Table, [UserProfiles::UserId]),
                unique(
                    ContactMethods::Table,
                    [ContactMethods::Type, ContactMethods::Value],
                ),
                index(ContactMethods::Table, [ContactMethods::UserId]),
                index(
                    ContactMethods::Table,
                    [ContactMethods::UserId, ContactMethods::Type],
                ),
                // At most one primary contact per (user, type); non-primary rows are unconstrained.
                Index::create()
                    .name("uq_contact_methods_primary")
                    .table(ContactMethods::Table)
                    .col(ContactMethods::UserId)
                    .col(ContactMethods::Type)
                    .unique()
                    .and_where(Expr::col(ContactMethods::IsPrimary).eq(true))
                    .to_owned(),
                unique(
                    ExternalIdentities::Table,
                    [ExternalIdentities::Provider, ExternalIdentities::ExternalId],
                ),
                index(ExternalIdentities::Table, [ExternalIdentities::UserId]),
                index(
                    ExternalIdentities::Table,
                    [ExternalIdentities::UserId, ExternalIdentities::Provider],
                ),
                unique(Sessions::Table, [Sessions::TokenHash]),
                index(Sessions::Table, [Sessions::UserId]),
                index(Sessions::Table, [Sessions::ExpiresAt]),
                unique(Tokens::Table, [Tokens::TokenHash]),
                index(Tokens::Table, [Tokens::UserId]),
                index(Tokens::Table, [Tokens::ContactMethodId]),
                index(ApiKeys::Table, [ApiKeys::UserId]),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(
            manager,
            [
                SecuritySettings::Table.into_iden(),
                ApiKeys::Table.into_iden(),
                Tokens::Table.into_iden(),
                Sessions::Table.into_iden(),
                ExternalIdentities::Table.into_iden(),
                ContactMethods::Table.into_iden(),
                UserProfiles::Table.into_iden(),
                Users::Table.into_iden(),
            ],
        )
        .await
    }
}

#[derive(DeriveIden)]
pub(crate) enum Users {
    Table,
    Id,
    Email,
    Name,
    AvatarUrl,
    Role,
    IsActive,
    PasswordHash,
    DisclaimerAccepted,
    DisclaimerAcceptedAt,
    DisclaimerVersion,
    LastLoginAt,
    CreatedAt,
    UpdatedAt,
    DeletedAt,
}

#[derive(DeriveIden)]
enum UserProfiles {
    Table,
    Id,
    UserId,
    Bio,
    Headline,
    Location,
    Timezone,
    Locale,
    Preferences,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ContactMethods {
    Table,
    Id,
    UserId,
    Type,
    Value,
    Verified,
    IsPrimary,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ExternalIdentities {
    Table,
    Id,
    UserId,
    Provider,
    ExternalId,
    Email,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    UserId,
    TokenHash,
    UserAgent,
    IpAddress,
    ExpiresAt,
    RevokedAt,
    LastUsedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Tokens {
    Table,
    Id,
    UserId,
    Purpose,
    Name,
    TokenHash,
    Prefix,
    Scopes,
    ContactMethodId,
    LastUsedAt,
    ExpiresAt,
    UsedAt,
    RevokedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    Id,
    UserId,
    Provider,
    Name,
    EncryptedKey,
    KeyId,
    Last4,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum SecuritySettings {
    Table,
    Id,
    PinHash,
    CreatedAt,
    UpdatedAt,
}
