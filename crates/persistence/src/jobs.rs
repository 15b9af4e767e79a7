//! Durable jobs (`ai_jobs`): queued AI work that outlives requests and servers.
//!
//! A worker **claims** due jobs by taking a lease: one `UPDATE ... WHERE id IN (SELECT ...)
//! RETURNING *` that moves PENDING jobs whose `run_at` has come, and RUNNING jobs whose lease
//! expired (their server died), to RUNNING under the worker's `lease_owner` and a new
//! `lease_until`, counting the attempt. On PostgreSQL the inner select locks the rows it picks
//! with `FOR UPDATE SKIP LOCKED`, so several instances claiming at once never take the same job;
//! SQLite serialises writers, so the plain statement is enough there.
//!
//! A claim is identified by its owner and its attempt number ([`Lease`]): every later write
//! ([`renew`], [`finish`], [`retry_later`]) is conditional on both and on the job still being
//! RUNNING, so a worker whose lease expired and was taken over writes nothing, and a cancelled
//! job stays cancelled.

use chrono::{DateTime, Utc};
use core_domain::{ids, time};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, Set, Statement,
};

use crate::StoreError;
use crate::entity::ai_jobs::{self, Column, Entity};

pub use ai_jobs::Model as Job;

pub const PENDING: &str = "PENDING";
pub const RUNNING: &str = "RUNNING";
pub const DONE: &str = "DONE";
pub const FAILED: &str = "FAILED";
pub const CANCELLED: &str = "CANCELLED";

/// One claim of a job: which worker holds it, for which attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub job_id: String,
    pub owner: String,
    pub attempt: i32,
}

impl Lease {
    pub fn of(job: &Job) -> Self {
        Self {
            job_id: job.id.clone(),
            owner: job.lease_owner.clone().unwrap_or_default(),
            attempt: job.attempts,
        }
    }
}

/// Queues a job for `subject_id`, due now.
pub async fn enqueue(
    db: &impl ConnectionTrait,
    kind: &str,
    subject_id: &str,
    user_id: Option<&str>,
    max_attempts: i32,
) -> Result<Job, StoreError> {
    let now = time::now();
    Ok(ai_jobs::ActiveModel {
        id: Set(ids::new_id()),
        kind: Set(kind.to_owned()),
        subject_id: Set(subject_id.to_owned()),
        user_id: Set(user_id.map(str::to_owned)),
        status: Set(PENDING.to_owned()),
        attempts: Set(0),
        max_attempts: Set(max_attempts.max(1)),
        run_at: Set(now),
        lease_owner: Set(None),
        lease_until: Set(None),
        last_error: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?)
}

/// Queues a job for `subject_id` already claimed by `owner` until `lease_until` (attempt 0): the
/// request that queues it still has work to do before the job may run (storing an upload's
/// bytes), and hands it over with [`release`]. Should that request's server die first, the lease
/// expires and a worker claims the job like any other whose server died.
pub async fn enqueue_held(
    db: &impl ConnectionTrait,
    kind: &str,
    subject_id: &str,
    user_id: Option<&str>,
    max_attempts: i32,
    owner: &str,
    lease_until: DateTime<Utc>,
) -> Result<Job, StoreError> {
    let now = time::now();
    Ok(ai_jobs::ActiveModel {
        id: Set(ids::new_id()),
        kind: Set(kind.to_owned()),
        subject_id: Set(subject_id.to_owned()),
        user_id: Set(user_id.map(str::to_owned)),
        status: Set(RUNNING.to_owned()),
        attempts: Set(0),
        max_attempts: Set(max_attempts.max(1)),
        run_at: Set(now),
        lease_owner: Set(Some(owner.to_owned())),
        lease_until: Set(Some(lease_until)),
        last_error: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?)
}

/// Hands a held job to the workers: PENDING, due now, its lease cleared; false when the lease was
/// lost meanwhile.
pub async fn release(db: &impl ConnectionTrait, lease: &Lease) -> Result<bool, StoreError> {
    let res = held(lease)
        .col_expr(Column::Status, Expr::value(PENDING))
        .col_expr(Column::RunAt, Expr::value(time::now()))
        .col_expr(Column::LeaseOwner, Expr::value(Option::<String>::None))
        .col_expr(
            Column::LeaseUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .exec(db)
        .await?;
    Ok(res.rows_affected > 0)
}

/// Claims up to `limit` due jobs for `owner` until `lease_until` (see the module docs).
pub async fn claim(
    db: &impl ConnectionTrait,
    owner: &str,
    lease_until: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<Job>, StoreError> {
    let now = time::now();
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            r#"UPDATE "ai_jobs" SET "status" = 'RUNNING', "lease_owner" = $1, "lease_until" = $2,
                "attempts" = "attempts" + 1, "updated_at" = $3
              WHERE "id" IN (SELECT "id" FROM "ai_jobs"
                WHERE ("status" = 'PENDING' AND "run_at" <= $3)
                   OR ("status" = 'RUNNING' AND "lease_until" < $3)
                ORDER BY "run_at" LIMIT $4 FOR UPDATE SKIP LOCKED)
              RETURNING *"#
        }
        _ => {
            r#"UPDATE "ai_jobs" SET "status" = 'RUNNING', "lease_owner" = ?1, "lease_until" = ?2,
                "attempts" = "attempts" + 1, "updated_at" = ?3
              WHERE "id" IN (SELECT "id" FROM "ai_jobs"
                WHERE ("status" = 'PENDING' AND "run_at" <= ?3)
                   OR ("status" = 'RUNNING' AND "lease_until" < ?3)
                ORDER BY "run_at" LIMIT ?4)
              RETURNING *"#
        }
    };
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let stmt = Statement::from_sql_and_values(
        backend,
        sql,
        [owner.into(), lease_until.into(), now.into(), limit.into()],
    );
    Ok(Entity::find().from_raw_sql(stmt).all(db).await?)
}

/// The update of a job under `lease`: only while it is RUNNING and still this claim.
fn held(lease: &Lease) -> sea_orm::UpdateMany<Entity> {
    Entity::update_many()
        .col_expr(Column::UpdatedAt, Expr::value(time::now()))
        .filter(Column::Id.eq(lease.job_id.as_str()))
        .filter(Column::Status.eq(RUNNING))
        .filter(Column::LeaseOwner.eq(lease.owner.as_str()))
        .filter(Column::Attempts.eq(lease.attempt))
}

/// Extends the lease; false when it was lost (expired and taken over, or the job cancelled).
pub async fn renew(
    db: &impl ConnectionTrait,
    lease: &Lease,
    lease_until: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let res = held(lease)
        .col_expr(Column::LeaseUntil, Expr::value(lease_until))
        .exec(db)
        .await?;
    Ok(res.rows_affected > 0)
}

/// Ends the job as DONE or FAILED (with `error`) under `lease`; false (nothing written) when the
/// lease was lost. Run it in the transaction that writes the job's result, and roll back on false.
pub async fn finish(
    db: &impl ConnectionTrait,
    lease: &Lease,
    status: &str,
    error: Option<&str>,
) -> Result<bool, StoreError> {
    let res = held(lease)
        .col_expr(Column::Status, Expr::value(status))
        .col_expr(Column::LeaseOwner, Expr::value(Option::<String>::None))
        .col_expr(
            Column::LeaseUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(Column::LastError, Expr::value(error.map(str::to_owned)))
        .exec(db)
        .await?;
    Ok(res.rows_affected > 0)
}

/// Puts the job back in the queue, due at `run_at`, after a failure; false when the lease was lost.
pub async fn retry_later(
    db: &impl ConnectionTrait,
    lease: &Lease,
    run_at: DateTime<Utc>,
    error: &str,
) -> Result<bool, StoreError> {
    let res = held(lease)
        .col_expr(Column::Status, Expr::value(PENDING))
        .col_expr(Column::RunAt, Expr::value(run_at))
        .col_expr(Column::LeaseOwner, Expr::value(Option::<String>::None))
        .col_expr(
            Column::LeaseUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(Column::LastError, Expr::value(error.to_owned()))
        .exec(db)
        .await?;
    Ok(res.rows_affected > 0)
}

/// Cancels the subject's queued or running jobs; how many were cancelled.
pub async fn cancel_active(db: &impl ConnectionTrait, subject_id: &str) -> Result<u64, StoreError> {
    let res = Entity::update_many()
        .col_expr(Column::Status, Expr::value(CANCELLED))
        .col_expr(Column::LeaseOwner, Expr::value(Option::<String>::None))
        .col_expr(
            Column::LeaseUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(Column::UpdatedAt, Expr::value(time::now()))
        .filter(Column::SubjectId.eq(subject_id))
        .filter(Column::Status.is_in([PENDING, RUNNING]))
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}

/// The subject's jobs, oldest first.
pub async fn for_subject(
    db: &impl ConnectionTrait,
    subject_id: &str,
) -> Result<Vec<Job>, StoreError> {
    Ok(Entity::find()
        .filter(Column::SubjectId.eq(subject_id))
        .order_by_asc(Column::CreatedAt)
        .order_by_asc(Column::Id)
        .all(db)
        .await?)
}

pub async fn find(db: &impl ConnectionTrait, id: &str) -> Result<Option<Job>, StoreError> {
    Ok(Entity::find_by_id(id.to_owned()).one(db).await?)
}

/// How many jobs wait (PENDING), run (RUNNING) and have failed (FAILED), in one grouped
/// statement: the queue depths `/metrics` and `serverStatus` show.
pub async fn depths(db: &impl ConnectionTrait) -> Result<(i64, i64, i64), StoreError> {
    use sea_orm::{FromQueryResult, QuerySelect};
    #[derive(FromQueryResult)]
    struct Depth {
        status: String,
        n: i64,
    }
    let rows = Entity::find()
        .select_only()
        .column(Column::Status)
        .column_as(Column::Id.count(), "n")
        .filter(Column::Status.is_in([PENDING, RUNNING, FAILED]))
        .group_by(Column::Status)
        .into_model::<Depth>()
        .all(db)
        .await?;
    let of = |s: &str| rows.iter().find(|r| r.status == s).map_or(0, |r| r.n);
    Ok((of(PENDING), of(RUNNING), of(FAILED)))
}
