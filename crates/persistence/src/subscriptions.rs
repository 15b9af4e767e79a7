//! Subscriptions (OptiMind): every user has one, created lazily on the FREE plan, running in
//! calendar-month periods (UTC). Usage is counted per metric and period in `subscription_usage`
//! (one counter row per subscription, metric and period, incremented in place), so a new period
//! starts new counters and the old ones stay as history.
//!
//! Counters move in the transaction of what they count: AI tokens when a call's usage row is
//! written (`usage::insert` calls [`add_usage`]), upload bytes when an upload is accepted
//! ([`add_usage_within`], which refuses atomically past a limit), analyses when one is created
//! (`add_usage(conn, user_id, ANALYSES, 1)`, or [`add_usage_within`] to enforce the plan).

use chrono::{DateTime, Datelike, TimeZone, Utc};
use core_domain::{ids, time};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};

use crate::StoreError;
use crate::entity::subscription_usage as usage;
use crate::entity::subscriptions::{self, Column, Entity};

pub use subscriptions::Model as Subscription;
pub use usage::Model as SubscriptionUsage;

/// AI tokens (prompt + reply) of every call, as billed.
pub const TOKENS: &str = "ai_tokens";
/// Analyses and solution runs started.
pub const ANALYSES: &str = "analyses";
/// Bytes uploaded.
pub const UPLOAD_BYTES: &str = "upload_bytes";

/// The plan every user starts on.
pub const DEFAULT_PLAN: &str = "FREE";

/// The calendar month (UTC) holding `at`: its first instant and the next month's.
pub fn month_of(at: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    let start = Utc
        .with_ymd_and_hms(at.year(), at.month(), 1, 0, 0, 0)
        .single()
        .unwrap_or(at);
    let (y, m) = if at.month() == 12 {
        (at.year() + 1, 1)
    } else {
        (at.year(), at.month() + 1)
    };
    let end = Utc
        .with_ymd_and_hms(y, m, 1, 0, 0, 0)
        .single()
        .unwrap_or(at);
    (start, end)
}

/// The name of the period starting at `start` (`2026-12`): the `period` of usage counters and
/// of the plan's token budget.
pub fn period_key(start: DateTime<Utc>) -> String {
    start.format("%Y-%m").to_string()
}

/// The user's subscription, created on the FREE plan if they have none, and rolled over to the
/// current period if its period has ended (a subscription cancelled at period end becomes FREE
/// then). Safe under concurrency: creation is insert-or-nothing on the unique `user_id`, and a
/// rollover only applies to the period it read.
pub async fn current(db: &impl ConnectionTrait, user_id: &str) -> Result<Subscription, StoreError> {
    let now = time::now();
    let found = Entity::find()
        .filter(Column::UserId.eq(user_id))
        .one(db)
        .await?;
    let sub = match found {
        Some(s) => s,
        None => {
            let (start, end) = month_of(now);
            let row = subscriptions::ActiveModel {
                id: Set(ids::new_id()),
                user_id: Set(user_id.to_owned()),
                plan: Set(DEFAULT_PLAN.to_owned()),
                status: Set("ACTIVE".to_owned()),
                current_period_start: Set(start),
                current_period_end: Set(end),
                cancel_at_period_end: Set(false),
                metadata: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
            };
            Entity::insert(row)
                .on_conflict_do_nothing_on([Column::UserId])
                .exec_without_returning(db)
                .await?;
            Entity::find()
                .filter(Column::UserId.eq(user_id))
                .one(db)
                .await?
                .ok_or_else(|| {
                    StoreError::Db(sea_orm::DbErr::RecordNotFound("subscription".into()))
                })?
        }
    };
    if now < sub.current_period_end {
        return Ok(sub);
    }
    let (start, end) = month_of(now);
    let mut update = Entity::update_many()
        .col_expr(Column::CurrentPeriodStart, Expr::value(start))
        .col_expr(Column::CurrentPeriodEnd, Expr::value(end))
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .filter(Column::Id.eq(sub.id.as_str()))
        .filter(Column::CurrentPeriodEnd.eq(sub.current_period_end));
    if sub.cancel_at_period_end {
        update = update
            .col_expr(Column::Plan, Expr::value(DEFAULT_PLAN))
            .col_expr(Column::Status, Expr::value("ACTIVE"))
            .col_expr(Column::CancelAtPeriodEnd, Expr::value(false));
    }
    update.exec(db).await?;
    Entity::find_by_id(sub.id)
        .one(db)
        .await?
        .ok_or_else(|| StoreError::Db(sea_orm::DbErr::RecordNotFound("subscription".into())))
}

/// What an administrator may change on a subscription.
#[derive(Debug, Clone, Default)]
pub struct SubscriptionPatch {
    pub plan: Option<String>,
    pub status: Option<String>,
    pub cancel_at_period_end: Option<bool>,
}

/// Applies `patch` to the user's subscription and returns it; `None` when they have none yet
/// (call [`current`] first, outside the transaction: the UPDATE is then its first statement).
pub async fn update(
    db: &impl ConnectionTrait,
    user_id: &str,
    patch: SubscriptionPatch,
) -> Result<Option<Subscription>, StoreError> {
    let mut update = Entity::update_many()
        .col_expr(Column::UpdatedAt, Expr::value(time::now()))
        .filter(Column::UserId.eq(user_id));
    if let Some(plan) = patch.plan {
        update = update.col_expr(Column::Plan, Expr::value(plan));
    }
    if let Some(status) = patch.status {
        update = update.col_expr(Column::Status, Expr::value(status));
    }
    if let Some(cancel) = patch.cancel_at_period_end {
        update = update.col_expr(Column::CancelAtPeriodEnd, Expr::value(cancel));
    }
    update.exec(db).await?;
    Ok(Entity::find()
        .filter(Column::UserId.eq(user_id))
        .one(db)
        .await?)
}

/// Ensures the counter row of `metric` for the subscription's period exists; returns its id.
async fn counter(
    db: &impl ConnectionTrait,
    sub: &Subscription,
    metric: &str,
) -> Result<String, StoreError> {
    let period = period_key(sub.current_period_start);
    let now = time::now();
    let row = usage::ActiveModel {
        id: Set(ids::new_id()),
        subscription_id: Set(sub.id.clone()),
        metric: Set(metric.to_owned()),
        value: Set(0),
        period: Set(period.clone()),
        created_at: Set(now),
        updated_at: Set(now),
    };
    usage::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([
                usage::Column::SubscriptionId,
                usage::Column::Metric,
                usage::Column::Period,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    usage::Entity::find()
        .filter(usage::Column::SubscriptionId.eq(sub.id.as_str()))
        .filter(usage::Column::Metric.eq(metric))
        .filter(usage::Column::Period.eq(period))
        .one(db)
        .await?
        .map(|r| r.id)
        .ok_or_else(|| StoreError::Db(sea_orm::DbErr::RecordNotFound("usage counter".into())))
}

/// Adds `amount` to the user's `metric` counter for their current period (creating the
/// subscription and the counter when needed). Run it on the transaction of what it counts.
pub async fn add_usage(
    db: &impl ConnectionTrait,
    user_id: &str,
    metric: &str,
    amount: i64,
) -> Result<(), StoreError> {
    if amount == 0 {
        return Ok(());
    }
    let sub = current(db, user_id).await?;
    let id = counter(db, &sub, metric).await?;
    usage::Entity::update_many()
        .col_expr(
            usage::Column::Value,
            Expr::col(usage::Column::Value).add(amount),
        )
        .col_expr(usage::Column::UpdatedAt, Expr::value(time::now()))
        .filter(usage::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Adds `amount` to the user's `metric` counter only if it stays within `limit`: one
/// conditional UPDATE, so concurrent callers can never pass the limit together. False (and
/// nothing counted) when it would.
pub async fn add_usage_within(
    db: &impl ConnectionTrait,
    user_id: &str,
    metric: &str,
    amount: i64,
    limit: i64,
) -> Result<bool, StoreError> {
    let sub = current(db, user_id).await?;
    let id = counter(db, &sub, metric).await?;
    let res = usage::Entity::update_many()
        .col_expr(
            usage::Column::Value,
            Expr::col(usage::Column::Value).add(amount),
        )
        .col_expr(usage::Column::UpdatedAt, Expr::value(time::now()))
        .filter(usage::Column::Id.eq(id))
        .filter(
            Expr::col(usage::Column::Value)
                .add(amount)
                .lte(Expr::value(limit)),
        )
        .exec(db)
        .await?;
    Ok(res.rows_affected > 0)
}

/// The counters of `subscription_id` for `period`, by metric.
pub async fn usage_for(
    db: &impl ConnectionTrait,
    subscription_id: &str,
    period: &str,
) -> Result<Vec<SubscriptionUsage>, StoreError> {
    Ok(usage::Entity::find()
        .filter(usage::Column::SubscriptionId.eq(subscription_id))
        .filter(usage::Column::Period.eq(period))
        .order_by_asc(usage::Column::Metric)
        .all(db)
        .await?)
}

/// One subscriber's use of a metric in a period against their plan's limit.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanQuota {
    pub user_id: String,
    pub plan: String,
    pub used: i64,
    /// None when the plan sets no limit.
    pub limit: Option<i64>,
}

/// Subscribers' counters of `metric` in `period`, the fullest (used over their plan's limit)
/// first, at most `max`; with `min_ratio`, only those at or over it. `limits` gives each plan's
/// limit (stored spelling; absent or None: unlimited, ratio 0). One statement: the limits go in
/// as a CASE, so the ratio, the filter and the order are the database's.
pub async fn quotas(
    db: &impl ConnectionTrait,
    metric: &str,
    period: &str,
    limits: &[(String, Option<i64>)],
    min_ratio: Option<f64>,
    max: u64,
) -> Result<Vec<PlanQuota>, StoreError> {
    use sea_orm::{DbBackend, Statement, Value};
    let backend = db.get_database_backend();
    let mut values: Vec<Value> = Vec::new();
    let mut bind = |v: Value| {
        values.push(v);
        match backend {
            DbBackend::Postgres => format!("${}", values.len()),
            _ => "?".to_owned(),
        }
    };
    let mut case = String::from("CASE s.plan");
    for (plan, limit) in limits {
        let when = bind(plan.clone().into());
        let then = match limit {
            Some(l) => format!("CAST({} AS BIGINT)", bind((*l).into())),
            None => "NULL".to_owned(),
        };
        case.push_str(&format!(" WHEN {when} THEN {then}"));
    }
    case.push_str(" ELSE NULL END");
    let metric = bind(metric.to_owned().into());
    let period = bind(period.to_owned().into());
    let ratio = "(CASE WHEN q.lim > 0 THEN (1.0 * q.used) / q.lim ELSE 0 END)";
    let near = match min_ratio {
        Some(r) => format!(" WHERE {ratio} >= {}", bind(r.into())),
        None => String::new(),
    };
    let text = format!(
        "SELECT q.user_id, q.plan, q.used, q.lim FROM (\
           SELECT s.user_id AS user_id, s.plan AS plan, u.value AS used, {case} AS lim \
           FROM subscription_usage u JOIN subscriptions s ON s.id = u.subscription_id \
           WHERE u.metric = {metric} AND u.period = {period}) q\
         {near} ORDER BY {ratio} DESC, q.used DESC, q.user_id LIMIT {max}"
    );
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(backend, text, values))
        .await?;
    rows.iter()
        .map(|r| {
            Ok(PlanQuota {
                user_id: r.try_get("", "user_id")?,
                plan: r.try_get("", "plan")?,
                used: r.try_get("", "used")?,
                limit: r.try_get("", "lim")?,
            })
        })
        .collect()
}
