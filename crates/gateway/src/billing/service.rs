//! Plans and metering. Every user has a subscription (FREE until an administrator sets
//! another plan), running in calendar-month periods; its usage counters are kept per metric and
//! period (`persistence::subscriptions`). The plan's monthly AI tokens are a budget like the
//! daily one ([`plan_budget`], joined to every AI call's reservation by
//! `ChatService::budgets_for`); its upload bytes are counted and refused past the limit when a
//! file is accepted ([`charge_upload`]); analyses are counted by whoever starts them
//! (`persistence::subscriptions::add_usage(conn, user_id, ANALYSES, 1)`).

use std::sync::Arc;

use core_domain::policy::{self, Action, Resource};
use persistence::budgets::{self, BudgetKey};
use persistence::notifications::{self, NewNotification};
use persistence::sea_orm::{ConnectionTrait, DatabaseTransaction, TransactionTrait};
use persistence::subscriptions::{self, SubscriptionPatch};
use persistence::{Db, StoreError, users};
use serde_json::json;

use super::plans::{Plan, Plans};
use crate::accounts::Caller;
use crate::error::{ApiError, ApiResult};
use crate::platform::audit;
use crate::platform::events::{ChangeEvent, EventBus};

pub use persistence::subscriptions::{ANALYSES, Subscription, TOKENS, UPLOAD_BYTES};

/// What plans meter, in the order a subscription's usage lists them.
pub const METRICS: [&str; 3] = [TOKENS, ANALYSES, UPLOAD_BYTES];

/// Opens a transaction on `db`.
pub(crate) async fn begin(db: &Db) -> ApiResult<DatabaseTransaction> {
    Ok(db.conn().begin().await.map_err(StoreError::from)?)
}

/// A subscription status.
#[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscriptionStatus {
    Active,
    Cancelled,
    Expired,
    Pending,
}

impl SubscriptionStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            SubscriptionStatus::Active => "ACTIVE",
            SubscriptionStatus::Cancelled => "CANCELLED",
            SubscriptionStatus::Expired => "EXPIRED",
            SubscriptionStatus::Pending => "PENDING",
        }
    }

    pub fn parse(s: &str) -> Self {
        match s {
            "CANCELLED" => SubscriptionStatus::Cancelled,
            "EXPIRED" => SubscriptionStatus::Expired,
            "PENDING" => SubscriptionStatus::Pending,
            _ => SubscriptionStatus::Active,
        }
    }
}

/// One metric's use in the current period, against the plan's limit (None: unlimited).
#[derive(Debug, Clone)]
pub struct UsageLine {
    pub metric: &'static str,
    pub period: String,
    pub value: i64,
    pub limit: Option<i64>,
}

/// A subscription with its plan and this period's usage.
#[derive(Debug, Clone)]
pub struct SubscriptionView {
    pub subscription: Subscription,
    pub plan: Plan,
    pub usage: Vec<UsageLine>,
}

/// What `setSubscription` changes; `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct SubscriptionChanges {
    pub plan: Option<Plan>,
    pub status: Option<SubscriptionStatus>,
    pub cancel_at_period_end: Option<bool>,
}

pub struct BillingService {
    db: Db,
    plans: Arc<Plans>,
    events: EventBus,
}

impl BillingService {
    pub fn new(db: Db, plans: Arc<Plans>, events: EventBus) -> Self {
        Self { db, plans, events }
    }

    /// The caller's subscription (created on FREE when they have none).
    pub async fn mine(&self, caller: &Caller) -> ApiResult<SubscriptionView> {
        let sub = subscriptions::current(self.db.conn(), &caller.actor.user_id).await?;
        self.view(sub).await
    }

    async fn view(&self, subscription: Subscription) -> ApiResult<SubscriptionView> {
        let plan = Plan::parse(&subscription.plan);
        let ent = self.plans.get(plan);
        let period = subscriptions::period_key(subscription.current_period_start);
        let rows = subscriptions::usage_for(self.db.conn(), &subscription.id, &period).await?;
        let value = |metric: &str| {
            rows.iter()
                .find(|r| r.metric == metric)
                .map_or(0, |r| r.value)
        };
        let usage = METRICS
            .into_iter()
            .map(|metric| UsageLine {
                metric,
                period: period.clone(),
                value: value(metric),
                limit: ent.limit(metric),
            })
            .collect();
        Ok(SubscriptionView {
            subscription,
            plan,
            usage,
        })
    }

    /// Cancels the caller's paid plan at the end of the period: it runs until then, and the
    /// next period starts on FREE. The FREE plan cannot be cancelled (CONFLICT).
    pub async fn cancel(&self, caller: &Caller) -> ApiResult<SubscriptionView> {
        let user_id = &caller.actor.user_id;
        let sub = subscriptions::current(self.db.conn(), user_id).await?;
        if Plan::parse(&sub.plan) == Plan::Free {
            return Err(ApiError::Conflict(
                "the FREE plan cannot be cancelled".into(),
            ));
        }
        let txn = begin(&self.db).await?;
        let sub = subscriptions::update(
            &txn,
            user_id,
            SubscriptionPatch {
                cancel_at_period_end: Some(true),
                ..SubscriptionPatch::default()
            },
        )
        .await?
        .ok_or(ApiError::NotFound)?;
        audit::record(
            &txn,
            Some(user_id),
            "subscription.cancelled",
            "Subscription",
            &sub.id,
            json!({ "plan": sub.plan, "periodEnd": sub.current_period_end }),
        )
        .await?;
        txn.commit().await.map_err(StoreError::from)?;
        self.publish(&sub);
        self.view(sub).await
    }

    /// Sets a user's plan, status or cancellation (ADMIN only: FORBIDDEN for anyone else;
    /// NOT_FOUND for a user that does not exist). A new plan applies at once, to this period's
    /// budget too; the user is notified.
    pub async fn set(
        &self,
        caller: &Caller,
        user_id: &str,
        changes: SubscriptionChanges,
    ) -> ApiResult<SubscriptionView> {
        if !policy::can(
            Some(&caller.actor),
            Action::Update,
            &Resource::Administration,
        ) {
            return Err(ApiError::Forbidden("only administrators set subscriptions"));
        }
        if users::find(self.db.conn(), user_id).await?.is_none() {
            return Err(ApiError::NotFound);
        }
        subscriptions::current(self.db.conn(), user_id).await?;
        let txn = begin(&self.db).await?;
        let sub = subscriptions::update(
            &txn,
            user_id,
            SubscriptionPatch {
                plan: changes.plan.map(|p| p.as_str().to_owned()),
                status: changes.status.map(|s| s.as_str().to_owned()),
                cancel_at_period_end: changes.cancel_at_period_end,
            },
        )
        .await?
        .ok_or(ApiError::NotFound)?;
        if let Some(key) = plan_key(&self.plans, &sub) {
            budgets::set_limit(&txn, &key).await?;
        }
        audit::record(
            &txn,
            Some(&caller.actor.user_id),
            "subscription.set",
            "Subscription",
            &sub.id,
            json!({
                "userId": user_id,
                "plan": sub.plan,
                "status": sub.status,
                "cancelAtPeriodEnd": sub.cancel_at_period_end,
            }),
        )
        .await?;
        let note = notifications::create(
            &txn,
            NewNotification {
                user_id: user_id.to_owned(),
                kind: "SYSTEM".into(),
                title: format!("Your plan is now {}", sub.plan),
                body: format!(
                    "Your subscription is on the {} plan ({}).",
                    sub.plan, sub.status
                ),
                data: Some(json!({ "plan": sub.plan })),
            },
        )
        .await?;
        txn.commit().await.map_err(StoreError::from)?;
        self.publish(&sub);
        self.events.publish_change(ChangeEvent {
            kind: "notification".into(),
            id: note.id,
            owner_id: Some(user_id.to_owned()),
        });
        self.view(sub).await
    }

    fn publish(&self, sub: &Subscription) {
        self.events.publish_change(ChangeEvent {
            kind: "subscription".into(),
            id: sub.id.clone(),
            owner_id: Some(sub.user_id.clone()),
        });
    }
}

/// The plan budget of `sub`'s period, or None for a plan without a token limit.
fn plan_key(plans: &Plans, sub: &Subscription) -> Option<BudgetKey> {
    let limit = plans.get(Plan::parse(&sub.plan)).monthly_ai_tokens?;
    Some(BudgetKey::plan_monthly(
        &sub.user_id,
        &subscriptions::period_key(sub.current_period_start),
        limit,
    ))
}

/// The user's plan token budget for the current period (None when their plan has no limit):
/// what every AI call reserves against besides the daily budget.
pub async fn plan_budget(
    db: &impl ConnectionTrait,
    plans: &Plans,
    user_id: &str,
) -> ApiResult<Option<BudgetKey>> {
    let sub = subscriptions::current(db, user_id).await?;
    Ok(plan_key(plans, &sub))
}

/// The user's plan.
pub async fn plan_of(db: &impl ConnectionTrait, user_id: &str) -> ApiResult<Plan> {
    Ok(Plan::parse(
        &subscriptions::current(db, user_id).await?.plan,
    ))
}

/// Counts `bytes` uploaded by `user_id` this period, refusing (PlanLimit, nothing counted) when
/// the plan's monthly upload bytes would be passed. Atomic under concurrency.
pub async fn charge_upload(
    db: &impl ConnectionTrait,
    plans: &Plans,
    user_id: &str,
    bytes: i64,
) -> ApiResult<()> {
    let plan = plan_of(db, user_id).await?;
    let metric = subscriptions::UPLOAD_BYTES;
    match plans.get(plan).upload_bytes_per_month {
        None => subscriptions::add_usage(db, user_id, metric, bytes).await?,
        Some(limit) => {
            if !subscriptions::add_usage_within(db, user_id, metric, bytes, limit).await? {
                return Err(ApiError::PlanLimit {
                    plan: plan.as_str(),
                    metric,
                });
            }
        }
    }
    Ok(())
}

/// Gives back `bytes` counted by [`charge_upload`] for an upload that failed.
pub async fn refund_upload(db: &impl ConnectionTrait, user_id: &str, bytes: i64) -> ApiResult<()> {
    subscriptions::add_usage(db, user_id, subscriptions::UPLOAD_BYTES, -bytes).await?;
    Ok(())
}
