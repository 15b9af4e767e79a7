//! Rate-limit counters in the database, so a limit holds across every gateway instance sharing
//! one PostgreSQL database: a fixed-window counter per key, raised in one atomic statement
//! (`INSERT ... ON CONFLICT DO UPDATE SET count = count + n RETURNING count`). Concurrent callers
//! each get a disjoint range of the window's count, so the permits granted in a window never add
//! up to more than its limit, whatever the instances and the races.

use sea_orm::sea_query::{Expr, ExprTrait as _, OnConflict, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::StoreError;
use crate::entity::rate_limit_windows::{Column, Entity};

/// Takes up to `wanted` of the `limit` permits of `key` in the window starting at `window_start`
/// (Unix seconds) and returns how many were granted, from 0 to `wanted`. The counter records
/// every permit asked for, granted or not.
pub async fn take(
    db: &impl ConnectionTrait,
    key: &str,
    window_start: i64,
    limit: i64,
    wanted: i64,
) -> Result<i64, StoreError> {
    let insert = Query::insert()
        .into_table(Entity)
        .columns([Column::Key, Column::WindowStart, Column::Count])
        .values_panic([key.into(), window_start.into(), wanted.into()])
        .on_conflict(
            OnConflict::columns([Column::Key, Column::WindowStart])
                .value(
                    Column::Count,
                    Expr::col((Entity, Column::Count)).add(wanted),
                )
                .to_owned(),
        )
        .returning_col(Column::Count)
        .to_owned();
    let backend = db.get_database_backend();
    let row = db
        .query_one_raw(backend.build(&insert))
        .await?
        .ok_or_else(|| StoreError::Db(sea_orm::DbErr::RecordNotFound("rate limit".into())))?;
    let count: i64 = row.try_get_by_index(0)?;
    Ok(granted(count, limit, wanted))
}

/// Of the `wanted` permits that raised a window's count to `count`, those still under `limit`.
fn granted(count: i64, limit: i64, wanted: i64) -> i64 {
    (limit - (count - wanted)).clamp(0, wanted)
}

/// Deletes the counters of windows that started before `window_start`.
pub async fn purge_before(db: &impl ConnectionTrait, window_start: i64) -> Result<u64, StoreError> {
    Ok(Entity::delete_many()
        .filter(Column::WindowStart.lt(window_start))
        .exec(db)
        .await?
        .rows_affected)
}

#[cfg(test)]
mod tests {
    use super::granted;

    #[test]
    fn grants_only_what_is_left_under_the_limit() {
        assert_eq!(granted(5, 10, 5), 5, "a fresh window");
        assert_eq!(granted(12, 10, 5), 3, "the last three");
        assert_eq!(granted(15, 10, 5), 0, "nothing left");
        assert_eq!(granted(40, 10, 1), 0);
        assert_eq!(granted(1, 1, 1), 1);
    }
}
