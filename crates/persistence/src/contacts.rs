//! Contact methods (002 `ContactMethod`): ways to reach a user. (`type`, `value`) is unique across
//! all users; at most one method per (user, type) is primary, which a partial unique index in the
//! database enforces, so [`set_primary`] clears the old primary before setting the new one, in
//! one transaction.

use core_domain::{ids, time};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
    TransactionSession, TransactionTrait,
};

use crate::StoreError;
use crate::entity::contact_methods::{self, Column, Entity};

pub use contact_methods::Model as ContactMethod;

/// Adds an unverified, non-primary method; a value already registered answers
/// `Conflict("contact method")`.
pub async fn add(
    db: &impl ConnectionTrait,
    user_id: &str,
    kind: &str,
    value: &str,
) -> Result<ContactMethod, StoreError> {
    let now = time::now();
    let model = contact_methods::ActiveModel {
        id: Set(ids::new_id()),
        user_id: Set(user_id.to_owned()),
        r#type: Set(kind.to_owned()),
        value: Set(value.to_owned()),
        verified: Set(false),
        is_primary: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
    };
    model
        .insert(db)
        .await
        .map_err(|e| StoreError::conflict_or_db(e, "contact method"))
}

pub async fn find(
    db: &impl ConnectionTrait,
    id: &str,
) -> Result<Option<ContactMethod>, StoreError> {
    Ok(Entity::find_by_id(id.to_owned()).one(db).await?)
}

/// A user's methods, by type, primary first.
pub async fn list(
    db: &impl ConnectionTrait,
    user_id: &str,
) -> Result<Vec<ContactMethod>, StoreError> {
    Ok(Entity::find()
        .filter(Column::UserId.eq(user_id))
        .order_by_asc(Column::Type)
        .order_by_desc(Column::IsPrimary)
        .order_by_asc(Column::CreatedAt)
        .all(db)
        .await?)
}

pub async fn mark_verified(db: &impl ConnectionTrait, id: &str) -> Result<(), StoreError> {
    Entity::update_many()
        .col_expr(Column::Verified, Expr::value(true))
        .col_expr(Column::UpdatedAt, Expr::value(time::now()))
        .filter(Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Makes `method` the user's primary of its type.
pub async fn set_primary<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    method: &ContactMethod,
) -> Result<(), StoreError> {
    let now = time::now();
    let txn = db.begin().await?;
    Entity::update_many()
        .col_expr(Column::IsPrimary, Expr::value(false))
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .filter(Column::UserId.eq(method.user_id.as_str()))
        .filter(Column::Type.eq(method.r#type.as_str()))
        .filter(Column::IsPrimary.eq(true))
        .exec(&txn)
        .await?;
    Entity::update_many()
        .col_expr(Column::IsPrimary, Expr::value(true))
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .filter(Column::Id.eq(method.id.as_str()))
        .exec(&txn)
        .await
        .map_err(|e| StoreError::conflict_or_db(e, "primary contact method"))?;
    txn.commit().await?;
    Ok(())
}

pub async fn remove(db: &impl ConnectionTrait, id: &str) -> Result<bool, StoreError> {
    let res = Entity::delete_by_id(id.to_owned()).exec(db).await?;
    Ok(res.rows_affected == 1)
}
