//! Reads every store shares.

use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, Iterable, PrimaryKeyToColumn, QueryFilter,
};

use crate::StoreError;

/// The rows of `E` whose (text) primary key is one of `ids`, in one statement; none for no ids.
/// For look-ups by id that a loader batches and the caller then checks against the policy.
pub async fn by_ids<E>(
    db: &impl ConnectionTrait,
    ids: &[String],
) -> Result<Vec<E::Model>, StoreError>
where
    E: EntityTrait,
{
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let Some(key) = E::PrimaryKey::iter().next() else {
        return Ok(Vec::new());
    };
    Ok(E::find()
        .filter(key.into_column().is_in(ids.iter().cloned()))
        .all(db)
        .await?)
}
