//! Notifications' reads and marks: a user's own notifications only (every query is scoped by
//! `user_id`), newest first, optionally only the unread ones; marking some or all read; the
//! unread count (by the partial index on unread rows).

use core_domain::pagination::PageArgs;
use core_domain::time;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, Select,
};

use crate::cursor::Keyset;
use crate::entity::notifications::{Column, Entity};
use crate::notifications::Notification;
use crate::{Page, StoreError};

/// Newest first, by the `(user_id, created_at, id)` index.
pub fn keyset() -> Keyset<Column> {
    Keyset {
        name: "notifications.created_at.desc",
        at: Column::CreatedAt,
        id: Column::Id,
        descending: true,
    }
}

fn own(user_id: &str, unread_only: bool) -> Select<Entity> {
    let mut cond = Condition::all().add(Column::UserId.eq(user_id));
    if unread_only {
        cond = cond.add(Column::ReadAt.is_null());
    }
    Entity::find().filter(cond)
}

/// One page of the user's notifications (only unread ones when `unread_only`).
pub async fn page_own(
    db: &impl ConnectionTrait,
    user_id: &str,
    unread_only: bool,
    args: &PageArgs,
) -> Result<Page<Notification>, StoreError> {
    let rows = keyset()
        .apply(own(user_id, unread_only), args)?
        .all(db)
        .await?;
    Ok(Keyset::<Column>::page(args, rows))
}

/// How many notifications the user has (only unread ones when `unread_only`).
pub async fn count_own(
    db: &impl ConnectionTrait,
    user_id: &str,
    unread_only: bool,
) -> Result<u64, StoreError> {
    Ok(own(user_id, unread_only).count(db).await?)
}

/// The user's notifications among `ids`.
pub async fn own_by_ids(
    db: &impl ConnectionTrait,
    user_id: &str,
    ids: &[String],
) -> Result<Vec<Notification>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(own(user_id, false)
        .filter(Column::Id.is_in(ids.iter().cloned()))
        .all(db)
        .await?)
}

/// Marks the user's unread notifications read: those among `ids`, or all with `None`. Returns
/// how many changed.
pub async fn mark_read(
    db: &impl ConnectionTrait,
    user_id: &str,
    ids: Option<&[String]>,
) -> Result<u64, StoreError> {
    let mut update = Entity::update_many()
        .col_expr(Column::ReadAt, Expr::value(time::now()))
        .filter(Column::UserId.eq(user_id))
        .filter(Column::ReadAt.is_null());
    if let Some(ids) = ids {
        if ids.is_empty() {
            return Ok(0);
        }
        update = update.filter(Column::Id.is_in(ids.iter().cloned()));
    }
    Ok(update.exec(db).await?.rows_affected)
}
