//! Safety incidents over GraphQL: `reportIncident`, `triageIncident` (moderators),
//! `safetyIncidents(filter: {status})` (moderators: all; others: their own reports) and
//! `safetyIncident(id)`.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::connection::{Connection, EmptyFields};
use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::service::{self, SafetyService, Subject, TriageInput, moderates};
use crate::error::{ApiError, ApiResult};
use crate::graphql::connection::{connection, cursor, page_args};
use crate::graphql::context::ContextExt;
use crate::graphql::ids::{self, Kind};

fn safety<'a>(ctx: &'a Context<'_>) -> ApiResult<&'a SafetyService> {
    Ok(&ctx.services()?.safety)
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(
    name = "IncidentStatus",
    remote = "core_domain::community::IncidentStatus"
)]
pub enum IncidentStatus {
    Open,
    Investigating,
    Resolved,
    Dismissed,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(
    name = "IncidentCategory",
    remote = "core_domain::community::IncidentCategory"
)]
pub enum IncidentCategory {
    Harassment,
    SelfHarm,
    Abuse,
    Spam,
    Fraud,
    InappropriateContent,
    Other,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(
    name = "IncidentSeverity",
    remote = "core_domain::community::IncidentSeverity"
)]
pub enum IncidentSeverity {
    Low,
    Medium,
    High,
    Critical,
}

/// What a report is about.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum IncidentSubject {
    Message,
    Conversation,
    User,
    Post,
}

fn stored<T: std::str::FromStr<Err = core_domain::enums::UnknownVariant>>(s: &str) -> ApiResult<T> {
    s.parse().map_err(corrupt)
}

fn corrupt(e: core_domain::enums::UnknownVariant) -> ApiError {
    ApiError::internal(anyhow::anyhow!("corrupt row: {e}"))
}

/// A report of something unsafe, and where its triage stands.
#[derive(Clone)]
pub struct SafetyIncident(pub Arc<service::Incident>);

impl From<service::Incident> for SafetyIncident {
    fn from(i: service::Incident) -> Self {
        SafetyIncident(Arc::new(i))
    }
}

fn viewer_moderates(ctx: &Context<'_>) -> ApiResult<bool> {
    Ok(ctx.request()?.actor().is_some_and(moderates))
}

#[Object]
impl SafetyIncident {
    pub async fn id(&self) -> ID {
        ids::encode(Kind::SafetyIncident, &self.0.id)
    }
    async fn category(&self) -> ApiResult<IncidentCategory> {
        Ok(stored::<core_domain::community::IncidentCategory>(&self.0.category)?.into())
    }
    async fn description(&self) -> &str {
        &self.0.description
    }
    async fn status(&self) -> ApiResult<IncidentStatus> {
        Ok(stored::<core_domain::community::IncidentStatus>(&self.0.status)?.into())
    }
    /// What it is about.
    async fn subject(&self) -> Option<IncidentSubject> {
        match self.0.metadata.as_ref()?.get("subject")?.as_str()? {
            "MESSAGE" => Some(IncidentSubject::Message),
            "CONVERSATION" => Some(IncidentSubject::Conversation),
            "USER" => Some(IncidentSubject::User),
            "POST" => Some(IncidentSubject::Post),
            _ => None,
        }
    }
    /// The reported message, while it exists.
    async fn message_id(&self) -> Option<ID> {
        self.0
            .message_id
            .as_deref()
            .map(|id| ids::encode(Kind::Message, id))
    }
    /// The reported post.
    async fn post_id(&self) -> Option<ID> {
        let id = self.0.metadata.as_ref()?.get("postId")?.as_str()?;
        Some(ids::encode(Kind::Post, id))
    }
    /// The reported conversation (or the message's), while it exists.
    async fn conversation_id(&self) -> Option<ID> {
        self.0
            .conversation_id
            .as_deref()
            .map(|id| ids::encode(Kind::Conversation, id))
    }
    /// The user it is about (the reported user, or who wrote the message); moderators only.
    async fn subject_user_id(&self, ctx: &Context<'_>) -> ApiResult<Option<ID>> {
        Ok(if viewer_moderates(ctx)? {
            self.0
                .subject_user_id
                .as_deref()
                .map(|id| ids::encode(Kind::User, id))
        } else {
            None
        })
    }
    /// Who reported it.
    async fn reporter_id(&self) -> Option<ID> {
        self.0
            .reporter_id
            .as_deref()
            .map(|id| ids::encode(Kind::User, id))
    }
    /// How serious the moderators judge it; moderators only.
    async fn severity(&self, ctx: &Context<'_>) -> ApiResult<Option<IncidentSeverity>> {
        if !viewer_moderates(ctx)? {
            return Ok(None);
        }
        Ok(Some(
            stored::<core_domain::community::IncidentSeverity>(&self.0.severity)?.into(),
        ))
    }
    /// The moderators' notes; moderators only.
    async fn notes(&self, ctx: &Context<'_>) -> ApiResult<Option<&str>> {
        Ok(if viewer_moderates(ctx)? {
            self.0.resolution.as_deref()
        } else {
            None
        })
    }
    /// The moderator handling it; moderators only.
    async fn assigned_to_id(&self, ctx: &Context<'_>) -> ApiResult<Option<ID>> {
        Ok(if viewer_moderates(ctx)? {
            self.0
                .assigned_to_id
                .as_deref()
                .map(|id| ids::encode(Kind::User, id))
        } else {
            None
        })
    }
    /// When it was resolved or dismissed.
    async fn resolved_at(&self) -> Option<DateTime<Utc>> {
        self.0.resolved_at
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// The incidents among `ids` the caller may read, for `node(id:)`.
pub async fn incidents_by_ids(
    ctx: &Context<'_>,
    ids: &[String],
) -> ApiResult<HashMap<String, SafetyIncident>> {
    let caller = ctx.request()?.caller.as_ref();
    let rows = safety(ctx)?.incidents_by_ids(caller, ids).await?;
    Ok(rows
        .into_iter()
        .map(|i| (i.id.clone(), SafetyIncident::from(i)))
        .collect())
}

pub struct IncidentTotal(service::IncidentScope);

#[Object]
impl IncidentTotal {
    async fn total_count(&self, ctx: &Context<'_>) -> ApiResult<u64> {
        safety(ctx)?.count(&self.0).await
    }
}

pub type SafetyIncidentConnection = Connection<String, SafetyIncident, IncidentTotal, EmptyFields>;

#[derive(InputObject, Default)]
pub struct IncidentFilter {
    pub status: Option<IncidentStatus>,
}

#[derive(Default)]
pub struct SafetyQuery;

#[Object]
impl SafetyQuery {
    /// Safety incidents, newest first: every one for moderators, your own reports otherwise.
    #[graphql(complexity = "first.or(last).unwrap_or(20).max(0) as usize * child_complexity + 1")]
    async fn safety_incidents(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<IncidentFilter>,
    ) -> ApiResult<SafetyIncidentConnection> {
        let args = page_args(first, after, last, before)?;
        let status = filter.and_then(|f| f.status).map(Into::into);
        let caller = ctx.request()?.require()?;
        let (page, scope) = safety(ctx)?.incidents(caller, status, &args).await?;
        let name = SafetyService::ordering();
        Ok(connection(
            page,
            IncidentTotal(scope),
            |i| cursor(name, i.created_at, &i.id),
            SafetyIncident::from,
        ))
    }

    /// A safety incident: one you reported, or any for moderators; null otherwise.
    async fn safety_incident(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> ApiResult<Option<SafetyIncident>> {
        let Some(id) = ids::decode_lookup(&id, Kind::SafetyIncident, "id")? else {
            return Ok(None);
        };
        let caller = ctx.request()?.caller.as_ref();
        Ok(safety(ctx)?
            .incident(caller, &id)
            .await?
            .map(SafetyIncident::from))
    }
}

#[derive(InputObject)]
pub struct ReportIncidentInput {
    /// The message, conversation, post or user the report is about (one you can see).
    pub subject_id: ID,
    pub category: IncidentCategory,
    /// What happened, 1 to 5000 characters.
    pub description: String,
}

#[derive(SimpleObject)]
pub struct ReportIncidentPayload {
    pub incident: SafetyIncident,
}

#[derive(InputObject)]
pub struct TriageIncidentInput {
    pub id: ID,
    /// OPEN → INVESTIGATING → RESOLVED / DISMISSED.
    pub status: IncidentStatus,
    pub severity: Option<IncidentSeverity>,
    /// Replaces the moderators' notes (up to 10000 characters).
    pub notes: Option<String>,
}

#[derive(SimpleObject)]
pub struct TriageIncidentPayload {
    pub incident: SafetyIncident,
}

#[derive(Default)]
pub struct SafetyMutation;

#[Object]
impl SafetyMutation {
    /// Reports a message, conversation, post or user you can see to the moderators.
    async fn report_incident(
        &self,
        ctx: &Context<'_>,
        input: ReportIncidentInput,
    ) -> ApiResult<ReportIncidentPayload> {
        let (kind, raw) = ids::parse(&input.subject_id, "subjectId")?;
        let subject = match kind {
            Kind::Message => Subject::Message(raw),
            Kind::Conversation => Subject::Conversation(raw),
            Kind::User => Subject::User(raw),
            Kind::Post => Subject::Post(raw),
            _ => {
                return Err(ApiError::bad_input(
                    "subjectId",
                    "must be a message, conversation, post or user",
                ));
            }
        };
        let caller = ctx.request()?.require()?;
        let incident = safety(ctx)?
            .report(caller, subject, input.category.into(), input.description)
            .await?;
        Ok(ReportIncidentPayload {
            incident: incident.into(),
        })
    }

    /// Moves an incident on with notes and a severity (moderators); its reporter is notified.
    async fn triage_incident(
        &self,
        ctx: &Context<'_>,
        input: TriageIncidentInput,
    ) -> ApiResult<TriageIncidentPayload> {
        let id = ids::decode(&input.id, Kind::SafetyIncident, "id")?;
        let caller = ctx.request()?.require()?;
        let incident = safety(ctx)?
            .triage(
                caller,
                &id,
                TriageInput {
                    status: input.status.into(),
                    severity: input.severity.map(Into::into),
                    notes: input.notes,
                },
            )
            .await?;
        Ok(TriageIncidentPayload {
            incident: incident.into(),
        })
    }
}
