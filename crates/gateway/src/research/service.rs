//! The research area's use cases: staff reading the sessions that run under invitations (their
//! messages, usage and notes), researchers' observation notes, and product telemetry.
//!
//! Access rules, once each:
//! - **Research sessions** are conversations; who may read one is the conversations area's rule
//!   (`conversations::service::resource`): staff read sessions under invitations and never a
//!   user's private conversation. Lists here are for staff (and admins) only: FORBIDDEN for
//!   anyone else.
//! - **Notes** are staff data: invisible to everyone else (a note's id is NOT_FOUND / null for
//!   them, lists are FORBIDDEN). Staff read every note; only its author (or an admin) edits or
//!   deletes one: another staff member gets FORBIDDEN (they can see it, so nothing is hidden).
//! - **Telemetry** may be recorded by anyone, anonymous callers included, under a per-address
//!   rate limit; only staff read it.

use persistence::sea_orm::TransactionTrait as _;
use serde_json::json;

use crate::platform::audit;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use core_domain::pagination::PageArgs;
use core_domain::policy::{Action, Resource, can};
use core_domain::{Actor, research, time};
use persistence::research::{self as store, NewEvent, NewNote};
use persistence::{Db, conversations};

use crate::accounts::Caller;
use crate::conversations::ConversationService;
use crate::conversations::service::can_read;
use crate::error::{ApiError, ApiResult};
use crate::platform::rate_limit::RateLimiter;

pub use persistence::Page;
pub use persistence::research::{
    Conversation, DailyCount, NoteFilter, ObservationNote, SessionFilter, TelemetryEvent,
    TelemetryFilter, UsageLog,
};

/// Most rows `telemetryCounts` answers (names × days).
pub const MAX_COUNT_ROWS: u64 = 1_000;

/// What a new note says and what it is about.
#[derive(Debug, Clone)]
pub struct NoteDraft {
    pub invitation_id: String,
    pub session_id: Option<String>,
    pub message_id: Option<String>,
    pub content: String,
}

/// One telemetry event as a client sends it (ids already decoded).
#[derive(Debug, Clone)]
pub struct EventDraft {
    pub name: String,
    pub properties: Option<serde_json::Value>,
    pub session_id: Option<String>,
    pub occurred_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Whether `actor` reads research data (staff and admins).
pub fn is_researcher(actor: Option<&Actor>) -> bool {
    actor.is_some_and(|a| {
        can(
            Some(a),
            Action::Read,
            &Resource::Research { subject_id: None },
        )
    })
}

pub struct ResearchService {
    db: Db,
    conversations: Arc<ConversationService>,
    /// Telemetry calls per minute per address, for callers who are not signed in.
    anonymous_telemetry: RateLimiter,
}

impl ResearchService {
    pub fn new(
        db: Db,
        conversations: Arc<ConversationService>,
        anonymous_telemetry_per_minute: u32,
    ) -> Self {
        Self {
            conversations,
            // Across instances on PostgreSQL, leased in blocks so a call rarely costs a statement.
            anonymous_telemetry: RateLimiter::across_instances(
                "telemetry:address",
                anonymous_telemetry_per_minute,
                &db,
                RateLimiter::request_block(anonymous_telemetry_per_minute),
            ),
            db,
        }
    }

    /// The caller, who must read research data: UNAUTHENTICATED without one, FORBIDDEN for
    /// anyone but staff and admins.
    fn researcher<'a>(&self, caller: Option<&'a Caller>) -> ApiResult<&'a Actor> {
        let caller = caller.ok_or(ApiError::Unauthenticated)?;
        if is_researcher(Some(&caller.actor)) {
            Ok(&caller.actor)
        } else {
            Err(ApiError::Forbidden("only staff read research data"))
        }
    }

    // -- research sessions -----------------------------------------------------------------

    /// A page of the sessions that run under invitations (staff).
    pub async fn sessions(
        &self,
        caller: Option<&Caller>,
        filter: &SessionFilter,
        args: &PageArgs,
    ) -> ApiResult<Page<Conversation>> {
        let actor = self.researcher(caller)?;
        let mut page = store::session_page(self.db.conn(), filter, args).await?;
        // Defence in depth: every row is checked against the conversation rule too.
        page.items.retain(|c| can_read(Some(actor), c));
        Ok(page)
    }

    pub async fn session_count(
        &self,
        caller: Option<&Caller>,
        filter: &SessionFilter,
    ) -> ApiResult<u64> {
        self.researcher(caller)?;
        Ok(store::session_count(self.db.conn(), filter).await?)
    }

    // -- usage -------------------------------------------------------------------------------

    /// Usage rows among `ids` whose session the caller may read (for `node`).
    pub async fn usage_by_ids(
        &self,
        actor: Option<&Actor>,
        ids: &[String],
    ) -> ApiResult<Vec<UsageLog>> {
        if actor.is_none() || ids.is_empty() {
            return Ok(Vec::new());
        }
        let db = self.db.conn();
        let rows = store::usage_by_ids(db, ids).await?;
        let session_ids: Vec<String> = rows
            .iter()
            .filter_map(|u| u.conversation_id.clone())
            .collect();
        let readable: HashSet<String> = conversations::by_ids(db, &session_ids)
            .await?
            .into_iter()
            .filter(|c| can_read(actor, c))
            .map(|c| c.id)
            .collect();
        Ok(rows
            .into_iter()
            .filter(|u| {
                u.conversation_id
                    .as_ref()
                    .is_some_and(|c| readable.contains(c))
            })
            .collect())
    }

    // -- observation notes -------------------------------------------------------------------

    /// Adds a note by the caller (staff) on an invitation, and optionally one of its sessions and
    /// one message of it. The invitation, session and message must exist (NOT_FOUND); the
    /// session must run under the invitation and the message belong to the session
    /// (BAD_USER_INPUT on `sessionId` / `messageId`).
    pub async fn add_note(
        &self,
        caller: Option<&Caller>,
        draft: NoteDraft,
    ) -> ApiResult<ObservationNote> {
        let actor = self.researcher(caller)?;
        research::check_note(&draft.content)?;
        let db = self.db.conn();
        store::invitation(db, &draft.invitation_id)
            .await?
            .ok_or(ApiError::NotFound)?;
        let mut session_id = None;
        if let Some(id) = &draft.session_id {
            let session = self
                .conversations
                .authorized(Some(actor), id, Action::Read)
                .await?;
            if session.invitation_id.as_deref() != Some(draft.invitation_id.as_str()) {
                return Err(ApiError::bad_input(
                    "sessionId",
                    "is not a session of this invitation",
                ));
            }
            session_id = Some(session.id);
        }
        if let Some(id) = &draft.message_id {
            let (message, session) = self
                .conversations
                .message_for(Some(actor), id, Action::Read)
                .await?;
            match &session_id {
                Some(s) if *s != message.conversation_id => {
                    return Err(ApiError::bad_input(
                        "messageId",
                        "is not a message of this session",
                    ));
                }
                Some(_) => {}
                None => {
                    if session.invitation_id.as_deref() != Some(draft.invitation_id.as_str()) {
                        return Err(ApiError::bad_input(
                            "messageId",
                            "is not a message of a session of this invitation",
                        ));
                    }
                    session_id = Some(session.id);
                }
            }
        }
        let txn = db.begin().await?;
        let note = store::insert_note(
            &txn,
            NewNote {
                invitation_id: draft.invitation_id,
                conversation_id: session_id,
                message_id: draft.message_id,
                researcher_id: actor.user_id.clone(),
                content: draft.content,
            },
        )
        .await?;
        audit::record(
            &txn,
            Some(&actor.user_id),
            "observation_note.added",
            "ObservationNote",
            &note.id,
            json!({ "invitationId": note.invitation_id }),
        )
        .await?;
        txn.commit().await?;
        Ok(note)
    }

    /// A note the caller may change: NOT_FOUND for a missing note or a caller who may not see
    /// notes; FORBIDDEN for staff who did not write it.
    async fn own_note(&self, caller: Option<&Caller>, id: &str) -> ApiResult<ObservationNote> {
        let caller = caller.ok_or(ApiError::Unauthenticated)?;
        if !is_researcher(Some(&caller.actor)) {
            return Err(ApiError::NotFound);
        }
        let note = store::find_note(self.db.conn(), id)
            .await?
            .ok_or(ApiError::NotFound)?;
        if note.researcher_id != caller.actor.user_id && !caller.actor.is_admin() {
            return Err(ApiError::Forbidden(
                "only the researcher who wrote a note changes it",
            ));
        }
        Ok(note)
    }

    pub async fn update_note(
        &self,
        caller: Option<&Caller>,
        id: &str,
        content: &str,
    ) -> ApiResult<ObservationNote> {
        let note = self.own_note(caller, id).await?;
        research::check_note(content)?;
        let txn = self.db.conn().begin().await?;
        let updated = store::update_note(&txn, id, &note.researcher_id, content)
            .await?
            .ok_or(ApiError::NotFound)?;
        audit::record(
            &txn,
            caller.map(|c| c.actor.user_id.as_str()),
            "observation_note.updated",
            "ObservationNote",
            id,
            json!({}),
        )
        .await?;
        txn.commit().await?;
        Ok(updated)
    }

    pub async fn delete_note(&self, caller: Option<&Caller>, id: &str) -> ApiResult<()> {
        let note = self.own_note(caller, id).await?;
        let txn = self.db.conn().begin().await?;
        if !store::delete_note(&txn, id, &note.researcher_id).await? {
            return Err(ApiError::NotFound);
        }
        audit::record(
            &txn,
            caller.map(|c| c.actor.user_id.as_str()),
            "observation_note.deleted",
            "ObservationNote",
            id,
            json!({}),
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }

    /// A page of notes (staff), oldest first.
    pub async fn notes(
        &self,
        caller: Option<&Caller>,
        filter: &NoteFilter,
        args: &PageArgs,
    ) -> ApiResult<Page<ObservationNote>> {
        self.researcher(caller)?;
        Ok(store::note_page(self.db.conn(), filter, args).await?)
    }

    pub async fn note_count(&self, caller: Option<&Caller>, filter: &NoteFilter) -> ApiResult<u64> {
        self.researcher(caller)?;
        Ok(store::note_count(self.db.conn(), filter).await?)
    }

    /// Notes among `ids`, for staff; nothing for anyone else (for `node`).
    pub async fn notes_by_ids(
        &self,
        actor: Option<&Actor>,
        ids: &[String],
    ) -> ApiResult<Vec<ObservationNote>> {
        if !is_researcher(actor) {
            return Ok(Vec::new());
        }
        Ok(store::notes_by_ids(self.db.conn(), ids).await?)
    }

    /// Whether the caller may read notes at all (the nested `observationNotes` lists).
    pub fn require_notes(&self, actor: Option<&Actor>) -> ApiResult<()> {
        match actor {
            None => Err(ApiError::Unauthenticated),
            Some(a) if is_researcher(Some(a)) => Ok(()),
            Some(_) => Err(ApiError::Forbidden("only staff read observation notes")),
        }
    }

    // -- telemetry ---------------------------------------------------------------------------

    /// Records up to 100 events in one statement. Anyone may record (events carry the caller's
    /// user when signed in); anonymous callers are limited per address. A `sessionId` must name
    /// a session the caller may read (NOT_FOUND otherwise).
    pub async fn record(
        &self,
        caller: Option<&Caller>,
        address: Option<&str>,
        events: Vec<EventDraft>,
    ) -> ApiResult<Vec<String>> {
        if caller.is_none() {
            let key = format!("telemetry:{}", address.unwrap_or("unknown"));
            self.anonymous_telemetry
                .check(&key)
                .await
                .map_err(|retry_after| ApiError::RateLimited { retry_after })?;
        }
        if events.is_empty() {
            return Err(ApiError::bad_input(
                "events",
                "must hold at least one event",
            ));
        }
        if events.len() > research::MAX_EVENTS_PER_CALL {
            return Err(ApiError::bad_input(
                "events",
                format!(
                    "at most {} events per call (got {})",
                    research::MAX_EVENTS_PER_CALL,
                    events.len()
                ),
            ));
        }
        let now = time::now();
        let actor = caller.map(|c| &c.actor);
        let mut rows = Vec::with_capacity(events.len());
        for e in events {
            research::check_event_name(&e.name)?;
            rows.push(NewEvent {
                properties: research::check_properties(e.properties)?,
                at: research::event_time(e.occurred_at, now)?,
                name: e.name,
                user_id: actor.map(|a| a.user_id.clone()),
                conversation_id: e.session_id,
            });
        }
        let db = self.db.conn();
        let wanted: Vec<String> = rows
            .iter()
            .filter_map(|r| r.conversation_id.clone())
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        if !wanted.is_empty() {
            let readable: HashMap<String, bool> = conversations::by_ids(db, &wanted)
                .await?
                .into_iter()
                .map(|c| {
                    let ok = can_read(actor, &c);
                    (c.id, ok)
                })
                .collect();
            if wanted.iter().any(|id| readable.get(id) != Some(&true)) {
                return Err(ApiError::NotFound);
            }
        }
        let names: Vec<String> = rows.iter().map(|r| r.name.clone()).collect();
        let txn = db.begin().await?;
        let ids = store::insert_events(&txn, rows).await?;
        audit::record(
            &txn,
            actor.map(|a| a.user_id.as_str()),
            "telemetry.recorded",
            "TelemetryEvent",
            ids.first().map_or("", String::as_str),
            json!({ "count": ids.len(), "names": names }),
        )
        .await?;
        txn.commit().await?;
        Ok(ids)
    }

    /// A page of events (staff), newest first.
    pub async fn events(
        &self,
        caller: Option<&Caller>,
        filter: &TelemetryFilter,
        args: &PageArgs,
    ) -> ApiResult<Page<TelemetryEvent>> {
        self.researcher(caller)?;
        check_range(filter)?;
        Ok(store::telemetry_page(self.db.conn(), filter, args).await?)
    }

    pub async fn event_count(
        &self,
        caller: Option<&Caller>,
        filter: &TelemetryFilter,
    ) -> ApiResult<u64> {
        self.researcher(caller)?;
        Ok(store::telemetry_count(self.db.conn(), filter).await?)
    }

    /// Events per name per UTC day (staff), counted in the database.
    pub async fn daily_counts(
        &self,
        caller: Option<&Caller>,
        filter: &TelemetryFilter,
    ) -> ApiResult<Vec<DailyCount>> {
        self.researcher(caller)?;
        check_range(filter)?;
        Ok(store::daily_counts(self.db.conn(), filter, MAX_COUNT_ROWS).await?)
    }

    /// Events among `ids`, for staff; nothing for anyone else (for `node`).
    pub async fn events_by_ids(
        &self,
        actor: Option<&Actor>,
        ids: &[String],
    ) -> ApiResult<Vec<TelemetryEvent>> {
        if !is_researcher(actor) {
            return Ok(Vec::new());
        }
        Ok(store::events_by_ids(self.db.conn(), ids).await?)
    }
}

fn check_range(filter: &TelemetryFilter) -> ApiResult<()> {
    if let (Some(from), Some(to)) = (filter.from, filter.to)
        && from >= to
    {
        return Err(ApiError::bad_input("filter.to", "must be after `from`"));
    }
    Ok(())
}
