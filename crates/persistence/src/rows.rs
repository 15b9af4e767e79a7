//! Reads every store shares.

use std::collections::HashMap;

use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, Iterable, PrimaryKeyToColumn,
    QueryFilter, QuerySelect, Select,
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

#[derive(Debug, FromQueryResult)]
struct ParentCount {
    parent: Option<String>,
    n: i64,
}

/// How many rows of `select` each of `parents` has (its id in column `parent`), in one grouped
/// statement: the `totalCount` of a nested list for a whole level. Parents without rows are
/// absent (zero).
pub async fn counts_by_parent<E>(
    db: &impl ConnectionTrait,
    select: Select<E>,
    parent: E::Column,
    parents: &[String],
) -> Result<HashMap<String, u64>, StoreError>
where
    E: EntityTrait,
{
    if parents.is_empty() {
        return Ok(HashMap::new());
    }
    let Some(key) = E::PrimaryKey::iter().next() else {
        return Ok(HashMap::new());
    };
    let rows = select
        .filter(parent.is_in(parents.iter().cloned()))
        .select_only()
        .column_as(parent, "parent")
        .column_as(key.into_column().count(), "n")
        .group_by(parent)
        .into_model::<ParentCount>()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| Some((r.parent?, u64::try_from(r.n).unwrap_or(0))))
        .collect())
}
