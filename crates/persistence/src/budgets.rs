//! Token budgets: reserve before an AI call, settle after.
//!
//! A reservation is one conditional `UPDATE ... SET reserved = reserved + n WHERE used +
//! reserved + n <= limit_tokens` per budget, so concurrent reservations can never overspend on
//! either database: the row update is atomic and the condition is re-checked under its lock.
//! Several budgets are reserved in one transaction: all of them or none. Settling moves the
//! reservation to `used` at its real size (which may exceed the estimate: usage is never lost).

use core_domain::{ids, time};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set, TransactionSession,
    TransactionTrait,
};

use crate::StoreError;
use crate::entity::budgets::{self, Column, Entity};

pub use budgets::Model as Budget;

/// A per-user token allowance for one UTC day.
pub const USER_DAILY: &str = "user_daily";

/// Which budget, and its limit should the row not exist yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetKey {
    pub scope: &'static str,
    pub subject_id: String,
    pub period: String,
    pub limit_tokens: i64,
}

impl BudgetKey {
    /// The user's budget for today (UTC).
    pub fn user_daily(user_id: &str, limit_tokens: i64) -> Self {
        Self {
            scope: USER_DAILY,
            subject_id: user_id.to_owned(),
            period: time::now().format("%Y-%m-%d").to_string(),
            limit_tokens,
        }
    }
}

/// Budgets held by one reservation, to settle later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    pub budget_ids: Vec<String>,
    pub tokens: i64,
}

async fn ensure(db: &impl ConnectionTrait, key: &BudgetKey) -> Result<String, StoreError> {
    let now = time::now();
    let row = budgets::ActiveModel {
        id: Set(ids::new_id()),
        scope: Set(key.scope.to_owned()),
        subject_id: Set(key.subject_id.clone()),
        period: Set(key.period.clone()),
        limit_tokens: Set(key.limit_tokens),
        used: Set(0),
        reserved: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
    };
    Entity::insert(row)
        .on_conflict_do_nothing_on([Column::Scope, Column::SubjectId, Column::Period])
        .exec_without_returning(db)
        .await?;
    let found = Entity::find()
        .filter(Column::Scope.eq(key.scope))
        .filter(Column::SubjectId.eq(key.subject_id.as_str()))
        .filter(Column::Period.eq(key.period.as_str()))
        .one(db)
        .await?
        .ok_or_else(|| StoreError::Db(sea_orm::DbErr::RecordNotFound("budget".into())))?;
    Ok(found.id)
}

/// Reserves `tokens` on every budget in `keys`, or on none: `Ok(None)` when one does not fit.
pub async fn reserve<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    keys: &[BudgetKey],
    tokens: i64,
) -> Result<Option<Reservation>, StoreError> {
    // Rows are created outside the reserving transaction so two first reservations of the day do
    // not deadlock on the insert.
    let mut ids = Vec::with_capacity(keys.len());
    for key in keys {
        ids.push(ensure(db, key).await?);
    }
    let txn = db.begin().await?;
    for id in &ids {
        let res = Entity::update_many()
            .col_expr(Column::Reserved, Expr::col(Column::Reserved).add(tokens))
            .col_expr(Column::UpdatedAt, Expr::value(time::now()))
            .filter(Column::Id.eq(id.as_str()))
            .filter(
                Expr::col(Column::Used)
                    .add(Expr::col(Column::Reserved))
                    .add(tokens)
                    .lte(Expr::col(Column::LimitTokens)),
            )
            .exec(&txn)
            .await?;
        if res.rows_affected == 0 {
            txn.rollback().await?;
            return Ok(None);
        }
    }
    txn.commit().await?;
    Ok(Some(Reservation {
        budget_ids: ids,
        tokens,
    }))
}

/// Releases a reservation and charges `used_tokens` instead. Runs on whatever connection the
/// caller gives, so it can join the transaction that stores the reply.
pub async fn settle(
    db: &impl ConnectionTrait,
    reservation: &Reservation,
    used_tokens: i64,
) -> Result<(), StoreError> {
    if reservation.budget_ids.is_empty() {
        return Ok(());
    }
    Entity::update_many()
        .col_expr(
            Column::Reserved,
            Expr::col(Column::Reserved).sub(reservation.tokens),
        )
        .col_expr(Column::Used, Expr::col(Column::Used).add(used_tokens))
        .col_expr(Column::UpdatedAt, Expr::value(time::now()))
        .filter(Column::Id.is_in(reservation.budget_ids.iter().cloned()))
        .exec(db)
        .await?;
    Ok(())
}

/// Charges tokens that were not reserved (a title request after the reply), on every budget in
/// `keys`; a budget may go over its limit this way, which only refuses the next reservation.
pub async fn charge<C: ConnectionTrait>(
    db: &C,
    keys: &[BudgetKey],
    tokens: i64,
) -> Result<(), StoreError> {
    for key in keys {
        let id = ensure(db, key).await?;
        Entity::update_many()
            .col_expr(Column::Used, Expr::col(Column::Used).add(tokens))
            .col_expr(Column::UpdatedAt, Expr::value(time::now()))
            .filter(Column::Id.eq(id))
            .exec(db)
            .await?;
    }
    Ok(())
}

pub async fn find(
    db: &impl ConnectionTrait,
    key: &BudgetKey,
) -> Result<Option<Budget>, StoreError> {
    Ok(Entity::find()
        .filter(Column::Scope.eq(key.scope))
        .filter(Column::SubjectId.eq(key.subject_id.as_str()))
        .filter(Column::Period.eq(key.period.as_str()))
        .one(db)
        .await?)
}
