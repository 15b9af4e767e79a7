//! OAuth sign-ins in flight, in the database so any gateway instance can finish one. A state is
//! taken with one `DELETE … RETURNING`, so it works exactly once even when two callbacks race.

use chrono::{DateTime, Utc};
use core_domain::time;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

use crate::StoreError;
use crate::entity::oauth_states::{self, Column, Entity};

pub use oauth_states::Model as PendingSignIn;

/// Records a started sign-in, and forgets the ones that expired (they can never finish).
pub async fn insert(
    db: &impl ConnectionTrait,
    state_hash: String,
    provider: &str,
    pkce_verifier: String,
    guest_user_id: Option<String>,
    expires_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let now = time::now();
    Entity::delete_many()
        .filter(Column::ExpiresAt.lt(now))
        .exec(db)
        .await?;
    oauth_states::ActiveModel {
        state_hash: Set(state_hash),
        provider: Set(provider.to_owned()),
        pkce_verifier: Set(pkce_verifier),
        guest_user_id: Set(guest_user_id),
        created_at: Set(now),
        expires_at: Set(expires_at),
    }
    .insert(db)
    .await
    .map_err(|e| StoreError::conflict_or_db(e, "state"))?;
    Ok(())
}

/// Takes a sign-in by its state hash: it is gone afterwards whatever happens next. None when it
/// was never issued, was already taken, or has expired.
pub async fn take(
    db: &impl ConnectionTrait,
    state_hash: &str,
) -> Result<Option<PendingSignIn>, StoreError> {
    let taken = Entity::delete_many()
        .filter(Column::StateHash.eq(state_hash))
        .exec_with_returning(db)
        .await?;
    let now = time::now();
    Ok(taken.into_iter().find(|p| p.expires_at > now))
}

/// How many sign-ins are in flight (not expired).
pub async fn count_live(db: &impl ConnectionTrait) -> Result<u64, StoreError> {
    use sea_orm::PaginatorTrait;
    Ok(Entity::find()
        .filter(Column::ExpiresAt.gt(time::now()))
        .count(db)
        .await?)
}
