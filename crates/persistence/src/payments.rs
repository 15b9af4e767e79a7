//! Payments (money moving in or out through a payment processor) and proof-of-knowledge mining
//! activities. A payment's status only moves by conditional updates (`WHERE status = from`),
//! so two concurrent moves of one payment cannot both apply; a mining activity is unique per
//! (user, assessment), so a reward is minted once.

use chrono::{DateTime, Utc};
use core_domain::finance::PaymentStatus;
use core_domain::pagination::PageArgs;
use core_domain::{ids, time};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    TryInsertResult,
};

use crate::cursor::Keyset;
use crate::entity::{mining_activities, payments};
use crate::{Page, StoreError};

pub use mining_activities::Model as MiningActivity;
pub use payments::Model as Payment;

/// A payment to record, PENDING.
#[derive(Debug, Clone)]
pub struct NewPayment {
    pub id: String,
    pub user_id: String,
    pub amount: i64,
    pub currency: String,
    pub purpose: String,
    pub provider: String,
    pub description: Option<String>,
    pub wallet_id: String,
    pub idempotency_key: String,
    pub metadata: Option<serde_json::Value>,
}

pub async fn create(db: &impl ConnectionTrait, new: NewPayment) -> Result<Payment, StoreError> {
    let now = time::now();
    let row = Payment {
        id: new.id,
        user_id: new.user_id,
        amount: new.amount,
        currency: new.currency,
        provider: new.provider,
        provider_reference: None,
        status: PaymentStatus::Pending.as_str().to_owned(),
        description: new.description,
        wallet_id: Some(new.wallet_id),
        transaction_id: None,
        idempotency_key: new.idempotency_key,
        failure_reason: None,
        metadata: new.metadata,
        completed_at: None,
        created_at: now,
        updated_at: now,
        purpose: new.purpose,
    };
    payments::Entity::insert(payments::ActiveModel {
        id: Set(row.id.clone()),
        user_id: Set(row.user_id.clone()),
        amount: Set(row.amount),
        currency: Set(row.currency.clone()),
        provider: Set(row.provider.clone()),
        provider_reference: Set(None),
        status: Set(row.status.clone()),
        description: Set(row.description.clone()),
        wallet_id: Set(row.wallet_id.clone()),
        transaction_id: Set(None),
        idempotency_key: Set(row.idempotency_key.clone()),
        failure_reason: Set(None),
        metadata: Set(row.metadata.clone()),
        completed_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        purpose: Set(row.purpose.clone()),
    })
    .exec_without_returning(db)
    .await
    .map_err(|e| StoreError::conflict_or_db(e, "payment"))?;
    Ok(row)
}

pub async fn find(db: &impl ConnectionTrait, id: &str) -> Result<Option<Payment>, StoreError> {
    Ok(payments::Entity::find_by_id(id.to_owned()).one(db).await?)
}

pub async fn by_ids(db: &impl ConnectionTrait, ids: &[String]) -> Result<Vec<Payment>, StoreError> {
    crate::rows::by_ids::<payments::Entity>(db, ids).await
}

/// What a status move writes besides the status.
#[derive(Debug, Clone, Default)]
pub struct PaymentMove {
    pub provider_reference: Option<String>,
    pub transaction_id: Option<String>,
    pub failure_reason: Option<String>,
    pub completed: bool,
}

/// Moves the payment from `from` to `to` if it is still `from`; whether it moved.
pub async fn move_status(
    db: &impl ConnectionTrait,
    id: &str,
    from: PaymentStatus,
    to: PaymentStatus,
    changes: PaymentMove,
) -> Result<bool, StoreError> {
    let now = time::now();
    let mut update = payments::Entity::update_many()
        .col_expr(payments::Column::Status, Expr::value(to.as_str()))
        .col_expr(payments::Column::UpdatedAt, Expr::value(now))
        .filter(payments::Column::Id.eq(id))
        .filter(payments::Column::Status.eq(from.as_str()));
    if let Some(r) = changes.provider_reference {
        update = update.col_expr(payments::Column::ProviderReference, Expr::value(r));
    }
    if let Some(t) = changes.transaction_id {
        update = update.col_expr(payments::Column::TransactionId, Expr::value(t));
    }
    if let Some(f) = changes.failure_reason {
        update = update.col_expr(payments::Column::FailureReason, Expr::value(f));
    }
    if changes.completed {
        update = update.col_expr(payments::Column::CompletedAt, Expr::value(now));
    }
    Ok(update.exec(db).await?.rows_affected == 1)
}

/// Records the ledger row of a payment already moved.
pub async fn set_transaction(
    db: &impl ConnectionTrait,
    id: &str,
    transaction_id: &str,
) -> Result<(), StoreError> {
    payments::Entity::update_many()
        .col_expr(payments::Column::TransactionId, Expr::value(transaction_id))
        .filter(payments::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Newest first, by the `(user_id, created_at, id)` index.
pub const PAYMENTS_NEWEST: Keyset<payments::Column> = Keyset {
    name: "payments.created_at.desc",
    at: payments::Column::CreatedAt,
    id: payments::Column::Id,
    descending: true,
};

/// A page of the user's payments, newest first.
pub async fn page_own(
    db: &impl ConnectionTrait,
    user_id: &str,
    args: &PageArgs,
) -> Result<Page<Payment>, StoreError> {
    let rows = PAYMENTS_NEWEST
        .apply(
            payments::Entity::find().filter(payments::Column::UserId.eq(user_id)),
            args,
        )?
        .all(db)
        .await?;
    Ok(Keyset::<payments::Column>::page(args, rows))
}

pub async fn count_own(db: &impl ConnectionTrait, user_id: &str) -> Result<u64, StoreError> {
    Ok(payments::Entity::find()
        .filter(payments::Column::UserId.eq(user_id))
        .count(db)
        .await?)
}

pub fn payment_cursor_at(p: &Payment) -> DateTime<Utc> {
    p.created_at
}

/// A mining activity to record for a passed assessment.
#[derive(Debug, Clone)]
pub struct NewMining {
    pub user_id: String,
    pub course_id: Option<String>,
    pub assessment_id: String,
    pub reward_amount: i64,
    pub currency: String,
    pub proof: serde_json::Value,
}

/// Records the user's mining activity for the assessment, VERIFIED, unless they have one
/// already: the new row, or `None` when the reward was minted before.
pub async fn record_mining(
    db: &impl ConnectionTrait,
    new: NewMining,
) -> Result<Option<MiningActivity>, StoreError> {
    let now = time::now();
    let row = MiningActivity {
        id: ids::new_id(),
        user_id: new.user_id,
        activity_type: "ASSESSMENT_PASSED".to_owned(),
        course_id: new.course_id,
        assessment_id: Some(new.assessment_id),
        reward_amount: new.reward_amount,
        currency: new.currency,
        status: "VERIFIED".to_owned(),
        proof: Some(new.proof),
        transaction_id: None,
        verified_at: Some(now),
        created_at: now,
        updated_at: now,
    };
    let inserted = mining_activities::Entity::insert(mining_activities::ActiveModel {
        id: Set(row.id.clone()),
        user_id: Set(row.user_id.clone()),
        activity_type: Set(row.activity_type.clone()),
        course_id: Set(row.course_id.clone()),
        assessment_id: Set(row.assessment_id.clone()),
        reward_amount: Set(row.reward_amount),
        currency: Set(row.currency.clone()),
        status: Set(row.status.clone()),
        proof: Set(row.proof.clone()),
        transaction_id: Set(None),
        verified_at: Set(row.verified_at),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .on_conflict_do_nothing_on([
        mining_activities::Column::UserId,
        mining_activities::Column::AssessmentId,
    ])
    .exec_without_returning(db)
    .await?;
    Ok(matches!(inserted, TryInsertResult::Inserted(n) if n > 0).then_some(row))
}

/// Marks a mining activity REWARDED by the ledger row `transaction_id`.
pub async fn mining_rewarded(
    db: &impl ConnectionTrait,
    id: &str,
    transaction_id: &str,
) -> Result<(), StoreError> {
    mining_activities::Entity::update_many()
        .col_expr(
            mining_activities::Column::TransactionId,
            Expr::value(transaction_id),
        )
        .col_expr(mining_activities::Column::Status, Expr::value("REWARDED"))
        .col_expr(
            mining_activities::Column::UpdatedAt,
            Expr::value(time::now()),
        )
        .filter(mining_activities::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Newest first, by the `(user_id, created_at, id)` index.
pub const MINING_NEWEST: Keyset<mining_activities::Column> = Keyset {
    name: "mining_activities.created_at.desc",
    at: mining_activities::Column::CreatedAt,
    id: mining_activities::Column::Id,
    descending: true,
};

/// A page of the user's mining activities, newest first.
pub async fn mining_page_own(
    db: &impl ConnectionTrait,
    user_id: &str,
    args: &PageArgs,
) -> Result<Page<MiningActivity>, StoreError> {
    let rows = MINING_NEWEST
        .apply(
            mining_activities::Entity::find().filter(mining_activities::Column::UserId.eq(user_id)),
            args,
        )?
        .all(db)
        .await?;
    Ok(Keyset::<mining_activities::Column>::page(args, rows))
}

pub async fn mining_count_own(db: &impl ConnectionTrait, user_id: &str) -> Result<u64, StoreError> {
    Ok(mining_activities::Entity::find()
        .filter(mining_activities::Column::UserId.eq(user_id))
        .count(db)
        .await?)
}

/// Mining activities by id (any owner: the caller checks access).
pub async fn mining_by_ids(
    db: &impl ConnectionTrait,
    ids: &[String],
) -> Result<Vec<MiningActivity>, StoreError> {
    crate::rows::by_ids::<mining_activities::Entity>(db, ids).await
}

/// How many mining activities the user has per assessment among `assessment_ids`.
pub async fn mining_for(
    db: &impl ConnectionTrait,
    user_id: &str,
    assessment_id: &str,
) -> Result<Vec<MiningActivity>, StoreError> {
    Ok(mining_activities::Entity::find()
        .filter(mining_activities::Column::UserId.eq(user_id))
        .filter(mining_activities::Column::AssessmentId.eq(assessment_id))
        .all(db)
        .await?)
}
