//! Users' own provider keys. The store only ever sees ciphertext: the gateway encrypts with the
//! row id as associated data before inserting, so the id is chosen by the caller.

use core_domain::enums::KeyProvider;
use core_domain::time;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};

use crate::StoreError;
use crate::entity::api_keys::{self, Column, Entity};

pub use api_keys::Model as ApiKey;

#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub id: String,
    pub user_id: String,
    pub provider: KeyProvider,
    pub name: Option<String>,
    pub encrypted_key: String,
    pub key_id: String,
    pub last4: String,
}

pub async fn insert(db: &impl ConnectionTrait, new: NewApiKey) -> Result<ApiKey, StoreError> {
    let now = time::now();
    let row = api_keys::ActiveModel {
        id: Set(new.id),
        user_id: Set(new.user_id),
        provider: Set(new.provider.into()),
        name: Set(new.name),
        encrypted_key: Set(new.encrypted_key),
        key_id: Set(new.key_id),
        last4: Set(new.last4),
        created_at: Set(now),
        updated_at: Set(now),
    };
    Ok(row.insert(db).await?)
}

/// A user's keys, newest first.
pub async fn for_user(db: &impl ConnectionTrait, user_id: &str) -> Result<Vec<ApiKey>, StoreError> {
    Ok(Entity::find()
        .filter(Column::UserId.eq(user_id))
        .order_by_desc(Column::CreatedAt)
        .order_by_desc(Column::Id)
        .all(db)
        .await?)
}

/// The user's newest key for `provider`.
pub async fn newest_for(
    db: &impl ConnectionTrait,
    user_id: &str,
    provider: &str,
) -> Result<Option<ApiKey>, StoreError> {
    Ok(Entity::find()
        .filter(Column::UserId.eq(user_id))
        .filter(Column::Provider.eq(provider))
        .order_by_desc(Column::CreatedAt)
        .order_by_desc(Column::Id)
        .one(db)
        .await?)
}

/// Every stored key (for re-encryption under a new master key).
pub async fn all(db: &impl ConnectionTrait) -> Result<Vec<ApiKey>, StoreError> {
    Ok(Entity::find().all(db).await?)
}

/// Replaces a key's ciphertext and the id of the master key that sealed it.
pub async fn reseal(
    db: &impl ConnectionTrait,
    id: &str,
    key_id: &str,
    encrypted_key: &str,
) -> Result<(), StoreError> {
    use sea_orm::sea_query::Expr;
    Entity::update_many()
        .col_expr(Column::KeyId, Expr::value(key_id))
        .col_expr(Column::EncryptedKey, Expr::value(encrypted_key))
        .filter(Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Deletes one of the user's keys; false when they have no such key.
pub async fn delete(
    db: &impl ConnectionTrait,
    user_id: &str,
    id: &str,
) -> Result<bool, StoreError> {
    let res = Entity::delete_many()
        .filter(Column::Id.eq(id))
        .filter(Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    Ok(res.rows_affected > 0)
}
