//! Stored tokens: personal API tokens, email-verification and password-reset tokens. Only the
//! SHA-256 of a token is stored (with a short display prefix), so a copy of the database grants
//! nothing. One-time tokens are consumed by a single conditional UPDATE, so two requests racing
//! with the same token cannot both succeed.

use chrono::{DateTime, Utc};
use core_domain::enums::TokenPurpose;
use core_domain::{ids, time};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, Set,
};

use crate::StoreError;
use crate::entity::tokens::{self, Column, Entity};
use crate::entity::users;

pub use tokens::Model as Token;

/// A token to store; `hash` and `prefix` come from `auth::TokenKind::issue`.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub user_id: String,
    pub purpose: TokenPurpose,
    pub name: Option<String>,
    pub hash: String,
    pub prefix: String,
    pub scopes: Vec<String>,
    pub contact_method_id: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
}

pub async fn create(db: &impl ConnectionTrait, new: NewToken) -> Result<Token, StoreError> {
    let model = tokens::ActiveModel {
        id: Set(ids::new_id()),
        user_id: Set(new.user_id),
        purpose: Set(new.purpose.as_str().to_owned()),
        name: Set(new.name),
        token_hash: Set(new.hash),
        prefix: Set(new.prefix),
        scopes: Set(serde_json::json!(new.scopes)),
        contact_method_id: Set(new.contact_method_id),
        last_used_at: Set(None),
        expires_at: Set(new.expires_at),
        used_at: Set(None),
        revoked_at: Set(None),
        created_at: Set(time::now()),
    };
    Ok(model.insert(db).await?)
}

fn live(now: DateTime<Utc>) -> Condition {
    Condition::all().add(Column::RevokedAt.is_null()).add(
        Condition::any()
            .add(Column::ExpiresAt.is_null())
            .add(Column::ExpiresAt.gt(now)),
    )
}

/// The live personal API token with this hash and its active, undeleted owner: one statement.
pub async fn authenticate(
    db: &impl ConnectionTrait,
    token_hash: &str,
) -> Result<Option<(Token, users::Model)>, StoreError> {
    let found = Entity::find()
        .find_also_related(users::Entity)
        .filter(Column::TokenHash.eq(token_hash))
        .filter(Column::Purpose.eq(TokenPurpose::PersonalAccess.as_str()))
        .filter(live(time::now()))
        .filter(users::Column::IsActive.eq(true))
        .filter(users::Column::DeletedAt.is_null())
        .one(db)
        .await?;
    Ok(found.and_then(|(t, u)| u.map(|u| (t, u))))
}

/// Records a use of a token, at most once a minute so that busy scripts do not write on every
/// request.
pub async fn touch(db: &impl ConnectionTrait, id: &str) -> Result<(), StoreError> {
    let now = time::now();
    Entity::update_many()
        .col_expr(Column::LastUsedAt, Expr::value(now))
        .filter(Column::Id.eq(id))
        .filter(
            Condition::any()
                .add(Column::LastUsedAt.is_null())
                .add(Column::LastUsedAt.lt(now - time::USE_MARK_INTERVAL)),
        )
        .exec(db)
        .await?;
    Ok(())
}

/// A user's personal API tokens that are not revoked, newest first.
pub async fn list_personal(
    db: &impl ConnectionTrait,
    user_id: &str,
) -> Result<Vec<Token>, StoreError> {
    Ok(Entity::find()
        .filter(Column::UserId.eq(user_id))
        .filter(Column::Purpose.eq(TokenPurpose::PersonalAccess.as_str()))
        .filter(Column::RevokedAt.is_null())
        .order_by_desc(Column::CreatedAt)
        .order_by_desc(Column::Id)
        .all(db)
        .await?)
}

/// Revokes one of `user_id`'s tokens; false when there is no such live token of theirs.
pub async fn revoke(
    db: &impl ConnectionTrait,
    user_id: &str,
    id: &str,
) -> Result<bool, StoreError> {
    let res = Entity::update_many()
        .col_expr(Column::RevokedAt, Expr::value(time::now()))
        .filter(Column::Id.eq(id))
        .filter(Column::UserId.eq(user_id))
        .filter(Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Revokes every unused one-time token of `purpose` for a user (a new reset link replaces the
/// old one).
pub async fn revoke_purpose(
    db: &impl ConnectionTrait,
    user_id: &str,
    purpose: TokenPurpose,
) -> Result<(), StoreError> {
    Entity::update_many()
        .col_expr(Column::RevokedAt, Expr::value(time::now()))
        .filter(Column::UserId.eq(user_id))
        .filter(Column::Purpose.eq(purpose.as_str()))
        .filter(Column::RevokedAt.is_null())
        .filter(Column::UsedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// Uses a one-time token: marks it used if it is live and unused, and returns it. `None` for an
/// unknown, expired, revoked or already used token. Single-use is enforced by the conditional
/// UPDATE itself.
pub async fn consume(
    db: &impl ConnectionTrait,
    token_hash: &str,
    purpose: TokenPurpose,
) -> Result<Option<Token>, StoreError> {
    let now = time::now();
    let res = Entity::update_many()
        .col_expr(Column::UsedAt, Expr::value(now))
        .filter(Column::TokenHash.eq(token_hash))
        .filter(Column::Purpose.eq(purpose.as_str()))
        .filter(Column::UsedAt.is_null())
        .filter(live(now))
        .exec(db)
        .await?;
    if res.rows_affected != 1 {
        return Ok(None);
    }
    Ok(Entity::find()
        .filter(Column::TokenHash.eq(token_hash))
        .one(db)
        .await?)
}

/// The scopes stored with a token, as strings.
pub fn scopes_of(token: &Token) -> Vec<String> {
    token
        .scopes
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}
