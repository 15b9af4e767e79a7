//! Analytics over GraphQL: the `analytics` root (staff and administrators) with `usage`,
//! `activity`, `quotas`, `telemetry`, `funnel` and the top-N lists; `serverStatus`
//! (administrators); and the usage types other areas show (`Message.usage`, `User.usage`,
//! `Invitation.usageTotals`, `UsageRecordConnection.totals`), each read through the request's
//! totals loader. Resolvers parse, make one service call and wrap.
//!
//! Analytics answers are plain lists, not connections: their length is bounded by the range cap
//! and the row cap (`service::MAX_ROWS`), and each costs a fixed amount of the complexity budget
//! ([`ANALYTICS_COST`]) so one request cannot run many of them.

use std::str::FromStr;
use std::sync::Arc;

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::loaders::TotalsKey;
use super::service::{
    self, ActivityBucket, ActivityDim, AnalyticsService, Audience, Range, RangeSpec, TopUsageBy,
    TotalsBy, UsageDim, UsageFilter, UsageTotals,
};
use crate::accounts::graphql::{User, user_link};
use crate::billing::graphql::UsageMetric;
use crate::billing::plans::Plan;
use crate::error::ApiResult;
use crate::graphql::context::{ContextExt, load_one};
use crate::graphql::ids::{self, Kind};
use crate::graphql::scalars::StreamType;

/// What one analytics field costs in the complexity budget (the default budget allows a few
/// dozen per request).
pub const ANALYTICS_COST: usize = 5_000;

fn analytics<'a>(ctx: &'a Context<'_>) -> ApiResult<&'a AnalyticsService> {
    Ok(&ctx.services()?.analytics)
}

/// Micro-dollars as a decimal string of dollars (`1234567` → `"1.234567"`), exact.
pub fn dollars(micros: i64) -> String {
    let sign = if micros < 0 { "-" } else { "" };
    let abs = micros.unsigned_abs();
    format!("{sign}{}.{:06}", abs / 1_000_000, abs % 1_000_000)
}

// ---------------------------------------------------------------------------------------------
// Inputs and enums.

/// How rows are grouped in time.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum AnalyticsBucket {
    Hour,
    Day,
    /// ISO weeks, starting on Monday.
    Week,
    Month,
}

impl From<AnalyticsBucket> for service::Bucket {
    fn from(b: AnalyticsBucket) -> Self {
        match b {
            AnalyticsBucket::Hour => Self::Hour,
            AnalyticsBucket::Day => Self::Day,
            AnalyticsBucket::Week => Self::Week,
            AnalyticsBucket::Month => Self::Month,
        }
    }
}

/// A time range `[from, to)`, cut into buckets that start at local midnight (or the local hour)
/// in `timeZone`. Longest range: 93 days of HOUR buckets, 400 of DAY, 5 years of WEEK, 10 of
/// MONTH.
#[derive(InputObject, Clone, Debug)]
#[graphql(name = "AnalyticsRangeInput")]
pub struct AnalyticsRange {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    #[graphql(default_with = "AnalyticsBucket::Day")]
    pub bucket: AnalyticsBucket,
    /// An IANA time zone, e.g. `Europe/Paris`.
    #[graphql(default_with = "String::from(\"UTC\")")]
    pub time_zone: String,
}

impl AnalyticsRange {
    fn parse(&self) -> ApiResult<Range> {
        service::range(&RangeSpec {
            from: self.from,
            to: self.to,
            bucket: self.bucket.into(),
            time_zone: self.time_zone.clone(),
        })
    }
}

/// What usage can be grouped by.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum UsageDimension {
    Provider,
    Model,
    StreamType,
    /// Chat, practice scenarios, titles, analyses.
    AppArea,
    User,
    Invitation,
    Scenario,
    /// The project of the call's conversation (OptiMind).
    Project,
    /// The plan the call's user is on now (calls do not record the plan they ran under; null
    /// for calls without a user).
    Plan,
}

impl From<UsageDimension> for UsageDim {
    fn from(d: UsageDimension) -> Self {
        match d {
            UsageDimension::Provider => Self::Provider,
            UsageDimension::Model => Self::Model,
            UsageDimension::StreamType => Self::StreamType,
            UsageDimension::AppArea => Self::AppArea,
            UsageDimension::User => Self::User,
            UsageDimension::Invitation => Self::Invitation,
            UsageDimension::Scenario => Self::Scenario,
            UsageDimension::Project => Self::Project,
            UsageDimension::Plan => Self::Plan,
        }
    }
}

/// The part of the product an AI call served.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum AppArea {
    Chat,
    /// A practice scenario's partner or coach.
    Scenario,
    /// Naming a conversation.
    Title,
    Analysis,
    Other,
}

impl AppArea {
    fn as_str(self) -> &'static str {
        match self {
            Self::Chat => "chat",
            Self::Scenario => "scenario",
            Self::Title => "title",
            Self::Analysis => "analysis",
            Self::Other => "other",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "chat" => Self::Chat,
            "scenario" => Self::Scenario,
            "title" => Self::Title,
            "analysis" => Self::Analysis,
            _ => Self::Other,
        }
    }
}

/// Which AI calls count (every list empty or absent: all of them; several lists: calls that
/// match each).
#[derive(InputObject, Clone, Debug, Default)]
#[graphql(name = "UsageFilterInput")]
pub struct UsageFilterInput {
    pub providers: Option<Vec<String>>,
    pub models: Option<Vec<String>>,
    pub stream_types: Option<Vec<StreamType>>,
    pub app_areas: Option<Vec<AppArea>>,
    /// Calls made for these users.
    pub user_ids: Option<Vec<ID>>,
    /// Calls made under these invitations.
    pub invitation_ids: Option<Vec<ID>>,
    /// Calls of conversations of these practice scenarios.
    pub scenario_ids: Option<Vec<ID>>,
    /// Calls of conversations of these projects.
    pub project_ids: Option<Vec<ID>>,
    /// Calls of users now on these plans.
    pub plans: Option<Vec<Plan>>,
}

/// What activity can be grouped by. Each measure is grouped by what its own records carry:
/// conversations, messages and practice sessions by their conversation's user, invitation,
/// scenario, project and persona; new users by the account; journals by their author and
/// persona; analyses by their user and project. A measure whose records do not carry a grouped
/// dimension is null (or an empty list) in the rows.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum ActivityDimension {
    User,
    /// The plan the user is on now (activity does not record the plan it happened under).
    Plan,
    Invitation,
    Scenario,
    Project,
    Persona,
}

impl From<ActivityDimension> for ActivityDim {
    fn from(d: ActivityDimension) -> Self {
        match d {
            ActivityDimension::User => Self::User,
            ActivityDimension::Plan => Self::Plan,
            ActivityDimension::Invitation => Self::Invitation,
            ActivityDimension::Scenario => Self::Scenario,
            ActivityDimension::Project => Self::Project,
            ActivityDimension::Persona => Self::Persona,
        }
    }
}

/// Whose activity counts (every list empty or absent: everyone's; several lists: what matches
/// each). A filter by invitation, scenario or project counts conversations and their messages
/// and sessions only (`newUsers` and `journalsSaved` are then null; analyses count under a
/// project filter).
#[derive(InputObject, Clone, Debug, Default)]
#[graphql(name = "ActivityFilterInput")]
pub struct ActivityFilterInput {
    /// These users' conversations, accounts, journals and analyses.
    pub user_ids: Option<Vec<ID>>,
    /// Conversations under these invitations.
    pub invitation_ids: Option<Vec<ID>>,
    /// Conversations of these practice scenarios.
    pub scenario_ids: Option<Vec<ID>>,
    /// Conversations and analyses of these projects.
    pub project_ids: Option<Vec<ID>>,
    /// The activity of users now on these plans.
    pub plans: Option<Vec<Plan>>,
}

impl ActivityFilterInput {
    fn parse(self) -> ApiResult<service::ActivityScope> {
        let f = self;
        Ok(service::ActivityScope {
            research_only: false,
            user_ids: decode_all(f.user_ids, Kind::User, "userIds")?,
            invitation_ids: decode_all(f.invitation_ids, Kind::Invitation, "invitationIds")?,
            scenario_ids: decode_all(f.scenario_ids, Kind::Scenario, "scenarioIds")?,
            project_ids: decode_all(f.project_ids, Kind::Project, "projectIds")?,
            plans: f
                .plans
                .unwrap_or_default()
                .into_iter()
                .map(|p| p.as_str().to_owned())
                .collect(),
        })
    }
}

fn decode_all(ids: Option<Vec<ID>>, kind: Kind, field: &'static str) -> ApiResult<Vec<String>> {
    ids.unwrap_or_default()
        .iter()
        .map(|id| ids::decode(id, kind, field))
        .collect()
}

impl UsageFilterInput {
    fn parse(self) -> ApiResult<UsageFilter> {
        let f = self;
        Ok(UsageFilter {
            user_ids: decode_all(f.user_ids, Kind::User, "userIds")?,
            invitation_ids: decode_all(f.invitation_ids, Kind::Invitation, "invitationIds")?,
            scenario_ids: decode_all(f.scenario_ids, Kind::Scenario, "scenarioIds")?,
            project_ids: decode_all(f.project_ids, Kind::Project, "projectIds")?,
            plans: f
                .plans
                .unwrap_or_default()
                .into_iter()
                .map(|p| p.as_str().to_owned())
                .collect(),
            providers: f.providers.unwrap_or_default(),
            models: f.models.unwrap_or_default(),
            stream_types: f
                .stream_types
                .unwrap_or_default()
                .into_iter()
                .map(|s| core_domain::enums::StreamType::from(s).as_str().to_owned())
                .collect(),
            app_areas: f
                .app_areas
                .unwrap_or_default()
                .into_iter()
                .map(|a| a.as_str().to_owned())
                .collect(),
            research_only: false,
            user_id: None,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Usage rows.

/// The group a usage row counts: only the dimensions asked for in `groupBy` are set.
#[derive(Clone, Default)]
pub struct UsageDimensions {
    provider: Option<String>,
    model: Option<String>,
    stream_type: Option<String>,
    app_area: Option<String>,
    user_id: Option<String>,
    invitation_id: Option<String>,
    scenario_id: Option<String>,
    project_id: Option<String>,
    plan: Option<String>,
}

#[Object]
impl UsageDimensions {
    async fn provider(&self) -> Option<&str> {
        self.provider.as_deref()
    }
    async fn model(&self) -> Option<&str> {
        self.model.as_deref()
    }
    async fn stream_type(&self) -> Option<StreamType> {
        self.stream_type
            .as_deref()
            .and_then(|s| core_domain::enums::StreamType::from_str(s).ok())
            .map(Into::into)
    }
    async fn app_area(&self) -> Option<AppArea> {
        self.app_area.as_deref().map(AppArea::parse)
    }
    /// The user the calls were made for (grouped by USER; null for calls with no user).
    async fn user_id(&self) -> Option<ID> {
        self.user_id
            .as_deref()
            .map(|id| ids::encode(Kind::User, id))
    }
    /// The user, when the caller may see that account (one batched look-up per answer).
    async fn user(&self, ctx: &Context<'_>) -> ApiResult<Option<User>> {
        user_link(ctx, self.user_id.as_deref()).await
    }
    async fn invitation_id(&self) -> Option<ID> {
        self.invitation_id
            .as_deref()
            .map(|id| ids::encode(Kind::Invitation, id))
    }
    async fn scenario_id(&self) -> Option<ID> {
        self.scenario_id
            .as_deref()
            .map(|id| ids::encode(Kind::Scenario, id))
    }
    /// The project of the calls' conversation (grouped by PROJECT; null for calls outside one).
    async fn project_id(&self) -> Option<ID> {
        self.project_id
            .as_deref()
            .map(|id| ids::encode(Kind::Project, id))
    }
    /// The plan the calls' user is on now (grouped by PLAN; null for calls without a user).
    async fn plan(&self) -> Option<Plan> {
        self.plan.as_deref().map(Plan::parse)
    }
}

/// Sums over a group of AI calls.
#[derive(SimpleObject, Clone, Debug, Default)]
pub struct UsageValues {
    pub calls: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub total_tokens: i64,
    /// The known costs, in millionths of a US dollar.
    pub cost_micros: i64,
    /// The known costs in US dollars, as an exact decimal string (`"0.012345"`).
    pub cost: String,
    /// Calls whose model has no known price: their cost is not in `cost` (never counted as 0).
    pub unknown_cost_calls: i64,
    /// The median provider latency, in milliseconds (continuous percentile); null when no call
    /// reported one, or when the answer came from the daily rollup.
    pub latency_p50_ms: Option<f64>,
    /// The 95th percentile of provider latency, in milliseconds.
    pub latency_p95_ms: Option<f64>,
}

fn round3(v: Option<f64>) -> Option<f64> {
    v.map(|v| (v * 1000.0).round() / 1000.0)
}

/// One bucket and group of usage.
#[derive(SimpleObject, Clone)]
pub struct UsageRow {
    /// When the bucket starts.
    pub bucket: DateTime<Utc>,
    /// The bucket in the query's time zone: `2026-03-29T14:00` (HOUR), `2026-03-29` (DAY, and
    /// WEEK: its Monday), `2026-03` (MONTH).
    pub bucket_label: String,
    pub dimensions: UsageDimensions,
    pub values: UsageValues,
}

fn usage_row(range: &Range, dims: &[UsageDim], row: service::UsageRow) -> UsageRow {
    let (bucket, bucket_label) = range.bucket_start(row.bucket);
    let mut d = UsageDimensions::default();
    for (dim, value) in dims.iter().zip(row.dims) {
        match dim {
            UsageDim::Provider => d.provider = value,
            UsageDim::Model => d.model = value,
            UsageDim::StreamType => d.stream_type = value,
            UsageDim::AppArea => d.app_area = value,
            UsageDim::User => d.user_id = value,
            UsageDim::Invitation => d.invitation_id = value,
            UsageDim::Scenario => d.scenario_id = value,
            UsageDim::Project => d.project_id = value,
            UsageDim::Plan => d.plan = value,
        }
    }
    UsageRow {
        bucket,
        bucket_label,
        dimensions: d,
        values: UsageValues {
            calls: row.calls,
            input_tokens: row.input_tokens,
            output_tokens: row.output_tokens,
            total_tokens: row.input_tokens + row.output_tokens,
            cost_micros: row.cost_micros,
            cost: dollars(row.cost_micros),
            unknown_cost_calls: row.unknown_cost_calls,
            latency_p50_ms: round3(row.latency_p50_ms),
            latency_p95_ms: round3(row.latency_p95_ms),
        },
    }
}

// ---------------------------------------------------------------------------------------------
// Activity, telemetry, quotas, top-N.

/// How many messages of one role.
#[derive(SimpleObject, Clone)]
pub struct RoleCount {
    /// `USER`, `ASSISTANT`, `PARTNER`, `COACH`, `SYSTEM`.
    pub role: String,
    pub count: i64,
}

/// How many of something in one status.
#[derive(SimpleObject, Clone)]
pub struct StatusCount {
    pub status: String,
    pub count: i64,
}

/// What happened in one bucket.
#[derive(SimpleObject, Clone)]
pub struct ActivityValues {
    /// Distinct users who sent a message.
    pub active_users: i64,
    /// Accounts created; null for staff (only research data is theirs to see), under a filter
    /// by invitation, scenario or project, and when grouped by invitation, scenario, project or
    /// persona.
    pub new_users: Option<i64>,
    pub conversations_started: i64,
    pub messages_by_role: Vec<RoleCount>,
    /// Practice sessions that ended COMPLETED / ABANDONED in the bucket.
    pub sessions_completed: i64,
    pub sessions_abandoned: i64,
    /// The median duration of the sessions that ended in the bucket, in seconds.
    pub median_session_seconds: Option<f64>,
    /// Journal entries saved; null for staff, under a filter by invitation, scenario or
    /// project, and when grouped by invitation, scenario or project.
    pub journals_saved: Option<i64>,
    /// Analyses created, by status; empty for staff, under a filter by invitation or scenario,
    /// and when grouped by invitation, scenario or persona.
    pub analyses_by_status: Vec<StatusCount>,
}

/// The group an activity row counts: only the dimensions asked for in `groupBy` are set.
#[derive(Clone, Default)]
pub struct ActivityDimensions {
    user_id: Option<String>,
    plan: Option<String>,
    invitation_id: Option<String>,
    scenario_id: Option<String>,
    project_id: Option<String>,
    persona_id: Option<String>,
}

/// The group an activity row counts: only the dimensions asked for in `groupBy` are set.
#[Object]
impl ActivityDimensions {
    /// The user whose activity this is (grouped by USER).
    async fn user_id(&self) -> Option<ID> {
        self.user_id
            .as_deref()
            .map(|id| ids::encode(Kind::User, id))
    }
    /// The user, when the caller may see that account (one batched look-up per answer).
    async fn user(&self, ctx: &Context<'_>) -> ApiResult<Option<User>> {
        user_link(ctx, self.user_id.as_deref()).await
    }
    /// The plan the user is on now (grouped by PLAN).
    async fn plan(&self) -> Option<Plan> {
        self.plan.as_deref().map(Plan::parse)
    }
    /// The invitation of the conversations (grouped by INVITATION; null outside one).
    async fn invitation_id(&self) -> Option<ID> {
        self.invitation_id
            .as_deref()
            .map(|id| ids::encode(Kind::Invitation, id))
    }
    /// The practice scenario of the conversations (grouped by SCENARIO; null for chats).
    async fn scenario_id(&self) -> Option<ID> {
        self.scenario_id
            .as_deref()
            .map(|id| ids::encode(Kind::Scenario, id))
    }
    /// The project of the conversations and analyses (grouped by PROJECT; null outside one).
    async fn project_id(&self) -> Option<ID> {
        self.project_id
            .as_deref()
            .map(|id| ids::encode(Kind::Project, id))
    }
    /// The persona of the conversations and journals (grouped by PERSONA; null without one).
    async fn persona_id(&self) -> Option<ID> {
        self.persona_id
            .as_deref()
            .map(|id| ids::encode(Kind::Persona, id))
    }
}

/// Activity in one bucket and group.
#[derive(SimpleObject, Clone)]
pub struct ActivityRow {
    pub bucket: DateTime<Utc>,
    pub bucket_label: String,
    pub dimensions: ActivityDimensions,
    pub values: ActivityValues,
}

fn activity_row(range: &Range, dims: &[ActivityDim], b: ActivityBucket) -> ActivityRow {
    let (bucket, bucket_label) = range.bucket_start(b.bucket);
    let mut d = ActivityDimensions::default();
    for (dim, value) in dims.iter().zip(b.dims) {
        match dim {
            ActivityDim::User => d.user_id = value,
            ActivityDim::Plan => d.plan = value,
            ActivityDim::Invitation => d.invitation_id = value,
            ActivityDim::Scenario => d.scenario_id = value,
            ActivityDim::Project => d.project_id = value,
            ActivityDim::Persona => d.persona_id = value,
        }
    }
    ActivityRow {
        bucket,
        bucket_label,
        dimensions: d,
        values: ActivityValues {
            active_users: b.active_users,
            new_users: b.new_users,
            conversations_started: b.conversations_started,
            messages_by_role: b
                .messages_by_role
                .into_iter()
                .map(|(role, count)| RoleCount { role, count })
                .collect(),
            sessions_completed: b.sessions_completed,
            sessions_abandoned: b.sessions_abandoned,
            median_session_seconds: round3(b.median_session_seconds),
            journals_saved: b.journals_saved,
            analyses_by_status: b
                .analyses_by_status
                .into_iter()
                .map(|(status, count)| StatusCount { status, count })
                .collect(),
        },
    }
}

/// How many telemetry events of one name happened in one bucket.
#[derive(SimpleObject, Clone)]
pub struct TelemetryCountRow {
    pub bucket: DateTime<Utc>,
    pub bucket_label: String,
    pub name: String,
    pub count: i64,
}

/// How many users reached one step of a funnel.
#[derive(SimpleObject, Clone)]
pub struct FunnelStepRow {
    /// The event name of the step.
    pub name: String,
    pub users: i64,
    /// `users` of this step over `users` of the first (1 for the first step; 0 when nobody
    /// entered the funnel).
    pub conversion: f64,
}

/// `used / limit`; 0 without a (positive) limit.
fn share(used: i64, limit: Option<i64>) -> f64 {
    match limit {
        Some(l) if l > 0 => used as f64 / l as f64,
        _ => 0.0,
    }
}

/// Whether `used` reached `threshold` of a (positive) limit; never without one.
fn is_near(used: i64, limit: Option<i64>, threshold: f64) -> bool {
    limit.is_some_and(|l| l > 0) && share(used, limit) >= threshold
}

/// An invitation's token quota: its limit, what it used and what is reserved for calls running
/// now.
#[derive(Clone)]
pub struct QuotaRow(service::QuotaRow, f64);

#[Object]
impl QuotaRow {
    async fn invitation_id(&self) -> ID {
        ids::encode(Kind::Invitation, &self.0.invitation_id)
    }
    async fn label(&self) -> Option<&str> {
        self.0.label.as_deref()
    }
    /// Null until the invitation's first call sets up its budget.
    async fn limit_tokens(&self) -> Option<i64> {
        self.0.limit_tokens
    }
    async fn used_tokens(&self) -> i64 {
        self.0.used_tokens
    }
    async fn reserved_tokens(&self) -> i64 {
        self.0.reserved_tokens
    }
    /// `usedTokens / limitTokens` (0 without a limit).
    async fn ratio(&self) -> f64 {
        share(self.0.used_tokens, self.0.limit_tokens)
    }
    /// Whether the ratio reached the query's `nearLimit` threshold.
    async fn near_limit(&self) -> bool {
        is_near(self.0.used_tokens, self.0.limit_tokens, self.1)
    }
}

/// A subscriber's use of one plan metric this month against their plan's limit.
#[derive(Clone)]
pub struct PlanQuotaRow(service::PlanQuota, f64, String);

#[Object]
impl PlanQuotaRow {
    async fn user_id(&self) -> ID {
        ids::encode(Kind::User, &self.0.user_id)
    }
    /// The subscriber, when the caller may see that account.
    async fn user(&self, ctx: &Context<'_>) -> ApiResult<Option<User>> {
        user_link(ctx, Some(&self.0.user_id)).await
    }
    async fn plan(&self) -> Plan {
        Plan::parse(&self.0.plan)
    }
    /// The period counted: the calendar month (UTC), `2026-12`.
    async fn period(&self) -> &str {
        &self.2
    }
    async fn used(&self) -> i64 {
        self.0.used
    }
    /// Null when the plan sets no limit on the metric.
    async fn limit(&self) -> Option<i64> {
        self.0.limit
    }
    /// `used / limit` (0 without a limit).
    async fn ratio(&self) -> f64 {
        share(self.0.used, self.0.limit)
    }
    /// Whether the ratio reached the query's `nearLimit` threshold.
    async fn near_limit(&self) -> bool {
        is_near(self.0.used, self.0.limit, self.1)
    }
}

/// A user ranked by the tokens of their AI calls.
#[derive(Clone)]
pub struct TopUserRow(service::TopUsage);

#[Object]
impl TopUserRow {
    async fn user_id(&self) -> Option<ID> {
        self.0.key.as_deref().map(|id| ids::encode(Kind::User, id))
    }
    /// The user, when the caller may see that account.
    async fn user(&self, ctx: &Context<'_>) -> ApiResult<Option<User>> {
        user_link(ctx, self.0.key.as_deref()).await
    }
    async fn values(&self) -> UsageValues {
        top_values(&self.0)
    }
}

/// A model ranked by the known cost of its calls.
#[derive(Clone)]
pub struct TopModelRow(service::TopUsage);

#[Object]
impl TopModelRow {
    async fn provider(&self) -> Option<&str> {
        self.0.provider.as_deref()
    }
    async fn model(&self) -> Option<&str> {
        self.0.key.as_deref()
    }
    async fn values(&self) -> UsageValues {
        top_values(&self.0)
    }
}

fn top_values(t: &service::TopUsage) -> UsageValues {
    UsageValues {
        calls: t.calls,
        input_tokens: t.input_tokens,
        output_tokens: t.output_tokens,
        total_tokens: t.input_tokens + t.output_tokens,
        cost_micros: t.cost_micros,
        cost: dollars(t.cost_micros),
        unknown_cost_calls: t.unknown_cost_calls,
        latency_p50_ms: None,
        latency_p95_ms: None,
    }
}

/// A conversation ranked by the messages written in it during the range.
#[derive(Clone)]
pub struct TopConversationRow(service::TopConversation);

#[Object]
impl TopConversationRow {
    async fn conversation_id(&self) -> ID {
        ids::encode(Kind::Conversation, &self.0.conversation_id)
    }
    async fn user_id(&self) -> Option<ID> {
        self.0
            .user_id
            .as_deref()
            .map(|id| ids::encode(Kind::User, id))
    }
    async fn messages(&self) -> i64 {
        self.0.messages
    }
}

// ---------------------------------------------------------------------------------------------
// The root.

/// Aggregates over usage, activity, quotas and telemetry, for staff (research data: invitation
/// sessions) and administrators (everything).
pub struct Analytics(Audience);

#[Object]
impl Analytics {
    /// AI calls per bucket, grouped by `groupBy`: calls, tokens, cost and latency percentiles.
    /// Staff see calls made under invitations only.
    #[graphql(complexity = "ANALYTICS_COST + child_complexity")]
    async fn usage(
        &self,
        ctx: &Context<'_>,
        range: AnalyticsRange,
        #[graphql(desc = "What to group by within each bucket (none: one row per bucket).")]
        group_by: Option<Vec<UsageDimension>>,
        filter: Option<UsageFilterInput>,
    ) -> ApiResult<Vec<UsageRow>> {
        let range = range.parse()?;
        let mut dims: Vec<UsageDim> = Vec::new();
        for d in group_by.unwrap_or_default() {
            let d = UsageDim::from(d);
            if !dims.contains(&d) {
                dims.push(d);
            }
        }
        let values = ctx.look_ahead().field("values");
        let percentiles =
            values.field("latencyP50Ms").exists() || values.field("latencyP95Ms").exists();
        let filter = filter.unwrap_or_default().parse()?;
        let rows = analytics(ctx)?
            .usage(self.0, &range, dims.clone(), filter, percentiles)
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| usage_row(&range, &dims, r))
            .collect())
    }

    /// Who was active per bucket, grouped by `groupBy`: users, conversations, messages by role,
    /// practice sessions ended, journals and analyses. Staff see invitation sessions only.
    #[graphql(complexity = "ANALYTICS_COST + child_complexity")]
    async fn activity(
        &self,
        ctx: &Context<'_>,
        range: AnalyticsRange,
        #[graphql(desc = "What to group by within each bucket (none: one row per bucket).")]
        group_by: Option<Vec<ActivityDimension>>,
        filter: Option<ActivityFilterInput>,
    ) -> ApiResult<Vec<ActivityRow>> {
        let range = range.parse()?;
        let mut dims: Vec<ActivityDim> = Vec::new();
        for d in group_by.unwrap_or_default() {
            let d = ActivityDim::from(d);
            if !dims.contains(&d) {
                dims.push(d);
            }
        }
        let filter = filter.unwrap_or_default().parse()?;
        let rows = analytics(ctx)?
            .activity(self.0, &range, dims.clone(), filter)
            .await?;
        Ok(rows
            .into_iter()
            .map(|b| activity_row(&range, &dims, b))
            .collect())
    }

    /// Invitations' token quotas, the fullest first; with `nearLimit`, only those that used at
    /// least that share of their limit (e.g. 0.8).
    #[graphql(complexity = "ANALYTICS_COST + child_complexity")]
    async fn quotas(
        &self,
        ctx: &Context<'_>,
        near_limit: Option<f64>,
        #[graphql(default = 100)] limit: i32,
    ) -> ApiResult<Vec<QuotaRow>> {
        let rows = analytics(ctx)?
            .quotas(self.0, near_limit, u64::try_from(limit.max(0)).unwrap_or(0))
            .await?;
        let threshold = near_limit.unwrap_or(0.8);
        Ok(rows.into_iter().map(|r| QuotaRow(r, threshold)).collect())
    }

    /// Subscribers' use of a plan's monthly allowance (`metric`, default AI tokens) this
    /// calendar month against their plan's limit, the fullest first; with `nearLimit`, only those
    /// that used at least that share of it (e.g. 0.8). Administrators only.
    #[graphql(complexity = "ANALYTICS_COST + child_complexity")]
    async fn plan_quotas(
        &self,
        ctx: &Context<'_>,
        metric: Option<UsageMetric>,
        near_limit: Option<f64>,
        #[graphql(default = 100)] limit: i32,
    ) -> ApiResult<Vec<PlanQuotaRow>> {
        let metric = metric.unwrap_or(UsageMetric::AiTokens).stored();
        let (period, rows) = analytics(ctx)?
            .plan_quotas(
                self.0,
                metric,
                near_limit,
                u64::try_from(limit.max(0)).unwrap_or(0),
            )
            .await?;
        let threshold = near_limit.unwrap_or(0.8);
        Ok(rows
            .into_iter()
            .map(|r| PlanQuotaRow(r, threshold, period.clone()))
            .collect())
    }

    /// Telemetry events per bucket and name (only `names`, when given).
    #[graphql(complexity = "ANALYTICS_COST + child_complexity")]
    async fn telemetry(
        &self,
        ctx: &Context<'_>,
        range: AnalyticsRange,
        names: Option<Vec<String>>,
    ) -> ApiResult<Vec<TelemetryCountRow>> {
        let range = range.parse()?;
        let rows = analytics(ctx)?
            .events(&range, &names.unwrap_or_default())
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let (bucket, bucket_label) = range.bucket_start(r.bucket);
                TelemetryCountRow {
                    bucket,
                    bucket_label,
                    name: r.name,
                    count: r.count,
                }
            })
            .collect())
    }

    /// How many users went through each step in order within `[from, to)`: step 1 counts users
    /// with an event named `steps[0]`, each next step those of the previous step with an event
    /// of its name at or after their first event of the previous one. Anonymous events do not
    /// count. At most 10 steps.
    #[graphql(complexity = "ANALYTICS_COST + child_complexity")]
    async fn funnel(
        &self,
        ctx: &Context<'_>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        steps: Vec<String>,
    ) -> ApiResult<Vec<FunnelStepRow>> {
        let steps = analytics(ctx)?.funnel(from, to, steps).await?;
        let first = steps.first().map_or(0, |s| s.users);
        Ok(steps
            .into_iter()
            .map(|s| FunnelStepRow {
                conversion: if first > 0 {
                    s.users as f64 / first as f64
                } else {
                    0.0
                },
                name: s.name,
                users: s.users,
            })
            .collect())
    }

    /// The users whose AI calls used the most tokens in `[from, to)` (at most 100).
    #[graphql(complexity = "ANALYTICS_COST + child_complexity")]
    async fn heaviest_users(
        &self,
        ctx: &Context<'_>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        #[graphql(default = 10)] limit: i32,
    ) -> ApiResult<Vec<TopUserRow>> {
        let rows = analytics(ctx)?
            .top_usage(self.0, TopUsageBy::UsersByTokens, from, to, limit_of(limit))
            .await?;
        Ok(rows.into_iter().map(TopUserRow).collect())
    }

    /// The models whose calls cost the most in `[from, to)` (known costs; at most 100).
    #[graphql(complexity = "ANALYTICS_COST + child_complexity")]
    async fn costliest_models(
        &self,
        ctx: &Context<'_>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        #[graphql(default = 10)] limit: i32,
    ) -> ApiResult<Vec<TopModelRow>> {
        let rows = analytics(ctx)?
            .top_usage(self.0, TopUsageBy::ModelsByCost, from, to, limit_of(limit))
            .await?;
        Ok(rows.into_iter().map(TopModelRow).collect())
    }

    /// The conversations with the most messages written in `[from, to)` (at most 100).
    #[graphql(complexity = "ANALYTICS_COST + child_complexity")]
    async fn longest_conversations(
        &self,
        ctx: &Context<'_>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        #[graphql(default = 10)] limit: i32,
    ) -> ApiResult<Vec<TopConversationRow>> {
        let rows = analytics(ctx)?
            .longest_conversations(self.0, from, to, limit_of(limit))
            .await?;
        Ok(rows.into_iter().map(TopConversationRow).collect())
    }
}

fn limit_of(limit: i32) -> u64 {
    u64::try_from(limit).unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// Server status.

/// A gateway instance serving this database.
#[derive(SimpleObject, Clone)]
pub struct InstanceStatus {
    /// The instance's own id (random at each start).
    pub instance_id: String,
    pub version: String,
    pub started_at: DateTime<Utc>,
    pub seen_at: DateTime<Utc>,
}

/// An AI provider the server is set up to call.
#[derive(SimpleObject, Clone)]
pub struct ProviderStatus {
    /// `anthropic`, `openai`, `local`, or a configured OpenAI-compatible name.
    pub name: String,
    /// Whether the server holds its own key for it (the key itself is never shown).
    pub server_key: bool,
}

/// Work waiting or running.
#[derive(SimpleObject, Clone)]
pub struct QueueDepths {
    /// Replies being generated now, on every instance.
    pub streaming_replies: i64,
    /// Reply streams this instance is running.
    pub streams_in_flight: i64,
    pub jobs_queued: i64,
    pub jobs_running: i64,
    pub jobs_failed: i64,
}

/// The server as an operator sees it.
#[derive(SimpleObject, Clone)]
pub struct ServerStatus {
    pub version: String,
    /// `sqlite` or `postgresql`.
    pub database: String,
    /// How many schema migrations are applied, of those this version knows.
    pub migrations_applied: i32,
    pub migrations_known: i32,
    /// The last migration applied.
    pub migration_level: Option<String>,
    /// The instance that answered.
    pub instance_id: String,
    pub started_at: DateTime<Utc>,
    /// Instances that reported in recently (several on PostgreSQL).
    pub instances: Vec<InstanceStatus>,
    pub queues: QueueDepths,
    pub providers: Vec<ProviderStatus>,
}

impl From<service::ServerStatus> for ServerStatus {
    fn from(s: service::ServerStatus) -> Self {
        ServerStatus {
            version: s.version.to_owned(),
            database: s.database.to_owned(),
            migrations_applied: i32::try_from(s.migrations_applied).unwrap_or(i32::MAX),
            migrations_known: i32::try_from(s.migrations_known).unwrap_or(i32::MAX),
            migration_level: s.last_migration,
            instance_id: s.instance_id,
            started_at: s.started_at,
            instances: s
                .instances
                .into_iter()
                .map(|i| InstanceStatus {
                    instance_id: i.id,
                    version: i.version,
                    started_at: i.started_at,
                    seen_at: i.seen_at,
                })
                .collect(),
            queues: QueueDepths {
                streaming_replies: s.streaming_replies,
                streams_in_flight: s.streams_in_flight,
                jobs_queued: s.jobs.queued,
                jobs_running: s.jobs.running,
                jobs_failed: s.jobs.failed,
            },
            providers: s
                .providers
                .into_iter()
                .map(|p| ProviderStatus {
                    name: p.id,
                    server_key: p.server_key,
                })
                .collect(),
        }
    }
}

#[derive(Default)]
pub struct AnalyticsQuery;

#[Object]
impl AnalyticsQuery {
    /// Internal analytics: staff see research data (invitation sessions), administrators
    /// everything; anyone else is FORBIDDEN.
    async fn analytics(&self, ctx: &Context<'_>) -> ApiResult<Analytics> {
        let audience = analytics(ctx)?.audience(ctx.request()?.actor())?;
        Ok(Analytics(audience))
    }

    /// The server's version, database and migration level, instances, queues and providers
    /// (administrators only).
    async fn server_status(&self, ctx: &Context<'_>) -> ApiResult<ServerStatus> {
        Ok(analytics(ctx)?
            .server_status(ctx.request()?.actor())
            .await?
            .into())
    }
}

// ---------------------------------------------------------------------------------------------
// Usage where users look for it.

/// What AI calls used: tokens and cost.
#[derive(SimpleObject, Clone, Debug)]
pub struct UsageSummary {
    pub calls: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub total_tokens: i64,
    /// Known costs in millionths of a US dollar.
    pub cost_micros: i64,
    /// Known costs in US dollars, an exact decimal string.
    pub cost: String,
    /// Calls whose price is unknown (not in `cost`).
    pub unknown_cost_calls: i64,
}

impl UsageSummary {
    fn of(t: Option<&UsageTotals>) -> Self {
        let t = t.cloned().unwrap_or_default();
        UsageSummary {
            calls: t.calls,
            input_tokens: t.input_tokens,
            output_tokens: t.output_tokens,
            total_tokens: t.input_tokens + t.output_tokens,
            cost_micros: t.cost_micros,
            cost: dollars(t.cost_micros),
            unknown_cost_calls: t.unknown_cost_calls,
        }
    }
}

/// What producing one message cost: the AI call (or calls) behind it.
#[derive(SimpleObject, Clone, Debug)]
pub struct MessageUsage {
    pub input_tokens: i64,
    pub output_tokens: i64,
    /// Millionths of a US dollar; null when the model's price is unknown.
    pub cost_micros: Option<i64>,
    /// US dollars as an exact decimal string; null when the price is unknown.
    pub cost: Option<String>,
    pub model: Option<String>,
    pub provider: Option<String>,
    /// How long the provider took, in milliseconds.
    pub latency_ms: Option<i64>,
}

async fn totals(ctx: &Context<'_>, key: TotalsKey) -> ApiResult<Option<Arc<UsageTotals>>> {
    load_one(&ctx.loaders()?.usage_totals, key).await
}

/// `Message.usage`: the usage behind a message the caller already reads (null for messages no
/// AI call produced). One statement for every message of a level.
pub async fn message_usage(ctx: &Context<'_>, message_id: &str) -> ApiResult<Option<MessageUsage>> {
    let key = TotalsKey {
        by: TotalsBy::Message,
        id: message_id.to_owned(),
        range: None,
    };
    Ok(totals(ctx, key).await?.map(|t| MessageUsage {
        input_tokens: t.input_tokens,
        output_tokens: t.output_tokens,
        cost_micros: (t.unknown_cost_calls == 0).then_some(t.cost_micros),
        cost: (t.unknown_cost_calls == 0).then(|| dollars(t.cost_micros)),
        model: t.model.clone(),
        provider: t.provider.clone(),
        latency_ms: t.latency_ms,
    }))
}

/// `User.usage(from, to)`: a user's AI usage, for themselves and administrators (null for
/// anyone else). One statement for every user of a level.
pub async fn user_usage(
    ctx: &Context<'_>,
    user_id: &str,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> ApiResult<Option<UsageSummary>> {
    if !AnalyticsService::may_read_user_usage(ctx.request()?.actor(), user_id) {
        return Ok(None);
    }
    let range = AnalyticsService::totals_range(from, to)?;
    let key = TotalsKey {
        by: TotalsBy::User,
        id: user_id.to_owned(),
        range,
    };
    Ok(Some(UsageSummary::of(totals(ctx, key).await?.as_deref())))
}

/// Usage totals of an invitation (`Invitation.usageTotals`) or a conversation
/// (`UsageRecordConnection.totals`) the caller already reads.
pub async fn usage_of(ctx: &Context<'_>, by: TotalsBy, id: &str) -> ApiResult<UsageSummary> {
    let key = TotalsKey {
        by,
        id: id.to_owned(),
        range: None,
    };
    Ok(UsageSummary::of(totals(ctx, key).await?.as_deref()))
}
