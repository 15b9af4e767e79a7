//! The practice coach: scenarios (a partner to talk to and a coach who comments), quota presets,
//! invitations (a link with a token quota), and the lifecycle of scenario sessions, which are
//! conversations bound to a scenario (and an invitation).
//!
//! Session clock: `duration_seconds` holds the active time of the stretches that ended, and
//! `active_since` when the current active stretch began (NULL while paused or ended), so active
//! time never counts pauses. Every status change is one conditional `UPDATE` on the status read
//! (and, for the idle sweep, on the last activity), so two instances, or two requests, can never
//! both apply a transition.

use chrono::{DateTime, Utc};
use core_domain::enums::ConversationStatus;
use core_domain::pagination::PageArgs;
use core_domain::{ids, time};
use sea_orm::sea_query::{Expr, Func, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, TransactionSession, TransactionTrait,
};

use crate::budgets::{self, BudgetKey};
use crate::cursor::Keyset;
use crate::entity::{budgets as budget_rows, conversations, invitations, quota_presets, scenarios};
use crate::{Page, StoreError};

pub use conversations::Model as Session;
pub use invitations::Model as Invitation;
pub use quota_presets::Model as QuotaPreset;
pub use scenarios::Model as Scenario;

// ---------------------------------------------------------------------------------------------
// Scenarios

/// Everything a scenario is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioFields {
    pub name: String,
    pub slug: String,
    pub description: String,
    pub partner_persona: String,
    pub partner_system_prompt: String,
    pub coach_system_prompt: String,
    pub partner_model: String,
    pub coach_model: String,
}

/// What an update changes; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScenarioChanges {
    pub name: Option<String>,
    pub slug: Option<String>,
    pub description: Option<String>,
    pub partner_persona: Option<String>,
    pub partner_system_prompt: Option<String>,
    pub coach_system_prompt: Option<String>,
    pub partner_model: Option<String>,
    pub coach_model: Option<String>,
    pub is_active: Option<bool>,
}

/// Scenarios by name; inactive ones only when `include_inactive`.
pub async fn scenarios(
    db: &impl ConnectionTrait,
    include_inactive: bool,
) -> Result<Vec<Scenario>, StoreError> {
    let mut select = scenarios::Entity::find();
    if !include_inactive {
        select = select.filter(scenarios::Column::IsActive.eq(true));
    }
    Ok(select
        .order_by_asc(scenarios::Column::Name)
        .order_by_asc(scenarios::Column::Id)
        .all(db)
        .await?)
}

pub async fn scenario(db: &impl ConnectionTrait, id: &str) -> Result<Option<Scenario>, StoreError> {
    Ok(scenarios::Entity::find_by_id(id.to_owned()).one(db).await?)
}

pub async fn scenario_by_slug(
    db: &impl ConnectionTrait,
    slug: &str,
) -> Result<Option<Scenario>, StoreError> {
    Ok(scenarios::Entity::find()
        .filter(scenarios::Column::Slug.eq(slug))
        .one(db)
        .await?)
}

pub async fn scenarios_by_ids(
    db: &impl ConnectionTrait,
    ids: &[String],
) -> Result<Vec<Scenario>, StoreError> {
    crate::rows::by_ids::<scenarios::Entity>(db, ids).await
}

/// A new, active scenario; `Conflict("slug")` when the slug is taken.
pub async fn create_scenario(
    db: &impl ConnectionTrait,
    f: ScenarioFields,
) -> Result<Scenario, StoreError> {
    let now = time::now();
    scenarios::ActiveModel {
        id: Set(ids::new_id()),
        name: Set(f.name),
        description: Set(f.description),
        slug: Set(f.slug),
        partner_persona: Set(f.partner_persona),
        partner_system_prompt: Set(f.partner_system_prompt),
        coach_system_prompt: Set(f.coach_system_prompt),
        partner_model: Set(f.partner_model),
        coach_model: Set(f.coach_model),
        is_active: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await
    .map_err(|e| StoreError::conflict_or_db(e, "slug"))
}

/// Applies `changes`; `None` when there is no such scenario.
pub async fn update_scenario(
    db: &impl ConnectionTrait,
    id: &str,
    c: ScenarioChanges,
) -> Result<Option<Scenario>, StoreError> {
    let Some(row) = scenario(db, id).await? else {
        return Ok(None);
    };
    let mut m: scenarios::ActiveModel = row.into();
    if let Some(v) = c.name {
        m.name = Set(v);
    }
    if let Some(v) = c.slug {
        m.slug = Set(v);
    }
    if let Some(v) = c.description {
        m.description = Set(v);
    }
    if let Some(v) = c.partner_persona {
        m.partner_persona = Set(v);
    }
    if let Some(v) = c.partner_system_prompt {
        m.partner_system_prompt = Set(v);
    }
    if let Some(v) = c.coach_system_prompt {
        m.coach_system_prompt = Set(v);
    }
    if let Some(v) = c.partner_model {
        m.partner_model = Set(v);
    }
    if let Some(v) = c.coach_model {
        m.coach_model = Set(v);
    }
    if let Some(v) = c.is_active {
        m.is_active = Set(v);
    }
    m.updated_at = Set(time::now());
    Ok(Some(
        m.update(db)
            .await
            .map_err(|e| StoreError::conflict_or_db(e, "slug"))?,
    ))
}

/// Seeds a scenario by slug: a new one is inserted whole; an existing one gets the seed's texts
/// but keeps its models and whether it is active (what staff chose stays).
pub async fn seed_scenario(db: &impl ConnectionTrait, f: ScenarioFields) -> Result<(), StoreError> {
    let now = time::now();
    let row = scenarios::ActiveModel {
        id: Set(ids::new_id()),
        name: Set(f.name),
        description: Set(f.description),
        slug: Set(f.slug),
        partner_persona: Set(f.partner_persona),
        partner_system_prompt: Set(f.partner_system_prompt),
        coach_system_prompt: Set(f.coach_system_prompt),
        partner_model: Set(f.partner_model),
        coach_model: Set(f.coach_model),
        is_active: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
    };
    use scenarios::Column as C;
    scenarios::Entity::insert(row)
        .on_conflict(
            OnConflict::column(C::Slug)
                .update_columns([
                    C::Name,
                    C::Description,
                    C::PartnerPersona,
                    C::PartnerSystemPrompt,
                    C::CoachSystemPrompt,
                ])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Quota presets

/// A preset's fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresetFields {
    pub name: String,
    pub label: String,
    pub description: Option<String>,
    pub tokens: i64,
    pub is_default: bool,
    pub sort_order: i32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PresetChanges {
    pub name: Option<String>,
    pub label: Option<String>,
    /// `Some(None)` clears it.
    pub description: Option<Option<String>>,
    pub tokens: Option<i64>,
    pub is_default: Option<bool>,
    pub sort_order: Option<i32>,
}

/// The quota JSON of a token allowance (the shape `invitations.quota` has too).
pub fn quota_json(tokens: i64, label: Option<&str>) -> serde_json::Value {
    match label {
        Some(label) => serde_json::json!({ "tokens": tokens, "label": label }),
        None => serde_json::json!({ "tokens": tokens }),
    }
}

/// The tokens of a quota JSON (0 when it names none).
pub fn quota_tokens(quota: &serde_json::Value) -> i64 {
    quota
        .get("tokens")
        .and_then(serde_json::Value::as_i64)
        .unwrap_or(0)
}

/// Every preset, in `sort_order`, then by name.
pub async fn presets(db: &impl ConnectionTrait) -> Result<Vec<QuotaPreset>, StoreError> {
    Ok(quota_presets::Entity::find()
        .order_by_asc(quota_presets::Column::SortOrder)
        .order_by_asc(quota_presets::Column::Name)
        .all(db)
        .await?)
}

pub async fn preset(
    db: &impl ConnectionTrait,
    id: &str,
) -> Result<Option<QuotaPreset>, StoreError> {
    Ok(quota_presets::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?)
}

pub async fn preset_by_name(
    db: &impl ConnectionTrait,
    name: &str,
) -> Result<Option<QuotaPreset>, StoreError> {
    Ok(quota_presets::Entity::find()
        .filter(quota_presets::Column::Name.eq(name))
        .one(db)
        .await?)
}

/// The default preset, if one is marked.
pub async fn default_preset(db: &impl ConnectionTrait) -> Result<Option<QuotaPreset>, StoreError> {
    Ok(quota_presets::Entity::find()
        .filter(quota_presets::Column::IsDefault.eq(true))
        .order_by_asc(quota_presets::Column::SortOrder)
        .one(db)
        .await?)
}

/// Unmarks every default but `keep`: one default at most.
async fn clear_defaults(db: &impl ConnectionTrait, keep: &str) -> Result<(), StoreError> {
    quota_presets::Entity::update_many()
        .col_expr(quota_presets::Column::IsDefault, Expr::value(false))
        .filter(quota_presets::Column::Id.ne(keep))
        .filter(quota_presets::Column::IsDefault.eq(true))
        .exec(db)
        .await?;
    Ok(())
}

/// A new preset (the only default, when marked so); `Conflict("name")` when the name is taken.
pub async fn create_preset<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    f: PresetFields,
) -> Result<QuotaPreset, StoreError> {
    let txn = db.begin().await?;
    let now = time::now();
    let row = quota_presets::ActiveModel {
        id: Set(ids::new_id()),
        quota: Set(quota_json(f.tokens, Some(&f.label))),
        name: Set(f.name),
        label: Set(f.label),
        description: Set(f.description),
        is_default: Set(f.is_default),
        sort_order: Set(f.sort_order),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await
    .map_err(|e| StoreError::conflict_or_db(e, "name"))?;
    if row.is_default {
        clear_defaults(&txn, &row.id).await?;
    }
    txn.commit().await?;
    Ok(row)
}

pub async fn update_preset<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    id: &str,
    c: PresetChanges,
) -> Result<Option<QuotaPreset>, StoreError> {
    let txn = db.begin().await?;
    let Some(row) = preset(&txn, id).await? else {
        return Ok(None);
    };
    let tokens = c.tokens.unwrap_or_else(|| quota_tokens(&row.quota));
    let label = c.label.clone().unwrap_or_else(|| row.label.clone());
    let mut m: quota_presets::ActiveModel = row.into();
    if let Some(v) = c.name {
        m.name = Set(v);
    }
    if let Some(v) = c.label {
        m.label = Set(v);
    }
    if let Some(v) = c.description {
        m.description = Set(v);
    }
    if let Some(v) = c.is_default {
        m.is_default = Set(v);
    }
    if let Some(v) = c.sort_order {
        m.sort_order = Set(v);
    }
    m.quota = Set(quota_json(tokens, Some(&label)));
    m.updated_at = Set(time::now());
    let row = m
        .update(&txn)
        .await
        .map_err(|e| StoreError::conflict_or_db(e, "name"))?;
    if row.is_default {
        clear_defaults(&txn, &row.id).await?;
    }
    txn.commit().await?;
    Ok(Some(row))
}

/// Deletes a preset; false when there was none. Invitations copied their quota, so none changes.
pub async fn delete_preset(db: &impl ConnectionTrait, id: &str) -> Result<bool, StoreError> {
    Ok(quota_presets::Entity::delete_by_id(id.to_owned())
        .exec(db)
        .await?
        .rows_affected
        > 0)
}

/// Seeds a preset by name, once: an existing preset is left as the admins made it.
pub async fn seed_preset(db: &impl ConnectionTrait, f: PresetFields) -> Result<bool, StoreError> {
    if preset_by_name(db, &f.name).await?.is_some() {
        return Ok(false);
    }
    let is_default = f.is_default && default_preset(db).await?.is_none();
    let now = time::now();
    let row = quota_presets::ActiveModel {
        id: Set(ids::new_id()),
        quota: Set(quota_json(f.tokens, Some(&f.label))),
        name: Set(f.name),
        label: Set(f.label),
        description: Set(f.description),
        is_default: Set(is_default),
        sort_order: Set(f.sort_order),
        created_at: Set(now),
        updated_at: Set(now),
    };
    let res = quota_presets::Entity::insert(row)
        .on_conflict(
            OnConflict::column(quota_presets::Column::Name)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(res > 0)
}

// ---------------------------------------------------------------------------------------------
// Invitations

/// The budget scope of an invitation's quota.
pub const INVITATION_BUDGET: &str = budgets::INVITATION;

#[derive(Debug, Clone)]
pub struct NewInvitation {
    /// `auth::tokens::hash_token` of the link token.
    pub token_hash: String,
    pub label: Option<String>,
    pub scenario_id: Option<String>,
    pub quota: serde_json::Value,
    pub expires_at: DateTime<Utc>,
    pub created_by_id: String,
}

pub async fn create_invitation(
    db: &impl ConnectionTrait,
    new: NewInvitation,
) -> Result<Invitation, StoreError> {
    invitations::ActiveModel {
        id: Set(ids::new_id()),
        token: Set(new.token_hash),
        label: Set(new.label),
        scenario_id: Set(new.scenario_id),
        quota: Set(new.quota),
        usage: Set(serde_json::json!({})),
        expires_at: Set(new.expires_at),
        claimed_at: Set(None),
        linked_user_id: Set(None),
        created_by_id: Set(new.created_by_id),
        created_at: Set(time::now()),
    }
    .insert(db)
    .await
    .map_err(|e| StoreError::conflict_or_db(e, "token"))
}

/// Seeds an invitation by its token hash, once.
pub async fn seed_invitation(
    db: &impl ConnectionTrait,
    new: NewInvitation,
) -> Result<bool, StoreError> {
    if invitation_by_token(db, &new.token_hash).await?.is_some() {
        return Ok(false);
    }
    create_invitation(db, new).await?;
    Ok(true)
}

pub async fn invitation(
    db: &impl ConnectionTrait,
    id: &str,
) -> Result<Option<Invitation>, StoreError> {
    Ok(invitations::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?)
}

pub async fn invitations_by_ids(
    db: &impl ConnectionTrait,
    ids: &[String],
) -> Result<Vec<Invitation>, StoreError> {
    crate::rows::by_ids::<invitations::Entity>(db, ids).await
}

/// The invitation whose token hashes to `token_hash`.
pub async fn invitation_by_token(
    db: &impl ConnectionTrait,
    token_hash: &str,
) -> Result<Option<Invitation>, StoreError> {
    Ok(invitations::Entity::find()
        .filter(invitations::Column::Token.eq(token_hash))
        .one(db)
        .await?)
}

/// The invitation most recently claimed by `user_id`.
pub async fn invitation_of_user(
    db: &impl ConnectionTrait,
    user_id: &str,
) -> Result<Option<Invitation>, StoreError> {
    Ok(invitations::Entity::find()
        .filter(invitations::Column::LinkedUserId.eq(user_id))
        .order_by_desc(invitations::Column::ClaimedAt)
        .order_by_desc(invitations::Column::Id)
        .one(db)
        .await?)
}

/// Links an unexpired invitation to `user_id`, unless someone else claimed it first (one
/// conditional update, so two claimants can never both win). Claiming one's own invitation
/// again is a no-op that succeeds.
pub async fn claim_invitation(
    db: &impl ConnectionTrait,
    id: &str,
    user_id: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let res = invitations::Entity::update_many()
        .col_expr(invitations::Column::LinkedUserId, Expr::value(user_id))
        .col_expr(
            invitations::Column::ClaimedAt,
            Expr::expr(Func::coalesce([
                Expr::col(invitations::Column::ClaimedAt),
                Expr::value(now),
            ])),
        )
        .filter(invitations::Column::Id.eq(id))
        .filter(invitations::Column::ExpiresAt.gt(now))
        .filter(
            Condition::any()
                .add(invitations::Column::LinkedUserId.is_null())
                .add(invitations::Column::LinkedUserId.eq(user_id)),
        )
        .exec(db)
        .await?;
    Ok(res.rows_affected > 0)
}

/// How a list of invitations may be narrowed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct InvitationFilter {
    pub scenario_id: Option<String>,
    /// Claimed (true) or not yet (false).
    pub claimed: Option<bool>,
    /// Unexpired (true) or expired (false), at the time of reading.
    pub active: Option<bool>,
    pub created_by_id: Option<String>,
}

const INVITATIONS_NEWEST: Keyset<invitations::Column> = Keyset {
    name: "invitations.created_at.desc",
    at: invitations::Column::CreatedAt,
    id: invitations::Column::Id,
    descending: true,
};

/// The ordering name of invitation cursors.
pub fn invitation_ordering() -> &'static str {
    INVITATIONS_NEWEST.name
}

fn invitation_condition(filter: &InvitationFilter) -> Condition {
    let mut cond = Condition::all();
    if let Some(s) = &filter.scenario_id {
        cond = cond.add(invitations::Column::ScenarioId.eq(s.clone()));
    }
    match filter.claimed {
        Some(true) => cond = cond.add(invitations::Column::LinkedUserId.is_not_null()),
        Some(false) => cond = cond.add(invitations::Column::LinkedUserId.is_null()),
        None => {}
    }
    let now = time::now();
    match filter.active {
        Some(true) => cond = cond.add(invitations::Column::ExpiresAt.gt(now)),
        Some(false) => cond = cond.add(invitations::Column::ExpiresAt.lte(now)),
        None => {}
    }
    if let Some(u) = &filter.created_by_id {
        cond = cond.add(invitations::Column::CreatedById.eq(u.clone()));
    }
    cond
}

/// One page of invitations, newest first.
pub async fn invitations_page(
    db: &impl ConnectionTrait,
    filter: &InvitationFilter,
    args: &PageArgs,
) -> Result<Page<Invitation>, StoreError> {
    let select = invitations::Entity::find().filter(invitation_condition(filter));
    let rows = INVITATIONS_NEWEST.apply(select, args)?.all(db).await?;
    Ok(Keyset::<invitations::Column>::page(args, rows))
}

pub async fn count_invitations(
    db: &impl ConnectionTrait,
    filter: &InvitationFilter,
) -> Result<u64, StoreError> {
    use sea_orm::PaginatorTrait;
    Ok(invitations::Entity::find()
        .filter(invitation_condition(filter))
        .count(db)
        .await?)
}

/// The budget an invitation's quota is: every call in its sessions reserves against it.
pub fn invitation_budget(invitation: &Invitation) -> BudgetKey {
    BudgetKey::invitation(&invitation.id, quota_tokens(&invitation.quota))
}

/// Tokens used and held on an invitation's budget: (used, reserved); zeros before its first call.
pub async fn invitation_spend(
    db: &impl ConnectionTrait,
    invitation: &Invitation,
) -> Result<(i64, i64), StoreError> {
    Ok(budgets::find(db, &invitation_budget(invitation))
        .await?
        .map_or((0, 0), |b| (b.used, b.reserved)))
}

/// Copies the budget's `used` into the invitation's `usage` JSON (`{"tokens": used}`). Run in the
/// transaction that settled a call, after the settlement, so `usage` always tells the truth.
pub async fn sync_invitation_usage(
    db: &impl ConnectionTrait,
    invitation_id: &str,
) -> Result<(), StoreError> {
    let used = budget_rows::Entity::find()
        .filter(budget_rows::Column::Scope.eq(budgets::INVITATION))
        .filter(budget_rows::Column::SubjectId.eq(invitation_id))
        .one(db)
        .await?
        .map_or(0, |b| b.used);
    invitations::Entity::update_many()
        .col_expr(
            invitations::Column::Usage,
            Expr::value(serde_json::json!({ "tokens": used })),
        )
        .filter(invitations::Column::Id.eq(invitation_id))
        .exec(db)
        .await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Scenario sessions

#[derive(Debug, Clone)]
pub struct NewSession {
    pub user_id: String,
    pub scenario_id: String,
    pub invitation_id: Option<String>,
    pub title: String,
}

/// A new ACTIVE session: a conversation bound to its scenario (and invitation), named after the
/// scenario, its clock running.
pub async fn create_session(
    db: &impl ConnectionTrait,
    new: NewSession,
) -> Result<Session, StoreError> {
    let now = time::now();
    conversations::ActiveModel {
        id: Set(ids::new_id()),
        user_id: Set(Some(new.user_id)),
        invitation_id: Set(new.invitation_id),
        scenario_id: Set(Some(new.scenario_id)),
        persona_id: Set(None),
        room_id: Set(None),
        project_id: Set(None),
        title: Set(new.title),
        title_is_custom: Set(true),
        model: Set(None),
        system_prompt: Set(None),
        status: Set(ConversationStatus::Active.into()),
        started_at: Set(now),
        ended_at: Set(None),
        total_messages: Set(0),
        duration_seconds: Set(Some(0)),
        active_since: Set(Some(now)),
        metadata: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        deleted_at: Set(None),
    }
    .insert(db)
    .await
    .map_err(StoreError::from)
}

/// Whole seconds from `from` to `to` (0 when `to` is earlier).
fn seconds_between(from: DateTime<Utc>, to: DateTime<Utc>) -> i32 {
    i32::try_from((to - from).num_seconds().max(0)).unwrap_or(i32::MAX)
}

/// Active seconds of `session` up to `at`: the stretches that ended, plus the current one.
pub fn active_seconds(session: &Session, at: DateTime<Utc>) -> i32 {
    let done = session.duration_seconds.unwrap_or(0);
    let current = match (*session.status, session.active_since) {
        (ConversationStatus::Active, Some(since)) => seconds_between(since, at),
        (ConversationStatus::Active, None) => seconds_between(session.started_at, at),
        _ => 0,
    };
    done.saturating_add(current)
}

/// Moves `session` (as read) to `next` at `at`, unless it changed since it was read (its status,
/// or with `idle_before`, its last activity): `None` then. Pausing and ending close the active
/// stretch into `duration_seconds`; resuming opens a new one; ending sets `ended_at`.
pub async fn transition(
    db: &impl ConnectionTrait,
    session: &Session,
    next: ConversationStatus,
    at: DateTime<Utc>,
    idle_before: Option<DateTime<Utc>>,
) -> Result<Option<Session>, StoreError> {
    use conversations::Column as C;
    let ends = matches!(
        next,
        ConversationStatus::Completed | ConversationStatus::Abandoned
    );
    let duration = active_seconds(session, at);
    let mut update = conversations::Entity::update_many()
        .col_expr(C::Status, Expr::value(next.as_str()))
        .col_expr(C::DurationSeconds, Expr::value(duration))
        .col_expr(
            C::ActiveSince,
            Expr::value((next == ConversationStatus::Active).then_some(at)),
        )
        .col_expr(C::UpdatedAt, Expr::value(at))
        .filter(C::Id.eq(session.id.as_str()))
        .filter(C::DeletedAt.is_null())
        .filter(C::Status.eq(session.status.as_str()));
    if ends {
        update = update.col_expr(C::EndedAt, Expr::value(at));
    }
    if let Some(cutoff) = idle_before {
        update = update.filter(C::UpdatedAt.lt(cutoff));
    }
    if update.exec(db).await?.rows_affected == 0 {
        return Ok(None);
    }
    crate::conversations::find(db, &session.id).await
}

/// Open (ACTIVE or PAUSED) scenario sessions with no activity since `before`, oldest first.
pub async fn idle_sessions(
    db: &impl ConnectionTrait,
    before: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<Session>, StoreError> {
    use conversations::Column as C;
    Ok(conversations::Entity::find()
        .filter(C::Status.is_in([
            ConversationStatus::Active.as_str(),
            ConversationStatus::Paused.as_str(),
        ]))
        .filter(C::UpdatedAt.lt(before))
        .filter(C::ScenarioId.is_not_null())
        .filter(C::DeletedAt.is_null())
        .order_by_asc(C::UpdatedAt)
        .order_by_asc(C::Id)
        .limit(limit)
        .all(db)
        .await?)
}

/// Sessions of each invitation: one page each, newest first, in one statement.
pub async fn sessions_for_invitations(
    db: &impl ConnectionTrait,
    invitation_ids: &[String],
    args: &PageArgs,
) -> Result<std::collections::HashMap<String, Page<Session>>, StoreError> {
    crate::cursor::batch::pages_by_parent(
        db,
        conversations::Entity::find().filter(conversations::Column::DeletedAt.is_null()),
        conversations::Column::InvitationId,
        invitation_ids,
        &SESSIONS_NEWEST,
        args,
        |c: &Session| c.invitation_id.as_deref().unwrap_or_default(),
    )
    .await
}

/// The ordering of an invitation's sessions.
pub const SESSIONS_NEWEST: Keyset<conversations::Column> = Keyset {
    name: "sessions.created_at.desc",
    at: conversations::Column::CreatedAt,
    id: conversations::Column::Id,
    descending: true,
};

/// How many sessions each invitation has, in one statement.
pub async fn session_counts_for_invitations(
    db: &impl ConnectionTrait,
    invitation_ids: &[String],
) -> Result<std::collections::HashMap<String, u64>, StoreError> {
    crate::rows::counts_by_parent(
        db,
        conversations::Entity::find().filter(conversations::Column::DeletedAt.is_null()),
        conversations::Column::InvitationId,
        invitation_ids,
    )
    .await
}
