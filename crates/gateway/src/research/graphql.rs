//! Research over GraphQL: staff reading practice sessions that run under invitations
//! (`researchSessions`, and on each session `usage` and `observationNotes`), observation notes
//! (`addObservationNote`, `updateObservationNote`, `deleteObservationNote`, `observationNotes`),
//! and telemetry (`recordTelemetry`, `telemetryEvents`, `telemetryCounts`). Resolvers parse (ids
//! are global, see `graphql::ids`), call [`ResearchService`], and wrap.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::connection::{Connection, ConnectionNameType, Edge, EdgeNameType, EmptyFields};
use async_graphql::{Context, ID, InputObject, Lookahead, Object, OutputType, SimpleObject};
use chrono::{DateTime, Utc};
use core_domain::enums::ConversationStatus as DomainConversationStatus;
use core_domain::pagination::PageArgs;

use super::loaders::{SessionCountKey, SessionPageKey};
use super::service::{
    self, DailyCount, EventDraft, NoteDraft, NoteFilter, ResearchService, SessionFilter,
    TelemetryFilter,
};
use crate::accounts::graphql::{User, user_link};
use crate::conversations::graphql::{
    Conversation, Message, prefetch_messages, visible_conversations, visible_messages,
};
use crate::error::{ApiError, ApiResult};
use crate::graphql::connection::{connection, cursor, page_args};
use crate::graphql::context::ContextExt;
use crate::graphql::ids::{self, Kind};
use crate::graphql::pages::{Columns, PageQuery, argument, count, page};
use crate::graphql::scalars::{ConversationStatus, Json, StreamType};

fn research<'a>(ctx: &'a Context<'_>) -> ApiResult<&'a ResearchService> {
    Ok(&ctx.services()?.research)
}

/// The ordering names cursors carry (see `persistence::research`).
const SESSIONS: &str = "research_sessions.created_at.desc";
const NOTES: &str = "observation_notes.created_at.asc";
const USAGE: &str = "usage_logs.created_at.asc";
const EVENTS: &str = "telemetry_events.created_at.desc";

// ---------------------------------------------------------------------------------------------
// Types.

/// A researcher's observation on an invitation, optionally on one of its sessions and one message
/// of it. Only staff see notes.
#[derive(Clone)]
pub struct ObservationNote(pub Arc<service::ObservationNote>);

#[Object]
impl ObservationNote {
    pub async fn id(&self) -> ID {
        ids::encode(Kind::ObservationNote, &self.0.id)
    }
    /// The invitation the note is about.
    async fn invitation_id(&self) -> ID {
        ids::encode(Kind::Invitation, &self.0.invitation_id)
    }
    /// The session the note is about (see `session`), when it is about one.
    async fn session_id(&self) -> Option<ID> {
        self.0
            .conversation_id
            .as_deref()
            .map(|id| ids::encode(Kind::Conversation, id))
    }
    /// The session the note is about (one batched look-up for many notes).
    async fn session(&self, ctx: &Context<'_>) -> ApiResult<Option<Conversation>> {
        let Some(id) = &self.0.conversation_id else {
            return Ok(None);
        };
        Ok(visible_conversations(ctx, std::slice::from_ref(id))
            .await?
            .remove(id))
    }
    /// The message the note is about (see `message`), when it is about one.
    async fn message_id(&self) -> Option<ID> {
        self.0
            .message_id
            .as_deref()
            .map(|id| ids::encode(Kind::Message, id))
    }
    /// The message the note is about (one batched look-up for many notes).
    async fn message(&self, ctx: &Context<'_>) -> ApiResult<Option<Message>> {
        let Some(id) = &self.0.message_id else {
            return Ok(None);
        };
        Ok(visible_messages(ctx, std::slice::from_ref(id))
            .await?
            .remove(id))
    }
    /// Who wrote the note (see `researcher`).
    async fn researcher_id(&self) -> ID {
        ids::encode(Kind::User, &self.0.researcher_id)
    }
    /// Who wrote the note; null when the caller may not see that account.
    async fn researcher(&self, ctx: &Context<'_>) -> ApiResult<Option<User>> {
        user_link(ctx, Some(&self.0.researcher_id)).await
    }
    async fn content(&self) -> &str {
        &self.0.content
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// One AI call of a session: tokens, cost and latency.
#[derive(Clone)]
pub struct UsageRecord(pub Arc<service::UsageLog>);

#[Object]
impl UsageRecord {
    pub async fn id(&self) -> ID {
        ids::encode(Kind::UsageRecord, &self.0.id)
    }
    /// The session the call was made for.
    async fn session_id(&self) -> Option<ID> {
        self.0
            .conversation_id
            .as_deref()
            .map(|id| ids::encode(Kind::Conversation, id))
    }
    /// The reply the call produced, when it produced one.
    async fn message_id(&self) -> Option<ID> {
        self.0
            .message_id
            .as_deref()
            .map(|id| ids::encode(Kind::Message, id))
    }
    /// The invitation whose quota the call was charged to, if any.
    async fn invitation_id(&self) -> Option<ID> {
        self.0
            .invitation_id
            .as_deref()
            .map(|id| ids::encode(Kind::Invitation, id))
    }
    /// The user the call was made for, if any.
    async fn user_id(&self) -> Option<ID> {
        self.0
            .user_id
            .as_deref()
            .map(|id| ids::encode(Kind::User, id))
    }
    /// What the call was for: a chat reply, the partner or coach of a scenario, a title...
    async fn stream_type(&self) -> StreamType {
        (*self.0.stream_type).into()
    }
    async fn provider(&self) -> &str {
        &self.0.provider
    }
    async fn model(&self) -> &str {
        &self.0.model
    }
    async fn input_tokens(&self) -> i32 {
        self.0.input_tokens
    }
    async fn output_tokens(&self) -> i32 {
        self.0.output_tokens
    }
    async fn total_tokens(&self) -> i64 {
        i64::from(self.0.input_tokens) + i64::from(self.0.output_tokens)
    }
    /// The cost in millionths of a US dollar; null when the model's price is unknown.
    async fn cost_micros(&self) -> Option<i64> {
        self.0.cost_micros
    }
    /// How long the provider took, in milliseconds.
    async fn latency_ms(&self) -> Option<i32> {
        self.0.latency_ms
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// A product telemetry event.
#[derive(Clone)]
pub struct TelemetryEvent(pub Arc<service::TelemetryEvent>);

#[Object]
impl TelemetryEvent {
    pub async fn id(&self) -> ID {
        ids::encode(Kind::TelemetryEvent, &self.0.id)
    }
    /// What happened, e.g. `conversation_started`.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// What the client said about it: a JSON object.
    async fn properties(&self) -> Json {
        Json(self.0.properties.clone())
    }
    /// Who was signed in when it was recorded (see `user`); null for anonymous events.
    async fn user_id(&self) -> Option<ID> {
        self.0
            .user_id
            .as_deref()
            .map(|id| ids::encode(Kind::User, id))
    }
    /// The user who recorded it; null when anonymous or the caller may not see that account.
    async fn user(&self, ctx: &Context<'_>) -> ApiResult<Option<User>> {
        user_link(ctx, self.0.user_id.as_deref()).await
    }
    /// The session it happened in, if any.
    async fn session_id(&self) -> Option<ID> {
        self.0
            .conversation_id
            .as_deref()
            .map(|id| ids::encode(Kind::Conversation, id))
    }
    /// When it happened (the client's `occurredAt`, else when it was recorded).
    async fn occurred_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// How many events of one name happened on one day (UTC).
#[derive(SimpleObject)]
pub struct TelemetryCount {
    pub name: String,
    /// The UTC day, `YYYY-MM-DD`.
    pub day: String,
    pub count: i64,
}

impl From<DailyCount> for TelemetryCount {
    fn from(c: DailyCount) -> Self {
        TelemetryCount {
            name: c.name,
            day: c.day,
            count: c.count,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Totals and connections.

/// `totalCount` of the research session list, counted only when asked for.
pub struct SessionTotal(SessionFilter);

#[Object(name = "ResearchSessionTotal")]
impl SessionTotal {
    async fn total_count(&self, ctx: &Context<'_>) -> ApiResult<u64> {
        research(ctx)?
            .session_count(ctx.request()?.caller.as_ref(), &self.0)
            .await
    }
}

/// `totalCount` of a list of notes: a filtered list, or one session's.
pub enum NoteTotal {
    Filtered(NoteFilter),
    Session(SessionCountKey),
}

#[Object]
impl NoteTotal {
    async fn total_count(&self, ctx: &Context<'_>) -> ApiResult<u64> {
        match self {
            NoteTotal::Filtered(filter) => {
                research(ctx)?
                    .note_count(ctx.request()?.caller.as_ref(), filter)
                    .await
            }
            NoteTotal::Session(key) => {
                count(&ctx.loaders()?.research.note_pages, key.clone()).await
            }
        }
    }
}

/// `totalCount` of a session's usage records, counted only when asked for.
pub struct UsageTotal(SessionCountKey);

#[Object]
impl UsageTotal {
    async fn total_count(&self, ctx: &Context<'_>) -> ApiResult<u64> {
        count(&ctx.loaders()?.research.usage_pages, self.0.clone()).await
    }
    /// The session's usage summed over every call (not only this page).
    async fn totals(
        &self,
        ctx: &Context<'_>,
    ) -> ApiResult<crate::analytics::graphql::UsageSummary> {
        crate::analytics::graphql::usage_of(
            ctx,
            crate::analytics::service::TotalsBy::Conversation,
            &self.0.parent,
        )
        .await
    }
}

/// `totalCount` of the telemetry list, counted only when asked for.
pub struct TelemetryTotal(TelemetryFilter);

#[Object]
impl TelemetryTotal {
    async fn total_count(&self, ctx: &Context<'_>) -> ApiResult<u64> {
        research(ctx)?
            .event_count(ctx.request()?.caller.as_ref(), &self.0)
            .await
    }
}

/// The research session list's own connection type names (its nodes are `Conversation`s, whose
/// usual connection is `ConversationConnection`).
pub struct ResearchSessionConnectionName;

impl ConnectionNameType for ResearchSessionConnectionName {
    fn type_name<T: OutputType>() -> String {
        "ResearchSessionConnection".into()
    }
}

pub struct ResearchSessionEdgeName;

impl EdgeNameType for ResearchSessionEdgeName {
    fn type_name<T: OutputType>() -> String {
        "ResearchSessionEdge".into()
    }
}

pub type ResearchSessionConnection = Connection<
    String,
    Conversation,
    SessionTotal,
    EmptyFields,
    ResearchSessionConnectionName,
    ResearchSessionEdgeName,
>;
pub type ObservationNoteConnection = Connection<String, ObservationNote, NoteTotal, EmptyFields>;
pub type UsageRecordConnection = Connection<String, UsageRecord, UsageTotal, EmptyFields>;
pub type TelemetryEventConnection = Connection<String, TelemetryEvent, TelemetryTotal, EmptyFields>;

fn session_key(conversation_id: &str, args: PageArgs) -> SessionPageKey {
    SessionPageKey {
        parent: conversation_id.to_owned(),
        query: Arc::new(PageQuery {
            filter: (),
            order: (),
            args,
            columns: Columns::ALL,
        }),
    }
}

fn count_key(conversation_id: &str) -> SessionCountKey {
    SessionCountKey {
        parent: conversation_id.to_owned(),
        filter: Arc::new(()),
    }
}

/// A session's usage records (`Conversation.usage`): whoever may read the session reads them;
/// one batched page read for every session on the level.
pub async fn usage_of(
    ctx: &Context<'_>,
    conversation_id: &str,
    args: PageArgs,
) -> ApiResult<UsageRecordConnection> {
    let rows = page(
        &ctx.loaders()?.research.usage_pages,
        session_key(conversation_id, args),
    )
    .await?;
    Ok(connection(
        rows,
        UsageTotal(count_key(conversation_id)),
        |u| cursor(USAGE, u.created_at, &u.id),
        UsageRecord,
    ))
}

/// A session's observation notes (`Conversation.observationNotes`): staff only (FORBIDDEN for
/// anyone else, the session's participant included).
pub async fn notes_of(
    ctx: &Context<'_>,
    conversation_id: &str,
    args: PageArgs,
) -> ApiResult<ObservationNoteConnection> {
    research(ctx)?.require_notes(ctx.request()?.actor())?;
    let rows = page(
        &ctx.loaders()?.research.note_pages,
        session_key(conversation_id, args),
    )
    .await?;
    Ok(connection(
        rows,
        NoteTotal::Session(count_key(conversation_id)),
        |n| cursor(NOTES, n.created_at, &n.id),
        ObservationNote,
    ))
}

/// The Relay arguments of a selected connection field, and whether it asks for `totalCount`.
fn selection_args(field: &async_graphql::SelectionField<'_>) -> ApiResult<(PageArgs, bool)> {
    let args = page_args(
        argument(field, "first")?,
        argument(field, "after")?,
        argument(field, "last")?,
        argument(field, "before")?,
    )?;
    Ok((args, Lookahead::from(*field).field("totalCount").exists()))
}

/// Reads ahead, for the sessions of one level, every `messages`, `usage` and `observationNotes`
/// list the query selects on them: one statement per list and distinct arguments.
async fn prefetch_session_lists(
    ctx: &Context<'_>,
    node: &Lookahead<'_>,
    ids: &[String],
) -> ApiResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    prefetch_messages(ctx, node, ids).await?;
    let loaders = &ctx.loaders()?.research;
    for field in node.field("usage").selection_fields() {
        let Ok((args, counted)) = selection_args(&field) else {
            continue;
        };
        let query = Arc::new(PageQuery {
            filter: (),
            order: (),
            args,
            columns: Columns::ALL,
        });
        loaders.usage_pages.loader().prefetch(ids, &query).await?;
        if counted {
            loaders
                .usage_pages
                .loader()
                .prefetch_counts(ids, &Arc::new(()))
                .await?;
        }
    }
    if service::is_researcher(ctx.request()?.actor()) {
        for field in node.field("observationNotes").selection_fields() {
            let Ok((args, counted)) = selection_args(&field) else {
                continue;
            };
            let query = Arc::new(PageQuery {
                filter: (),
                order: (),
                args,
                columns: Columns::ALL,
            });
            loaders.note_pages.loader().prefetch(ids, &query).await?;
            if counted {
                loaders
                    .note_pages
                    .loader()
                    .prefetch_counts(ids, &Arc::new(()))
                    .await?;
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Look-ups by id (for `node`).

fn by_id<R, T>(rows: Vec<R>, id: fn(&R) -> &String, wrap: fn(Arc<R>) -> T) -> HashMap<String, T> {
    rows.into_iter()
        .map(|r| (id(&r).clone(), wrap(Arc::new(r))))
        .collect()
}

/// The notes among `ids` the caller may see (staff only).
pub async fn visible_notes(
    ctx: &Context<'_>,
    ids: &[String],
) -> ApiResult<HashMap<String, ObservationNote>> {
    let rows = research(ctx)?
        .notes_by_ids(ctx.request()?.actor(), ids)
        .await?;
    Ok(by_id(rows, |n| &n.id, ObservationNote))
}

/// The telemetry events among `ids` the caller may see (staff only).
pub async fn visible_events(
    ctx: &Context<'_>,
    ids: &[String],
) -> ApiResult<HashMap<String, TelemetryEvent>> {
    let rows = research(ctx)?
        .events_by_ids(ctx.request()?.actor(), ids)
        .await?;
    Ok(by_id(rows, |e| &e.id, TelemetryEvent))
}

/// The usage records among `ids` whose session the caller may read.
pub async fn visible_usage(
    ctx: &Context<'_>,
    ids: &[String],
) -> ApiResult<HashMap<String, UsageRecord>> {
    let rows = research(ctx)?
        .usage_by_ids(ctx.request()?.actor(), ids)
        .await?;
    Ok(by_id(rows, |u| &u.id, UsageRecord))
}

// ---------------------------------------------------------------------------------------------
// Queries.

/// Narrows the research sessions.
#[derive(InputObject, Default)]
pub struct ResearchSessionFilter {
    /// Only the sessions of this invitation.
    pub invitation_id: Option<ID>,
    /// Only sessions of this scenario (its slug).
    pub scenario: Option<String>,
    /// Only sessions in one of these states.
    pub status: Option<Vec<ConversationStatus>>,
}

impl TryFrom<ResearchSessionFilter> for SessionFilter {
    type Error = ApiError;
    fn try_from(f: ResearchSessionFilter) -> ApiResult<Self> {
        Ok(SessionFilter {
            invitation_id: ids::decode_opt(
                f.invitation_id.as_ref(),
                Kind::Invitation,
                "filter.invitationId",
            )?,
            scenario: f.scenario,
            status: f
                .status
                .map(|s| s.into_iter().map(DomainConversationStatus::from).collect()),
        })
    }
}

/// Narrows a list of observation notes.
#[derive(InputObject, Default)]
pub struct ObservationNoteFilter {
    /// Only the notes on this invitation.
    pub invitation_id: Option<ID>,
    /// Only the notes on this session.
    pub session_id: Option<ID>,
    /// Only the notes this researcher wrote.
    pub researcher_id: Option<ID>,
}

impl TryFrom<ObservationNoteFilter> for NoteFilter {
    type Error = ApiError;
    fn try_from(f: ObservationNoteFilter) -> ApiResult<Self> {
        Ok(NoteFilter {
            invitation_id: ids::decode_opt(
                f.invitation_id.as_ref(),
                Kind::Invitation,
                "filter.invitationId",
            )?,
            conversation_id: ids::decode_opt(
                f.session_id.as_ref(),
                Kind::Conversation,
                "filter.sessionId",
            )?,
            researcher_id: ids::decode_opt(
                f.researcher_id.as_ref(),
                Kind::User,
                "filter.researcherId",
            )?,
        })
    }
}

/// Narrows telemetry: by name, time (`from` inclusive, `to` exclusive), user or session.
#[derive(InputObject, Default)]
pub struct TelemetryFilterInput {
    pub name: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub user_id: Option<ID>,
    pub session_id: Option<ID>,
}

impl TryFrom<TelemetryFilterInput> for TelemetryFilter {
    type Error = ApiError;
    fn try_from(f: TelemetryFilterInput) -> ApiResult<Self> {
        Ok(TelemetryFilter {
            name: f.name,
            from: f.from,
            to: f.to,
            user_id: ids::decode_opt(f.user_id.as_ref(), Kind::User, "filter.userId")?,
            conversation_id: ids::decode_opt(
                f.session_id.as_ref(),
                Kind::Conversation,
                "filter.sessionId",
            )?,
        })
    }
}

#[derive(Default)]
pub struct ResearchQuery;

#[Object]
impl ResearchQuery {
    /// Practice sessions that run under invitations, newest first (staff). Each is a
    /// `Conversation`: read its `messages`, `usage` and `observationNotes`. Ordinary users'
    /// own conversations never appear here.
    #[graphql(complexity = "first.or(last).unwrap_or(20).max(0) as usize * child_complexity + 1")]
    async fn research_sessions(
        &self,
        ctx: &Context<'_>,
        filter: Option<ResearchSessionFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> ApiResult<ResearchSessionConnection> {
        let args = page_args(first, after, last, before)?;
        let filter: SessionFilter = filter.unwrap_or_default().try_into()?;
        let rows = research(ctx)?
            .sessions(ctx.request()?.caller.as_ref(), &filter, &args)
            .await?;
        let ids: Vec<String> = rows.items.iter().map(|c| c.id.clone()).collect();
        prefetch_session_lists(ctx, &ctx.look_ahead().field("edges").field("node"), &ids).await?;
        let mut conn = ResearchSessionConnection::with_additional_fields(
            rows.has_previous_page,
            rows.has_next_page,
            SessionTotal(filter),
        );
        conn.edges = rows
            .items
            .into_iter()
            .map(|c| Edge::new(cursor(SESSIONS, c.created_at, &c.id), c.into()))
            .collect();
        Ok(conn)
    }

    /// Observation notes, oldest first (staff): per invitation, per session or per researcher.
    #[graphql(complexity = "first.or(last).unwrap_or(20).max(0) as usize * child_complexity + 1")]
    async fn observation_notes(
        &self,
        ctx: &Context<'_>,
        filter: Option<ObservationNoteFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> ApiResult<ObservationNoteConnection> {
        let args = page_args(first, after, last, before)?;
        let filter: NoteFilter = filter.unwrap_or_default().try_into()?;
        let rows = research(ctx)?
            .notes(ctx.request()?.caller.as_ref(), &filter, &args)
            .await?;
        Ok(connection(
            rows,
            NoteTotal::Filtered(filter),
            |n| cursor(NOTES, n.created_at, &n.id),
            |n| ObservationNote(Arc::new(n)),
        ))
    }

    /// Telemetry events, newest first (staff).
    #[graphql(complexity = "first.or(last).unwrap_or(20).max(0) as usize * child_complexity + 1")]
    async fn telemetry_events(
        &self,
        ctx: &Context<'_>,
        filter: Option<TelemetryFilterInput>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> ApiResult<TelemetryEventConnection> {
        let args = page_args(first, after, last, before)?;
        let filter: TelemetryFilter = filter.unwrap_or_default().try_into()?;
        let rows = research(ctx)?
            .events(ctx.request()?.caller.as_ref(), &filter, &args)
            .await?;
        Ok(connection(
            rows,
            TelemetryTotal(filter),
            |e| cursor(EVENTS, e.created_at, &e.id),
            |e| TelemetryEvent(Arc::new(e)),
        ))
    }

    /// How many events of each name happened on each UTC day under `filter` (staff), oldest day
    /// first. An aggregate, not a list of records: at most 1,000 rows (narrow `from`/`to` or
    /// `name` for more).
    async fn telemetry_counts(
        &self,
        ctx: &Context<'_>,
        filter: Option<TelemetryFilterInput>,
    ) -> ApiResult<Vec<TelemetryCount>> {
        let filter: TelemetryFilter = filter.unwrap_or_default().try_into()?;
        let rows = research(ctx)?
            .daily_counts(ctx.request()?.caller.as_ref(), &filter)
            .await?;
        Ok(rows.into_iter().map(TelemetryCount::from).collect())
    }
}

// ---------------------------------------------------------------------------------------------
// Mutations.

#[derive(InputObject)]
pub struct AddObservationNoteInput {
    /// The invitation the note is about.
    pub invitation_id: ID,
    /// One session of that invitation, when the note is about one.
    pub session_id: Option<ID>,
    /// One message of that session, when the note is about one (the session follows from it).
    pub message_id: Option<ID>,
    /// The observation, up to 10,000 characters.
    pub content: String,
}

#[derive(SimpleObject)]
pub struct AddObservationNotePayload {
    pub observation_note: ObservationNote,
}

#[derive(InputObject)]
pub struct UpdateObservationNoteInput {
    pub id: ID,
    pub content: String,
}

#[derive(SimpleObject)]
pub struct UpdateObservationNotePayload {
    pub observation_note: ObservationNote,
}

#[derive(InputObject)]
pub struct DeleteObservationNoteInput {
    pub id: ID,
}

#[derive(SimpleObject)]
pub struct DeleteObservationNotePayload {
    pub deleted_observation_note_id: ID,
}

/// One telemetry event.
#[derive(InputObject)]
pub struct TelemetryEventInput {
    /// A lowercase letter, then up to 63 of `a-z 0-9 _ . : -`, e.g. `scenario.opened`.
    pub name: String,
    /// A JSON object of at most 8 KiB; `{}` when left out.
    pub properties: Option<Json>,
    /// The session it happened in; it must be one you may read.
    pub session_id: Option<ID>,
    /// When it happened (at most 5 minutes ahead of the server's clock, at most 30 days ago);
    /// defaults to when it is recorded.
    pub occurred_at: Option<DateTime<Utc>>,
}

#[derive(InputObject)]
pub struct RecordTelemetryInput {
    /// 1 to 100 events, stored together.
    pub events: Vec<TelemetryEventInput>,
}

#[derive(SimpleObject)]
pub struct RecordTelemetryPayload {
    /// How many events were stored.
    pub recorded: i32,
    /// The stored events' ids, in the order sent.
    pub event_ids: Vec<ID>,
}

#[derive(Default)]
pub struct ResearchMutation;

#[Object]
impl ResearchMutation {
    /// Adds an observation note (staff) on an invitation, optionally on one of its sessions and
    /// one message of it. Participants never see notes.
    async fn add_observation_note(
        &self,
        ctx: &Context<'_>,
        input: AddObservationNoteInput,
    ) -> ApiResult<AddObservationNotePayload> {
        let draft = NoteDraft {
            invitation_id: ids::decode(&input.invitation_id, Kind::Invitation, "invitationId")?,
            session_id: ids::decode_opt(
                input.session_id.as_ref(),
                Kind::Conversation,
                "sessionId",
            )?,
            message_id: ids::decode_opt(input.message_id.as_ref(), Kind::Message, "messageId")?,
            content: input.content,
        };
        let note = research(ctx)?
            .add_note(ctx.request()?.caller.as_ref(), draft)
            .await?;
        Ok(AddObservationNotePayload {
            observation_note: ObservationNote(Arc::new(note)),
        })
    }

    /// Rewrites one of your observation notes.
    async fn update_observation_note(
        &self,
        ctx: &Context<'_>,
        input: UpdateObservationNoteInput,
    ) -> ApiResult<UpdateObservationNotePayload> {
        let id = ids::decode(&input.id, Kind::ObservationNote, "id")?;
        let note = research(ctx)?
            .update_note(ctx.request()?.caller.as_ref(), &id, &input.content)
            .await?;
        Ok(UpdateObservationNotePayload {
            observation_note: ObservationNote(Arc::new(note)),
        })
    }

    /// Deletes one of your observation notes.
    async fn delete_observation_note(
        &self,
        ctx: &Context<'_>,
        input: DeleteObservationNoteInput,
    ) -> ApiResult<DeleteObservationNotePayload> {
        let id = ids::decode(&input.id, Kind::ObservationNote, "id")?;
        research(ctx)?
            .delete_note(ctx.request()?.caller.as_ref(), &id)
            .await?;
        Ok(DeleteObservationNotePayload {
            deleted_observation_note_id: ids::encode(Kind::ObservationNote, &id),
        })
    }

    /// Records product telemetry: up to 100 events at once, stored together. Signing in is not
    /// required (anonymous callers are rate-limited per address); events carry the signed-in
    /// user.
    async fn record_telemetry(
        &self,
        ctx: &Context<'_>,
        input: RecordTelemetryInput,
    ) -> ApiResult<RecordTelemetryPayload> {
        let events = input
            .events
            .into_iter()
            .map(|e| {
                Ok(EventDraft {
                    name: e.name,
                    properties: e.properties.map(|p| p.0),
                    session_id: ids::decode_opt(
                        e.session_id.as_ref(),
                        Kind::Conversation,
                        "events.sessionId",
                    )?,
                    occurred_at: e.occurred_at,
                })
            })
            .collect::<ApiResult<Vec<_>>>()?;
        let request = ctx.request()?;
        let ids = research(ctx)?
            .record(request.caller.as_ref(), request.address(), events)
            .await?;
        Ok(RecordTelemetryPayload {
            recorded: i32::try_from(ids.len()).unwrap_or(i32::MAX),
            event_ids: ids
                .iter()
                .map(|id| ids::encode(Kind::TelemetryEvent, id))
                .collect(),
        })
    }
}
