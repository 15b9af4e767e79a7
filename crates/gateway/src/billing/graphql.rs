//! Plans over GraphQL: `mySubscription`, `cancelSubscription`, and the administrators'
//! `setSubscription`.

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::plans::Plan;
use super::service::{
    BillingService, SubscriptionChanges, SubscriptionStatus, SubscriptionView, UsageLine,
};
use crate::error::ApiResult;
use crate::graphql::context::ContextExt;
use crate::graphql::ids::{self, Kind};

fn billing<'a>(ctx: &'a Context<'_>) -> ApiResult<&'a BillingService> {
    Ok(&ctx.services()?.billing)
}

/// What a plan meters.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageMetric {
    /// Tokens (prompt + reply) of every AI call: chat, practice sessions, analyses.
    AiTokens,
    /// Analyses and solution runs started.
    Analyses,
    /// Bytes of files uploaded.
    UploadBytes,
}

impl UsageMetric {
    /// The metric's stored name (`subscription_usage.metric`).
    pub fn stored(self) -> &'static str {
        match self {
            UsageMetric::AiTokens => super::service::TOKENS,
            UsageMetric::Analyses => super::service::ANALYSES,
            UsageMetric::UploadBytes => super::service::UPLOAD_BYTES,
        }
    }

    fn of(metric: &str) -> Self {
        [Self::Analyses, Self::UploadBytes]
            .into_iter()
            .find(|m| m.stored() == metric)
            .unwrap_or(Self::AiTokens)
    }
}

/// How much of one metric the subscription used this period, and what the plan allows.
#[derive(SimpleObject)]
pub struct SubscriptionUsage {
    pub metric: UsageMetric,
    /// The period counted (`2026-12`: periods are calendar months, UTC).
    pub period: String,
    pub value: i64,
    /// The plan's limit for the period; null when the plan sets none.
    pub limit: Option<i64>,
}

impl From<&UsageLine> for SubscriptionUsage {
    fn from(u: &UsageLine) -> Self {
        SubscriptionUsage {
            metric: UsageMetric::of(u.metric),
            period: u.period.clone(),
            value: u.value,
            limit: u.limit,
        }
    }
}

/// A user's plan and what they used of it this period. (Named `PlanSubscription`:
/// `Subscription` is GraphQL's root type of live updates.)
pub struct PlanSubscription(pub SubscriptionView);

#[Object]
impl PlanSubscription {
    async fn plan(&self) -> Plan {
        self.0.plan
    }
    async fn status(&self) -> SubscriptionStatus {
        SubscriptionStatus::parse(&self.0.subscription.status)
    }
    async fn current_period_start(&self) -> DateTime<Utc> {
        self.0.subscription.current_period_start
    }
    async fn current_period_end(&self) -> DateTime<Utc> {
        self.0.subscription.current_period_end
    }
    /// True once cancelled: the plan runs until the period ends, then FREE.
    async fn cancel_at_period_end(&self) -> bool {
        self.0.subscription.cancel_at_period_end
    }
    /// This period's use of every metered allowance (always the three metrics: a short,
    /// fixed list, not a connection).
    async fn usage(&self) -> Vec<SubscriptionUsage> {
        self.0.usage.iter().map(SubscriptionUsage::from).collect()
    }
}

#[derive(Default)]
pub struct BillingQuery;

#[Object]
impl BillingQuery {
    /// Your plan and this period's usage (every account has one: FREE unless set).
    async fn my_subscription(&self, ctx: &Context<'_>) -> ApiResult<PlanSubscription> {
        let caller = ctx.request()?.require()?;
        Ok(PlanSubscription(billing(ctx)?.mine(caller).await?))
    }
}

#[derive(SimpleObject)]
pub struct CancelSubscriptionPayload {
    pub subscription: PlanSubscription,
}

#[derive(InputObject)]
pub struct SetSubscriptionInput {
    /// The user whose subscription changes.
    pub user_id: ID,
    pub plan: Option<Plan>,
    pub status: Option<SubscriptionStatus>,
    pub cancel_at_period_end: Option<bool>,
}

#[derive(SimpleObject)]
pub struct SetSubscriptionPayload {
    pub subscription: PlanSubscription,
}

#[derive(Default)]
pub struct BillingMutation;

#[Object]
impl BillingMutation {
    /// Cancels your paid plan at the end of the current period (FREE cannot be cancelled).
    async fn cancel_subscription(&self, ctx: &Context<'_>) -> ApiResult<CancelSubscriptionPayload> {
        let caller = ctx.request()?.require()?;
        let view = billing(ctx)?.cancel(caller).await?;
        Ok(CancelSubscriptionPayload {
            subscription: PlanSubscription(view),
        })
    }

    /// Sets a user's plan, status or cancellation (administrators only). A new plan applies
    /// at once, to this period's allowances too.
    async fn set_subscription(
        &self,
        ctx: &Context<'_>,
        input: SetSubscriptionInput,
    ) -> ApiResult<SetSubscriptionPayload> {
        let user_id = ids::decode(&input.user_id, Kind::User, "userId")?;
        let caller = ctx.request()?.require()?;
        let view = billing(ctx)?
            .set(
                caller,
                &user_id,
                SubscriptionChanges {
                    plan: input.plan,
                    status: input.status,
                    cancel_at_period_end: input.cancel_at_period_end,
                },
            )
            .await?;
        Ok(SetSubscriptionPayload {
            subscription: PlanSubscription(view),
        })
    }
}
