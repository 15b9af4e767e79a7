//! Token budgets: reserve before an AI call, settle after.
//!
//! A reservation is one conditional `UPDATE ... SET reserved = reserved + n WHERE used +
//! reserved + n <= limit_tokens` per budget, so concurrent reservations can never overspend on
//! either database: the row update is atomic and the condition is re-checked under its lock.
//! Several budgets are reserved in one transaction: all of them or none. Settling moves the
//! reservation to `used` at its real size (which may exceed the estimate: usage is never lost).
//!
//! Every reservation is also a `budget_reservations` row, written in the reserving transaction:
//! what the call holds, on which budgets, for which reply and model. Settling deletes that row and
//! touches the budgets only when the delete found it, so a reservation is settled exactly once
//! even when a generator and the recovery of its "dead" server race for it; and a reservation
//! whose server died is found again by recovery ([`pending_for_message`]).

use core_domain::enums::StreamType;
use core_domain::{ids, time};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set,
    TransactionSession, TransactionTrait,
};

use crate::StoreError;
use crate::entity::budget_reservations as held;
use crate::entity::budgets::{self, Column, Entity};

pub use budgets::Model as Budget;
pub use held::Model as PendingReservation;

/// A per-user token allowance for one UTC day.
pub const USER_DAILY: &str = "user_daily";

/// An invitation's token quota, for its whole life (period `all`).
pub const INVITATION: &str = "invitation";

/// A user's plan allowance of tokens for one subscription period (`2026-12`): the plan's
/// `monthlyAiTokens`.
pub const PLAN_MONTHLY: &str = "plan_monthly";

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

    /// An invitation's quota: every call in its sessions reserves against it.
    pub fn invitation(invitation_id: &str, limit_tokens: i64) -> Self {
        Self {
            scope: INVITATION,
            subject_id: invitation_id.to_owned(),
            period: "all".to_owned(),
            limit_tokens,
        }
    }
}

impl BudgetKey {
    /// The user's plan budget for the subscription period `period` (see
    /// `subscriptions::period_key`): every AI call reserves against it with the others.
    pub fn plan_monthly(user_id: &str, period: &str, limit_tokens: i64) -> Self {
        Self {
            scope: PLAN_MONTHLY,
            subject_id: user_id.to_owned(),
            period: period.to_owned(),
            limit_tokens,
        }
    }
}

/// Sets the limit of an existing budget row (a plan changed mid-period); nothing when the row
/// does not exist yet (it is created with the new limit).
pub async fn set_limit(db: &impl ConnectionTrait, key: &BudgetKey) -> Result<(), StoreError> {
    Entity::update_many()
        .col_expr(Column::LimitTokens, Expr::value(key.limit_tokens))
        .col_expr(Column::UpdatedAt, Expr::value(time::now()))
        .filter(Column::Scope.eq(key.scope))
        .filter(Column::SubjectId.eq(key.subject_id.as_str()))
        .filter(Column::Period.eq(key.period.as_str()))
        .exec(db)
        .await?;
    Ok(())
}

/// Budgets held by one reservation, to settle later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    /// The `budget_reservations` row.
    pub id: String,
    pub budget_ids: Vec<String>,
    pub tokens: i64,
}

/// What a reservation is for: enough to settle it and bill the call if its server dies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purpose {
    pub message_id: Option<String>,
    pub user_id: Option<String>,
    pub conversation_id: Option<String>,
    pub prompt_tokens: i32,
    pub model: String,
    pub provider: String,
    pub stream_type: StreamType,
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
/// The reservation is recorded for `purpose` in the same transaction.
pub async fn reserve<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    keys: &[BudgetKey],
    tokens: i64,
    purpose: Purpose,
) -> Result<Option<Reservation>, StoreError> {
    Ok(reserve_or_exhausted(db, keys, tokens, purpose).await?.ok())
}

/// [`reserve`], saying which budget did not fit: `Ok(Err(scope))` names the first budget in
/// `keys` that had no room left (its `scope`, e.g. [`USER_DAILY`] or [`INVITATION`]).
pub async fn reserve_or_exhausted<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    keys: &[BudgetKey],
    tokens: i64,
    purpose: Purpose,
) -> Result<Result<Reservation, &'static str>, StoreError> {
    Ok(reserve_all(db, keys, vec![(tokens, purpose)])
        .await?
        .map(|mut all| all.remove(0)))
}

/// Reserves several calls at once (a practice session's partner and coach), all or none: the
/// budgets are charged their sum in one transaction, and each call gets its own reservation to
/// settle. `Ok(Err(scope))` names the first budget with no room for the sum.
pub async fn reserve_all<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    keys: &[BudgetKey],
    calls: Vec<(i64, Purpose)>,
) -> Result<Result<Vec<Reservation>, &'static str>, StoreError> {
    let tokens: i64 = calls.iter().map(|(t, _)| *t).sum();
    // Rows are created outside the reserving transaction so two first reservations of the day do
    // not deadlock on the insert.
    let mut ids = Vec::with_capacity(keys.len());
    for key in keys {
        ids.push(ensure(db, key).await?);
    }
    let txn = db.begin().await?;
    for (id, key) in ids.iter().zip(keys) {
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
            return Ok(Err(key.scope));
        }
    }
    let mut reservations = Vec::with_capacity(calls.len());
    for (tokens, purpose) in calls {
        let id = ids::new_id();
        held::ActiveModel {
            id: Set(id.clone()),
            message_id: Set(purpose.message_id),
            user_id: Set(purpose.user_id),
            conversation_id: Set(purpose.conversation_id),
            budget_ids: Set(serde_json::json!(ids)),
            tokens: Set(tokens),
            prompt_tokens: Set(purpose.prompt_tokens),
            model: Set(purpose.model),
            provider: Set(purpose.provider),
            stream_type: Set(purpose.stream_type.into()),
            created_at: Set(time::now()),
        }
        .insert(&txn)
        .await?;
        reservations.push(Reservation {
            id,
            budget_ids: ids.clone(),
            tokens,
        });
    }
    txn.commit().await?;
    Ok(Ok(reservations))
}

/// Releases a reservation and charges `used_tokens` instead, exactly once: false (and nothing
/// charged) when it was settled already, by recovery say. Runs on whatever connection the caller
/// gives, so it joins the transaction that stores the reply and its usage row.
pub async fn settle(
    db: &impl ConnectionTrait,
    reservation: &Reservation,
    used_tokens: i64,
) -> Result<bool, StoreError> {
    let taken = held::Entity::delete_by_id(reservation.id.clone())
        .exec(db)
        .await?
        .rows_affected
        > 0;
    if !taken {
        return Ok(false);
    }
    if reservation.budget_ids.is_empty() {
        return Ok(true);
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
    Ok(true)
}

/// The reservation a reply's call still holds, if its settlement never happened.
pub async fn pending_for_message(
    db: &impl ConnectionTrait,
    message_id: &str,
) -> Result<Option<(PendingReservation, Reservation)>, StoreError> {
    let Some(row) = held::Entity::find()
        .filter(held::Column::MessageId.eq(message_id))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let reservation = reservation_of(&row);
    Ok(Some((row, reservation)))
}

/// Reservations older than `before` that hold no reply (titles and other message-less calls
/// whose server died before settling).
pub async fn stale_without_message(
    db: &impl ConnectionTrait,
    before: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<(PendingReservation, Reservation)>, StoreError> {
    let rows = held::Entity::find()
        .filter(held::Column::MessageId.is_null())
        .filter(held::Column::CreatedAt.lt(before))
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let reservation = reservation_of(&row);
            (row, reservation)
        })
        .collect())
}

fn reservation_of(row: &PendingReservation) -> Reservation {
    let budget_ids = row
        .budget_ids
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    Reservation {
        id: row.id.clone(),
        budget_ids,
        tokens: row.tokens,
    }
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
