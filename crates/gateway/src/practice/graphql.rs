//! The practice coach over GraphQL: scenarios, quota presets, invitations, scenario sessions and
//! their lifecycle. Resolvers parse (ids are global, see `graphql::ids`), call
//! [`PracticeService`], and wrap. A session is a `Conversation`: its messages, replies and
//! streams are the conversation's and chat's fields.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::connection::{Connection, ConnectionNameType, Edge, EdgeNameType, EmptyFields};
use async_graphql::{Context, ID, InputObject, Lookahead, Object, OutputType, SimpleObject};
use chrono::{DateTime, Utc};

use super::loaders::{InvitationId, ScenarioId, SessionCountKey, SessionPageKey, session_ordering};
use super::service::{
    self, InvitationInput, InvitationListFilter, PracticeService, PresetInput, PresetUpdate,
    QuotaChoice, ScenarioInput, ScenarioUpdate, can_see_invitation, invitation_ordering, is_staff,
    quota_tokens,
};
use crate::accounts::graphql::{AuthPayload, User, user_link};
use crate::conversations::graphql::{Conversation, connection_selection, prefetch_messages};
use crate::error::{ApiError, ApiResult};
use crate::graphql::connection::{KnownTotal, connection, cursor, list_connection, page_args};
use crate::graphql::context::{ContextExt, load_one};
use crate::graphql::ids::{self, Kind};
use crate::graphql::pages::{Columns, PageQuery, count, page};
use crate::graphql::scalars::{ConversationStatus, Json};

fn practice<'a>(ctx: &'a Context<'_>) -> ApiResult<&'a Arc<PracticeService>> {
    Ok(&ctx.services()?.practice)
}

fn caller<'a>(ctx: &'a Context<'_>) -> ApiResult<&'a crate::accounts::Caller> {
    ctx.request()?.require()
}

/// A practice scenario: a partner persona the learner talks to, and a coach who comments on the
/// learner's turns, each with its own instructions and model.
#[derive(Clone)]
pub struct Scenario(pub Arc<service::Scenario>);

impl From<service::Scenario> for Scenario {
    fn from(s: service::Scenario) -> Self {
        Scenario(Arc::new(s))
    }
}

#[Object]
impl Scenario {
    pub async fn id(&self) -> ID {
        ids::encode(Kind::Scenario, &self.0.id)
    }
    /// The scenario's address: `startScenarioSession` and `scenario(slug:)` take it.
    async fn slug(&self) -> &str {
        &self.0.slug
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn description(&self) -> &str {
        &self.0.description
    }
    /// Who the learner talks to (e.g. "a hiring manager at a mid-size company").
    async fn partner_persona(&self) -> &str {
        &self.0.partner_persona
    }
    async fn partner_system_prompt(&self) -> &str {
        &self.0.partner_system_prompt
    }
    async fn coach_system_prompt(&self) -> &str {
        &self.0.coach_system_prompt
    }
    /// The model the partner answers with.
    async fn partner_model(&self) -> &str {
        &self.0.partner_model
    }
    /// The model the coach comments with.
    async fn coach_model(&self) -> &str {
        &self.0.coach_model
    }
    /// Inactive scenarios are listed to staff only and start no new sessions.
    async fn is_active(&self) -> bool {
        self.0.is_active
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// A token allowance.
#[derive(SimpleObject)]
pub struct Quota {
    /// Tokens (prompt and reply) the allowance covers.
    pub tokens: i64,
    /// A name for the allowance, such as "Short conversation".
    pub label: Option<String>,
}

fn quota_of(v: &serde_json::Value) -> Quota {
    Quota {
        tokens: quota_tokens(v),
        label: v
            .get("label")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned),
    }
}

/// A named quota staff choose from when inviting someone.
#[derive(Clone)]
pub struct QuotaPreset(pub Arc<service::QuotaPreset>);

impl From<service::QuotaPreset> for QuotaPreset {
    fn from(p: service::QuotaPreset) -> Self {
        QuotaPreset(Arc::new(p))
    }
}

#[Object]
impl QuotaPreset {
    pub async fn id(&self) -> ID {
        ids::encode(Kind::QuotaPreset, &self.0.id)
    }
    /// The preset's short name (`short`, `standard`), which `createInvitation(preset:)` takes.
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn label(&self) -> &str {
        &self.0.label
    }
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    async fn quota(&self) -> Quota {
        quota_of(&self.0.quota)
    }
    /// The preset an invitation gets when it names neither a preset nor a quota.
    async fn is_default(&self) -> bool {
        self.0.is_default
    }
    async fn sort_order(&self) -> i32 {
        self.0.sort_order
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// An invitation into a practice programme: a link with a token quota, claimed by one person.
#[derive(Clone)]
pub struct Invitation(pub Arc<service::Invitation>);

impl From<service::Invitation> for Invitation {
    fn from(i: service::Invitation) -> Self {
        Invitation(Arc::new(i))
    }
}

/// Reads ahead, for the invitations of one level (`invitation_ids`), every `sessions` list the
/// query selects on them (`node` is the selection of an invitation), and below those the
/// messages: one statement per level and distinct arguments, whatever the load, as
/// `User.conversations` does (`conversations::graphql::prefetch_conversations`).
async fn prefetch_sessions(
    ctx: &Context<'_>,
    node: &Lookahead<'_>,
    invitation_ids: &[String],
) -> ApiResult<()> {
    if invitation_ids.is_empty() {
        return Ok(());
    }
    let loader = ctx.loaders()?.practice.session_pages.loader();
    for field in node.field("sessions").selection_fields() {
        // Arguments the field's own resolver will refuse are left for it to report.
        let Ok((args, counted)) = connection_selection(&field) else {
            continue;
        };
        let query = Arc::new(PageQuery {
            filter: (),
            order: (),
            args,
            columns: Columns::ALL,
        });
        let rows = loader.prefetch(invitation_ids, &query).await?;
        if counted {
            loader
                .prefetch_counts(invitation_ids, &Arc::new(()))
                .await?;
        }
        let actor = ctx.request()?.actor();
        let ids: Vec<String> = rows
            .iter()
            .filter(|c| crate::conversations::service::can_read(actor, c))
            .map(|c| c.id.clone())
            .collect();
        let below = Lookahead::from(field).field("edges").field("node");
        prefetch_messages(ctx, &below, &ids).await?;
    }
    Ok(())
}

/// `totalCount` of an invitation's sessions, counted only when asked for.
pub struct SessionTotal(SessionCountKey);

#[Object(name = "InvitationSessionTotal")]
impl SessionTotal {
    async fn total_count(&self, ctx: &Context<'_>) -> ApiResult<u64> {
        count(&ctx.loaders()?.practice.session_pages, self.0.clone()).await
    }
}

/// Names the connection of an invitation's sessions (conversations), which must not clash with a
/// user's `ConversationConnection`.
pub struct SessionConnectionName;

impl ConnectionNameType for SessionConnectionName {
    fn type_name<T: OutputType>() -> String {
        "SessionConnection".into()
    }
}

pub struct SessionEdgeName;

impl EdgeNameType for SessionEdgeName {
    fn type_name<T: OutputType>() -> String {
        "SessionEdge".into()
    }
}

pub type SessionConnection = Connection<
    String,
    Conversation,
    SessionTotal,
    EmptyFields,
    SessionConnectionName,
    SessionEdgeName,
>;

impl Invitation {
    fn used_tokens(&self) -> i64 {
        self.0
            .usage
            .get("tokens")
            .and_then(serde_json::Value::as_i64)
            .unwrap_or(0)
    }
}

#[Object]
impl Invitation {
    pub async fn id(&self) -> ID {
        ids::encode(Kind::Invitation, &self.0.id)
    }
    async fn label(&self) -> Option<&str> {
        self.0.label.as_deref()
    }
    /// The token allowance of every call in the invitation's sessions.
    async fn quota(&self) -> Quota {
        quota_of(&self.0.quota)
    }
    /// What the invitation's sessions consumed, as stored (`{"tokens": n}`).
    async fn usage(&self) -> Json {
        Json(self.0.usage.clone())
    }
    /// Tokens consumed so far.
    async fn used(&self) -> i64 {
        self.used_tokens()
    }
    /// Tokens left of the quota.
    async fn remaining(&self) -> i64 {
        (quota_tokens(&self.0.quota) - self.used_tokens()).max(0)
    }
    /// The invitation's AI calls summed: tokens and cost (one statement per level).
    async fn usage_totals(
        &self,
        ctx: &Context<'_>,
    ) -> ApiResult<crate::analytics::graphql::UsageSummary> {
        crate::analytics::graphql::usage_of(
            ctx,
            crate::analytics::service::TotalsBy::Invitation,
            &self.0.id,
        )
        .await
    }
    async fn expires_at(&self) -> DateTime<Utc> {
        self.0.expires_at
    }
    /// Whether the link no longer works.
    async fn expired(&self) -> bool {
        self.0.expires_at <= core_domain::time::now()
    }
    /// Whether someone claimed the invitation.
    async fn claimed(&self) -> bool {
        self.0.linked_user_id.is_some()
    }
    async fn claimed_at(&self) -> Option<DateTime<Utc>> {
        self.0.claimed_at
    }
    /// The id of who claimed it (see `linkedUser`).
    async fn linked_user_id(&self) -> Option<ID> {
        self.0
            .linked_user_id
            .as_deref()
            .map(|id| ids::encode(Kind::User, id))
    }
    /// Who claimed it; null when nobody has, or the caller may not see that user.
    async fn linked_user(&self, ctx: &Context<'_>) -> ApiResult<Option<User>> {
        user_link(ctx, self.0.linked_user_id.as_deref()).await
    }
    async fn created_by_id(&self) -> ID {
        ids::encode(Kind::User, &self.0.created_by_id)
    }
    /// The staff member who created it; null when the caller may not see them.
    async fn created_by(&self, ctx: &Context<'_>) -> ApiResult<Option<User>> {
        user_link(ctx, Some(&self.0.created_by_id)).await
    }
    /// The scenario the invitation is for; null when it is for any scenario.
    async fn scenario(&self, ctx: &Context<'_>) -> ApiResult<Option<Scenario>> {
        scenario_link(ctx, self.0.scenario_id.as_deref()).await
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// The sessions run under this invitation, newest first.
    #[graphql(complexity = "first.or(last).unwrap_or(20).max(0) as usize * child_complexity + 1")]
    async fn sessions(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> ApiResult<SessionConnection> {
        let args = page_args(first, after, last, before)?;
        let key = SessionPageKey {
            parent: self.0.id.clone(),
            query: Arc::new(PageQuery {
                filter: (),
                order: (),
                args,
                columns: Columns::ALL,
            }),
        };
        let mut rows = page(&ctx.loaders()?.practice.session_pages, key).await?;
        let actor = ctx.request()?.actor();
        rows.items
            .retain(|c| crate::conversations::service::can_read(actor, c));
        let total = SessionTotal(SessionCountKey {
            parent: self.0.id.clone(),
            filter: Arc::new(()),
        });
        let name = session_ordering();
        let mut conn: SessionConnection =
            Connection::with_additional_fields(rows.has_previous_page, rows.has_next_page, total);
        conn.edges = rows
            .items
            .into_iter()
            .map(|c| Edge::new(cursor(name, c.created_at, &c.id), Conversation(c)))
            .collect();
        Ok(conn)
    }
}

/// The scenario `id` names, through the request's loader; inactive ones only for staff.
pub async fn scenario_link(ctx: &Context<'_>, id: Option<&str>) -> ApiResult<Option<Scenario>> {
    let Some(id) = id else {
        return Ok(None);
    };
    let row = load_one(&ctx.loaders()?.practice.rows, ScenarioId(id.to_owned())).await?;
    let actor = ctx.request()?.actor();
    Ok(row.filter(|s| s.is_active || is_staff(actor)).map(Scenario))
}

/// The invitation `id` names, when the caller may see it (staff, or who claimed it).
pub async fn invitation_link(ctx: &Context<'_>, id: Option<&str>) -> ApiResult<Option<Invitation>> {
    let (Some(id), Some(actor)) = (id, ctx.request()?.actor()) else {
        return Ok(None);
    };
    let row = load_one(&ctx.loaders()?.practice.rows, InvitationId(id.to_owned())).await?;
    Ok(row.filter(|i| can_see_invitation(actor, i)).map(Invitation))
}

/// Active seconds of a session, pauses excluded (for `Conversation.durationSeconds`).
pub fn duration_seconds(session: &service::Conversation) -> Option<i32> {
    if session.scenario_id.is_none() && session.duration_seconds.is_none() {
        return None;
    }
    Some(service::active_seconds(session, core_domain::time::now()))
}

/// The scenarios, invitations and presets among `ids` the caller may see (for `node`).
pub async fn scenarios_by_ids(
    ctx: &Context<'_>,
    ids: &[String],
) -> ApiResult<HashMap<String, Scenario>> {
    let rows = practice(ctx)?
        .scenarios_by_ids(ctx.request()?.actor(), ids)
        .await?;
    Ok(rows.into_iter().map(|s| (s.id.clone(), s.into())).collect())
}

pub async fn invitations_by_ids(
    ctx: &Context<'_>,
    ids: &[String],
) -> ApiResult<HashMap<String, Invitation>> {
    let rows = practice(ctx)?
        .invitations_by_ids(ctx.request()?.actor(), ids)
        .await?;
    Ok(rows.into_iter().map(|i| (i.id.clone(), i.into())).collect())
}

pub async fn presets_by_ids(
    ctx: &Context<'_>,
    ids: &[String],
) -> ApiResult<HashMap<String, QuotaPreset>> {
    let rows = practice(ctx)?
        .presets_by_ids(ctx.request()?.actor(), ids)
        .await?;
    Ok(rows.into_iter().map(|p| (p.id.clone(), p.into())).collect())
}

pub type ScenarioConnection = Connection<String, Scenario, KnownTotal, EmptyFields>;
pub type QuotaPresetConnection = Connection<String, QuotaPreset, KnownTotal, EmptyFields>;

/// `totalCount` of the invitation list, counted only when asked for.
pub struct InvitationTotal(InvitationListFilter);

#[Object]
impl InvitationTotal {
    async fn total_count(&self, ctx: &Context<'_>) -> ApiResult<u64> {
        practice(ctx)?
            .count_invitations(caller(ctx)?, &self.0)
            .await
    }
}

pub type InvitationConnection = Connection<String, Invitation, InvitationTotal, EmptyFields>;

/// Narrows the invitation list.
#[derive(InputObject, Default)]
pub struct InvitationFilterInput {
    /// Only invitations for this scenario (a slug).
    pub scenario: Option<String>,
    /// Claimed ones (true) or unclaimed ones (false).
    pub claimed: Option<bool>,
    /// Unexpired ones (true) or expired ones (false).
    pub active: Option<bool>,
    /// Only the caller's own invitations.
    pub mine: Option<bool>,
}

#[derive(Default)]
pub struct PracticeQuery;

#[Object]
impl PracticeQuery {
    /// Practice scenarios by name: the active ones; staff see inactive ones too.
    #[graphql(complexity = "first.or(last).unwrap_or(20).max(0) as usize * child_complexity + 1")]
    async fn scenarios(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> ApiResult<ScenarioConnection> {
        let args = page_args(first, after, last, before)?;
        let rows = practice(ctx)?.scenarios(ctx.request()?.actor()).await?;
        list_connection(
            rows,
            &args,
            "scenarios",
            |s| &s.id,
            KnownTotal,
            Scenario::from,
        )
    }

    /// A scenario by slug; null when there is none (or it is inactive and the caller is not
    /// staff).
    async fn scenario(&self, ctx: &Context<'_>, slug: String) -> ApiResult<Option<Scenario>> {
        let row = practice(ctx)?
            .scenario_by_slug(ctx.request()?.actor(), &slug)
            .await?;
        Ok(row.map(Scenario::from))
    }

    /// Quota presets in their order (staff).
    #[graphql(complexity = "first.or(last).unwrap_or(20).max(0) as usize * child_complexity + 1")]
    async fn quota_presets(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> ApiResult<QuotaPresetConnection> {
        let args = page_args(first, after, last, before)?;
        let rows = practice(ctx)?.presets(caller(ctx)?).await?;
        list_connection(
            rows,
            &args,
            "quotaPresets",
            |p| &p.id,
            KnownTotal,
            QuotaPreset::from,
        )
    }

    /// Invitations, newest first, with their quota, usage, claim and sessions (staff).
    #[graphql(complexity = "first.or(last).unwrap_or(20).max(0) as usize * child_complexity + 1")]
    async fn invitations(
        &self,
        ctx: &Context<'_>,
        filter: Option<InvitationFilterInput>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> ApiResult<InvitationConnection> {
        let args = page_args(first, after, last, before)?;
        let me = caller(ctx)?;
        let f = filter.unwrap_or_default();
        let service = practice(ctx)?;
        let scenario_id = match &f.scenario {
            None => None,
            Some(slug) => Some(
                service
                    .scenario_by_slug(Some(&me.actor), slug)
                    .await?
                    .map(|s| s.id)
                    .ok_or_else(|| ApiError::bad_input("filter.scenario", "is not a scenario"))?,
            ),
        };
        let filter = InvitationListFilter {
            scenario_id,
            claimed: f.claimed,
            active: f.active,
            created_by_id: f.mine.unwrap_or(false).then(|| me.actor.user_id.clone()),
        };
        let rows = service.invitations(me, &filter, &args).await?;
        let ids: Vec<String> = rows.items.iter().map(|i| i.id.clone()).collect();
        let node = ctx.look_ahead().field("edges").field("node");
        prefetch_sessions(ctx, &node, &ids).await?;
        let name = invitation_ordering();
        Ok(connection(
            rows,
            InvitationTotal(filter),
            |i| cursor(name, i.created_at, &i.id),
            Invitation::from,
        ))
    }

    /// The invitation the caller claimed (most recent); null when they claimed none.
    async fn my_invitation(&self, ctx: &Context<'_>) -> ApiResult<Option<Invitation>> {
        let row = practice(ctx)?.my_invitation(caller(ctx)?).await?;
        Ok(row.map(Invitation::from))
    }
}

#[derive(InputObject)]
pub struct CreateScenarioInput {
    pub name: String,
    /// Lowercase words joined by hyphens, unique.
    pub slug: String,
    #[graphql(default)]
    pub description: String,
    pub partner_persona: String,
    pub partner_system_prompt: String,
    pub coach_system_prompt: String,
    /// Defaults to the server's default model.
    pub partner_model: Option<String>,
    /// Defaults to the server's default model.
    pub coach_model: Option<String>,
}

#[derive(SimpleObject)]
pub struct CreateScenarioPayload {
    pub scenario: Scenario,
}

#[derive(InputObject)]
pub struct UpdateScenarioInput {
    pub id: ID,
    pub name: Option<String>,
    pub slug: Option<String>,
    pub description: Option<String>,
    pub partner_persona: Option<String>,
    pub partner_system_prompt: Option<String>,
    pub coach_system_prompt: Option<String>,
    pub partner_model: Option<String>,
    pub coach_model: Option<String>,
    /// Reactivates (true) or deactivates (false) the scenario.
    pub is_active: Option<bool>,
}

#[derive(SimpleObject)]
pub struct UpdateScenarioPayload {
    pub scenario: Scenario,
}

#[derive(InputObject)]
pub struct DeactivateScenarioInput {
    pub id: ID,
}

#[derive(SimpleObject)]
pub struct DeactivateScenarioPayload {
    pub scenario: Scenario,
}

#[derive(InputObject)]
pub struct CreateQuotaPresetInput {
    /// Lowercase words joined by hyphens, unique (`short`, `standard`).
    pub name: String,
    pub label: String,
    pub description: Option<String>,
    pub tokens: i64,
    #[graphql(default)]
    pub is_default: bool,
    #[graphql(default)]
    pub sort_order: i32,
}

#[derive(SimpleObject)]
pub struct CreateQuotaPresetPayload {
    pub quota_preset: QuotaPreset,
}

#[derive(InputObject)]
pub struct UpdateQuotaPresetInput {
    pub id: ID,
    pub name: Option<String>,
    pub label: Option<String>,
    pub description: Option<String>,
    pub tokens: Option<i64>,
    /// Making one preset the default unmarks the previous default.
    pub is_default: Option<bool>,
    pub sort_order: Option<i32>,
}

#[derive(SimpleObject)]
pub struct UpdateQuotaPresetPayload {
    pub quota_preset: QuotaPreset,
}

#[derive(InputObject)]
pub struct DeleteQuotaPresetInput {
    pub id: ID,
}

#[derive(SimpleObject)]
pub struct DeleteQuotaPresetPayload {
    pub deleted_quota_preset_id: ID,
}

#[derive(InputObject)]
pub struct QuotaInput {
    pub tokens: i64,
}

#[derive(InputObject)]
pub struct CreateInvitationInput {
    /// The scenario (a slug) the invitation is for; any scenario when omitted.
    pub scenario: Option<String>,
    /// A preset's name; give this or `quota`, or neither for the default preset.
    pub preset: Option<String>,
    /// An explicit allowance; give this or `preset`.
    pub quota: Option<QuotaInput>,
    pub label: Option<String>,
    /// When the link stops working (within a year).
    pub expires_at: DateTime<Utc>,
}

#[derive(SimpleObject)]
pub struct CreateInvitationPayload {
    pub invitation: Invitation,
    /// The link token, shown only here: the invitee claims it with `claimInvitation`.
    pub token: String,
}

#[derive(InputObject)]
pub struct ClaimInvitationInput {
    /// The invitation link's token.
    #[graphql(secret)]
    pub token: String,
}

#[derive(SimpleObject)]
pub struct ClaimInvitationPayload {
    pub invitation: Invitation,
    /// For a visitor who was not signed in: the new guest account's sign-in (send
    /// `auth.token` as the bearer token from now on). Null for a signed-in caller.
    pub auth: Option<AuthPayload>,
}

#[derive(InputObject)]
pub struct StartScenarioSessionInput {
    /// The scenario's slug.
    pub scenario: String,
    /// The invitation link's token, to run the session under the invitation's quota.
    pub invitation_token: Option<String>,
}

#[derive(SimpleObject)]
pub struct StartScenarioSessionPayload {
    /// The new session, ACTIVE: send it messages with `sendMessage`.
    pub session: Conversation,
}

#[derive(InputObject)]
pub struct PauseSessionInput {
    /// A `Conversation` id of the caller's.
    pub id: ID,
}

#[derive(SimpleObject)]
pub struct PauseSessionPayload {
    pub session: Conversation,
}

#[derive(InputObject)]
pub struct ResumeSessionInput {
    pub id: ID,
}

#[derive(SimpleObject)]
pub struct ResumeSessionPayload {
    pub session: Conversation,
}

#[derive(InputObject)]
pub struct CompleteSessionInput {
    pub id: ID,
}

#[derive(SimpleObject)]
pub struct CompleteSessionPayload {
    pub session: Conversation,
}

#[derive(InputObject)]
pub struct AbandonSessionInput {
    pub id: ID,
}

#[derive(SimpleObject)]
pub struct AbandonSessionPayload {
    pub session: Conversation,
}

async fn change_status(
    ctx: &Context<'_>,
    id: &ID,
    next: ConversationStatus,
) -> ApiResult<Conversation> {
    let id = ids::decode(id, Kind::Conversation, "id")?;
    let row = practice(ctx)?
        .change_status(caller(ctx)?, &id, next.into())
        .await?;
    Ok(row.into())
}

#[derive(Default)]
pub struct PracticeMutation;

#[Object]
impl PracticeMutation {
    /// Creates a scenario (staff).
    async fn create_scenario(
        &self,
        ctx: &Context<'_>,
        input: CreateScenarioInput,
    ) -> ApiResult<CreateScenarioPayload> {
        let row = practice(ctx)?
            .create_scenario(
                caller(ctx)?,
                ScenarioInput {
                    name: input.name,
                    slug: input.slug,
                    description: input.description,
                    partner_persona: input.partner_persona,
                    partner_system_prompt: input.partner_system_prompt,
                    coach_system_prompt: input.coach_system_prompt,
                    partner_model: input.partner_model,
                    coach_model: input.coach_model,
                },
            )
            .await?;
        Ok(CreateScenarioPayload {
            scenario: row.into(),
        })
    }

    /// Changes a scenario (staff); sessions already running use the new prompts and models
    /// from their next message.
    async fn update_scenario(
        &self,
        ctx: &Context<'_>,
        input: UpdateScenarioInput,
    ) -> ApiResult<UpdateScenarioPayload> {
        let id = ids::decode(&input.id, Kind::Scenario, "id")?;
        let changes = ScenarioUpdate {
            name: input.name,
            slug: input.slug,
            description: input.description,
            partner_persona: input.partner_persona,
            partner_system_prompt: input.partner_system_prompt,
            coach_system_prompt: input.coach_system_prompt,
            partner_model: input.partner_model,
            coach_model: input.coach_model,
            is_active: input.is_active,
        };
        let row = practice(ctx)?
            .update_scenario(caller(ctx)?, &id, changes)
            .await?;
        Ok(UpdateScenarioPayload {
            scenario: row.into(),
        })
    }

    /// Takes a scenario out of the participants' list (staff); its sessions stay.
    async fn deactivate_scenario(
        &self,
        ctx: &Context<'_>,
        input: DeactivateScenarioInput,
    ) -> ApiResult<DeactivateScenarioPayload> {
        let id = ids::decode(&input.id, Kind::Scenario, "id")?;
        let row = practice(ctx)?
            .deactivate_scenario(caller(ctx)?, &id)
            .await?;
        Ok(DeactivateScenarioPayload {
            scenario: row.into(),
        })
    }

    /// Creates a quota preset (admin).
    async fn create_quota_preset(
        &self,
        ctx: &Context<'_>,
        input: CreateQuotaPresetInput,
    ) -> ApiResult<CreateQuotaPresetPayload> {
        let row = practice(ctx)?
            .create_preset(
                caller(ctx)?,
                PresetInput {
                    name: input.name,
                    label: input.label,
                    description: input.description,
                    tokens: input.tokens,
                    is_default: input.is_default,
                    sort_order: input.sort_order,
                },
            )
            .await?;
        Ok(CreateQuotaPresetPayload {
            quota_preset: row.into(),
        })
    }

    /// Changes a quota preset (admin); invitations made from it keep their quota.
    async fn update_quota_preset(
        &self,
        ctx: &Context<'_>,
        input: UpdateQuotaPresetInput,
    ) -> ApiResult<UpdateQuotaPresetPayload> {
        let id = ids::decode(&input.id, Kind::QuotaPreset, "id")?;
        let changes = PresetUpdate {
            name: input.name,
            label: input.label,
            description: input.description.map(Some),
            tokens: input.tokens,
            is_default: input.is_default,
            sort_order: input.sort_order,
        };
        let row = practice(ctx)?
            .update_preset(caller(ctx)?, &id, changes)
            .await?;
        Ok(UpdateQuotaPresetPayload {
            quota_preset: row.into(),
        })
    }

    /// Deletes a quota preset (admin); invitations made from it keep their quota.
    async fn delete_quota_preset(
        &self,
        ctx: &Context<'_>,
        input: DeleteQuotaPresetInput,
    ) -> ApiResult<DeleteQuotaPresetPayload> {
        let id = ids::decode(&input.id, Kind::QuotaPreset, "id")?;
        practice(ctx)?.delete_preset(caller(ctx)?, &id).await?;
        Ok(DeleteQuotaPresetPayload {
            deleted_quota_preset_id: ids::encode(Kind::QuotaPreset, &id),
        })
    }

    /// Creates an invitation link (staff). The token is returned here only.
    async fn create_invitation(
        &self,
        ctx: &Context<'_>,
        input: CreateInvitationInput,
    ) -> ApiResult<CreateInvitationPayload> {
        let quota = match (input.preset, input.quota) {
            (Some(_), Some(_)) => {
                return Err(ApiError::bad_input(
                    "quota",
                    "give a preset or a quota, not both",
                ));
            }
            (Some(p), None) => QuotaChoice::Preset(p),
            (None, Some(q)) => QuotaChoice::Tokens(q.tokens),
            (None, None) => QuotaChoice::Default,
        };
        let (row, token) = practice(ctx)?
            .create_invitation(
                caller(ctx)?,
                InvitationInput {
                    scenario: input.scenario,
                    quota,
                    label: input.label,
                    expires_at: input.expires_at,
                },
            )
            .await?;
        Ok(CreateInvitationPayload {
            invitation: row.into(),
            token,
        })
    }

    /// Claims an invitation link: a visitor who is not signed in becomes a guest (signed in by
    /// the payload's `auth`); a signed-in caller claims it for their account. An expired
    /// invitation, or one claimed by someone else, is refused (BAD_USER_INPUT on `token`).
    async fn claim_invitation(
        &self,
        ctx: &Context<'_>,
        input: ClaimInvitationInput,
    ) -> ApiResult<ClaimInvitationPayload> {
        let request = ctx.request()?;
        let claimed = practice(ctx)?
            .claim_invitation(
                request.caller.as_ref(),
                &input.token,
                request.origin.clone(),
            )
            .await?;
        Ok(ClaimInvitationPayload {
            invitation: claimed.invitation.into(),
            auth: claimed.signed_in.map(AuthPayload::from),
        })
    }

    /// Starts a practice session of a scenario for the caller, ACTIVE. Each `sendMessage` to it
    /// streams two replies: the partner's (`reply`) and the coach's (`coachReply`).
    async fn start_scenario_session(
        &self,
        ctx: &Context<'_>,
        input: StartScenarioSessionInput,
    ) -> ApiResult<StartScenarioSessionPayload> {
        let row = practice(ctx)?
            .start_session(
                caller(ctx)?,
                &input.scenario,
                input.invitation_token.as_deref(),
            )
            .await?;
        Ok(StartScenarioSessionPayload {
            session: row.into(),
        })
    }

    /// Pauses an ACTIVE session: paused time does not count in `durationSeconds`, and messages
    /// are refused (CONFLICT) until it resumes.
    async fn pause_session(
        &self,
        ctx: &Context<'_>,
        input: PauseSessionInput,
    ) -> ApiResult<PauseSessionPayload> {
        let session = change_status(ctx, &input.id, ConversationStatus::Paused).await?;
        Ok(PauseSessionPayload { session })
    }

    /// Resumes a PAUSED session.
    async fn resume_session(
        &self,
        ctx: &Context<'_>,
        input: ResumeSessionInput,
    ) -> ApiResult<ResumeSessionPayload> {
        let session = change_status(ctx, &input.id, ConversationStatus::Active).await?;
        Ok(ResumeSessionPayload { session })
    }

    /// Ends an ACTIVE or PAUSED session as COMPLETED.
    async fn complete_session(
        &self,
        ctx: &Context<'_>,
        input: CompleteSessionInput,
    ) -> ApiResult<CompleteSessionPayload> {
        let session = change_status(ctx, &input.id, ConversationStatus::Completed).await?;
        Ok(CompleteSessionPayload { session })
    }

    /// Ends an ACTIVE or PAUSED session as ABANDONED.
    async fn abandon_session(
        &self,
        ctx: &Context<'_>,
        input: AbandonSessionInput,
    ) -> ApiResult<AbandonSessionPayload> {
        let session = change_status(ctx, &input.id, ConversationStatus::Abandoned).await?;
        Ok(AbandonSessionPayload { session })
    }
}
