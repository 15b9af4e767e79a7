//! Login sessions. Only a SHA-256 hash of each bearer token is stored, so a copy of the database
//! does not let anyone sign in.

use chrono::{DateTime, Utc};
use core_domain::enums::Role;
use core_domain::{ids, time};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

use crate::StoreError;
use crate::entity::{sessions, users};
use crate::stored::Text;

pub use sessions::Model as Session;

/// Where a session came from, for the user's "my sessions" list.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    pub user_agent: Option<String>,
    pub ip_address: Option<String>,
}

pub async fn create(
    db: &impl ConnectionTrait,
    user_id: &str,
    token_hash: String,
    expires_at: DateTime<Utc>,
    origin: Origin,
) -> Result<Session, StoreError> {
    let now = time::now();
    let model = sessions::ActiveModel {
        id: Set(ids::new_id()),
        user_id: Set(user_id.to_owned()),
        token_hash: Set(token_hash),
        user_agent: Set(origin.user_agent),
        ip_address: Set(origin.ip_address),
        expires_at: Set(expires_at),
        revoked_at: Set(None),
        last_used_at: Set(Some(now)),
        created_at: Set(now),
    };
    Ok(model.insert(db).await?)
}

/// What a request needs of its caller's session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveSession {
    pub session_id: String,
    pub last_used_at: Option<DateTime<Utc>>,
    pub expires_at: DateTime<Utc>,
    pub user_id: String,
    pub role: Role,
}

/// The columns [`authenticate`] reads, in order: session id, `last_used_at`, `expires_at`, user
/// id, role.
type LiveColumns = (
    String,
    Option<DateTime<Utc>>,
    DateTime<Utc>,
    String,
    Text<Role>,
);

/// The live session with this token hash and its active, undeleted user: one statement, run on
/// every authenticated request that is not answered from memory, so it reads only the values a
/// caller is made of and how long it may be kept.
pub async fn authenticate(
    db: &impl ConnectionTrait,
    token_hash: &str,
) -> Result<Option<LiveSession>, StoreError> {
    let now = time::now();
    let found: Option<LiveColumns> = sessions::Entity::find()
        .select_only()
        .column(sessions::Column::Id)
        .column(sessions::Column::LastUsedAt)
        .column(sessions::Column::ExpiresAt)
        .column(users::Column::Id)
        .column(users::Column::Role)
        .inner_join(users::Entity)
        .filter(sessions::Column::TokenHash.eq(token_hash))
        .filter(sessions::Column::RevokedAt.is_null())
        .filter(sessions::Column::ExpiresAt.gt(now))
        .filter(users::Column::IsActive.eq(true))
        .filter(users::Column::DeletedAt.is_null())
        .into_tuple()
        .one(db)
        .await?;
    Ok(found.map(
        |(session_id, last_used_at, expires_at, user_id, role)| LiveSession {
            session_id,
            last_used_at,
            expires_at,
            user_id,
            role: *role,
        },
    ))
}

/// Ends one session.
pub async fn revoke(db: &impl ConnectionTrait, session_id: &str) -> Result<(), StoreError> {
    sessions::Entity::update_many()
        .col_expr(sessions::Column::RevokedAt, Expr::value(time::now()))
        .filter(sessions::Column::Id.eq(session_id))
        .filter(sessions::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// A user's live sessions, most recently created first.
pub async fn list_live(
    db: &impl ConnectionTrait,
    user_id: &str,
) -> Result<Vec<Session>, StoreError> {
    Ok(sessions::Entity::find()
        .filter(sessions::Column::UserId.eq(user_id))
        .filter(sessions::Column::RevokedAt.is_null())
        .filter(sessions::Column::ExpiresAt.gt(time::now()))
        .order_by_desc(sessions::Column::CreatedAt)
        .order_by_desc(sessions::Column::Id)
        .all(db)
        .await?)
}

/// Ends one of `user_id`'s sessions; false when it is not theirs or already ended.
pub async fn revoke_own(
    db: &impl ConnectionTrait,
    user_id: &str,
    session_id: &str,
) -> Result<bool, StoreError> {
    let res = sessions::Entity::update_many()
        .col_expr(sessions::Column::RevokedAt, Expr::value(time::now()))
        .filter(sessions::Column::Id.eq(session_id))
        .filter(sessions::Column::UserId.eq(user_id))
        .filter(sessions::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Ends every session of a user except `keep`; returns how many ended.
pub async fn revoke_all(
    db: &impl ConnectionTrait,
    user_id: &str,
    keep: Option<&str>,
) -> Result<u64, StoreError> {
    let mut update = sessions::Entity::update_many()
        .col_expr(sessions::Column::RevokedAt, Expr::value(time::now()))
        .filter(sessions::Column::UserId.eq(user_id))
        .filter(sessions::Column::RevokedAt.is_null());
    if let Some(keep) = keep {
        update = update.filter(sessions::Column::Id.ne(keep));
    }
    Ok(update.exec(db).await?.rows_affected)
}

/// Records a use of a session (callers check `time::needs_use_mark` first, so this is rare).
pub async fn touch(db: &impl ConnectionTrait, session_id: &str) -> Result<(), StoreError> {
    sessions::Entity::update_many()
        .col_expr(sessions::Column::LastUsedAt, Expr::value(time::now()))
        .filter(sessions::Column::Id.eq(session_id))
        .exec(db)
        .await?;
    Ok(())
}
