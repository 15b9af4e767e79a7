//! Research data of the practice programmes: the sessions that run under invitations (as staff
//! read them), their usage rows, researchers' observation notes, and product telemetry.
//!
//! Access is the caller's to check (the gateway's research service); these are the queries. Lists
//! page by keyset like every other list; per-session lists (usage, notes) read every session of a
//! level in one statement (`batch::pages_by_parent`). Telemetry batches are one multi-row
//! `INSERT`, and counts per name per day are one `GROUP BY` in the database.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use core_domain::enums::ConversationStatus;
use core_domain::pagination::PageArgs;
use core_domain::{ids, time};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait,
    FromQueryResult, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Select, Set,
};

use crate::cursor::{Keyset, batch};
use crate::entity::{
    conversations, invitations, observation_notes, scenarios, telemetry_events, usage_logs,
};
use crate::{Page, StoreError};

pub use crate::conversations::Conversation;
pub use crate::usage::UsageLog;
pub use invitations::Model as Invitation;
pub use observation_notes::Model as ObservationNote;
pub use telemetry_events::Model as TelemetryEvent;

/// An invitation by id (any state; the research service decides who may use it).
pub async fn invitation(
    db: &impl ConnectionTrait,
    id: &str,
) -> Result<Option<Invitation>, StoreError> {
    Ok(invitations::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?)
}

// ---------------------------------------------------------------------------------------------
// Research sessions: conversations that run under an invitation.

/// How the list of research sessions may be narrowed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct SessionFilter {
    pub invitation_id: Option<String>,
    /// The scenario's slug.
    pub scenario: Option<String>,
    pub status: Option<Vec<ConversationStatus>>,
}

/// Newest first (the index `(invitation_id, created_at, id)` serves a per-invitation list).
pub fn session_keyset() -> Keyset<conversations::Column> {
    Keyset {
        name: "research_sessions.created_at.desc",
        at: conversations::Column::CreatedAt,
        id: conversations::Column::Id,
        descending: true,
    }
}

fn sessions_filtered(filter: &SessionFilter) -> Select<conversations::Entity> {
    use conversations::Column;
    let mut cond = Condition::all()
        .add(Column::DeletedAt.is_null())
        .add(Column::InvitationId.is_not_null());
    if let Some(id) = &filter.invitation_id {
        cond = cond.add(Column::InvitationId.eq(id.clone()));
    }
    if let Some(slug) = &filter.scenario {
        cond = cond.add(
            Column::ScenarioId.in_subquery(
                Query::select()
                    .column(scenarios::Column::Id)
                    .from(scenarios::Entity)
                    .and_where(scenarios::Column::Slug.eq(slug.clone()))
                    .to_owned(),
            ),
        );
    }
    if let Some(statuses) = &filter.status {
        cond = cond.add(Column::Status.is_in(statuses.iter().map(|s| s.as_str())));
    }
    conversations::Entity::find().filter(cond)
}

/// A page of the sessions that run under invitations, newest first.
pub async fn session_page(
    db: &impl ConnectionTrait,
    filter: &SessionFilter,
    args: &PageArgs,
) -> Result<Page<Conversation>, StoreError> {
    let keyset = session_keyset();
    let rows = keyset
        .apply(sessions_filtered(filter), args)?
        .all(db)
        .await?;
    Ok(Keyset::<conversations::Column>::page(args, rows))
}

pub async fn session_count(
    db: &impl ConnectionTrait,
    filter: &SessionFilter,
) -> Result<u64, StoreError> {
    Ok(sessions_filtered(filter).count(db).await?)
}

// ---------------------------------------------------------------------------------------------
// Usage rows of sessions.

/// Oldest first, like the session's transcript.
pub fn usage_keyset() -> Keyset<usage_logs::Column> {
    Keyset {
        name: "usage_logs.created_at.asc",
        at: usage_logs::Column::CreatedAt,
        id: usage_logs::Column::Id,
        descending: false,
    }
}

/// One page of usage rows per conversation, in one statement for all of them.
pub async fn usage_pages(
    db: &impl ConnectionTrait,
    conversation_ids: &[String],
    args: &PageArgs,
) -> Result<HashMap<String, Page<UsageLog>>, StoreError> {
    batch::pages_by_parent(
        db,
        usage_logs::Entity::find(),
        usage_logs::Column::ConversationId,
        conversation_ids,
        &usage_keyset(),
        args,
        |u: &UsageLog| u.conversation_id.as_deref().unwrap_or_default(),
    )
    .await
}

/// Usage rows by id, in one statement.
pub async fn usage_by_ids(
    db: &impl ConnectionTrait,
    ids: &[String],
) -> Result<Vec<UsageLog>, StoreError> {
    crate::rows::by_ids::<usage_logs::Entity>(db, ids).await
}

/// How many usage rows each conversation has, in one statement.
pub async fn usage_counts(
    db: &impl ConnectionTrait,
    conversation_ids: &[String],
) -> Result<HashMap<String, u64>, StoreError> {
    crate::rows::counts_by_parent(
        db,
        usage_logs::Entity::find(),
        usage_logs::Column::ConversationId,
        conversation_ids,
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// Observation notes.

#[derive(Debug, Clone)]
pub struct NewNote {
    pub invitation_id: String,
    pub conversation_id: Option<String>,
    pub message_id: Option<String>,
    pub researcher_id: String,
    pub content: String,
}

/// How a list of notes may be narrowed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct NoteFilter {
    pub invitation_id: Option<String>,
    pub conversation_id: Option<String>,
    pub researcher_id: Option<String>,
}

/// Oldest first, as notes are read alongside a transcript.
pub fn note_keyset() -> Keyset<observation_notes::Column> {
    Keyset {
        name: "observation_notes.created_at.asc",
        at: observation_notes::Column::CreatedAt,
        id: observation_notes::Column::Id,
        descending: false,
    }
}

pub async fn insert_note(
    db: &impl ConnectionTrait,
    new: NewNote,
) -> Result<ObservationNote, StoreError> {
    let row = observation_notes::ActiveModel {
        id: Set(ids::new_id()),
        invitation_id: Set(new.invitation_id),
        conversation_id: Set(new.conversation_id),
        message_id: Set(new.message_id),
        researcher_id: Set(new.researcher_id),
        content: Set(new.content),
        created_at: Set(time::now()),
    };
    Ok(row.insert(db).await?)
}

pub async fn find_note(
    db: &impl ConnectionTrait,
    id: &str,
) -> Result<Option<ObservationNote>, StoreError> {
    Ok(observation_notes::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?)
}

pub async fn notes_by_ids(
    db: &impl ConnectionTrait,
    ids: &[String],
) -> Result<Vec<ObservationNote>, StoreError> {
    crate::rows::by_ids::<observation_notes::Entity>(db, ids).await
}

/// Replaces a note's text when `researcher_id` wrote it; `None` when no such note of theirs.
pub async fn update_note(
    db: &impl ConnectionTrait,
    id: &str,
    researcher_id: &str,
    content: &str,
) -> Result<Option<ObservationNote>, StoreError> {
    use observation_notes::Column;
    let res = observation_notes::Entity::update_many()
        .col_expr(Column::Content, Expr::value(content))
        .filter(Column::Id.eq(id))
        .filter(Column::ResearcherId.eq(researcher_id))
        .exec(db)
        .await?;
    if res.rows_affected == 0 {
        return Ok(None);
    }
    find_note(db, id).await
}

/// Deletes a note `researcher_id` wrote; whether one was deleted.
pub async fn delete_note(
    db: &impl ConnectionTrait,
    id: &str,
    researcher_id: &str,
) -> Result<bool, StoreError> {
    use observation_notes::Column;
    let res = observation_notes::Entity::delete_many()
        .filter(Column::Id.eq(id))
        .filter(Column::ResearcherId.eq(researcher_id))
        .exec(db)
        .await?;
    Ok(res.rows_affected > 0)
}

fn notes_filtered(filter: &NoteFilter) -> Select<observation_notes::Entity> {
    use observation_notes::Column;
    let mut cond = Condition::all();
    if let Some(id) = &filter.invitation_id {
        cond = cond.add(Column::InvitationId.eq(id.clone()));
    }
    if let Some(id) = &filter.conversation_id {
        cond = cond.add(Column::ConversationId.eq(id.clone()));
    }
    if let Some(id) = &filter.researcher_id {
        cond = cond.add(Column::ResearcherId.eq(id.clone()));
    }
    observation_notes::Entity::find().filter(cond)
}

pub async fn note_page(
    db: &impl ConnectionTrait,
    filter: &NoteFilter,
    args: &PageArgs,
) -> Result<Page<ObservationNote>, StoreError> {
    let keyset = note_keyset();
    let rows = keyset.apply(notes_filtered(filter), args)?.all(db).await?;
    Ok(Keyset::<observation_notes::Column>::page(args, rows))
}

pub async fn note_count(db: &impl ConnectionTrait, filter: &NoteFilter) -> Result<u64, StoreError> {
    Ok(notes_filtered(filter).count(db).await?)
}

/// One page of notes per conversation, in one statement for all of them.
pub async fn note_pages(
    db: &impl ConnectionTrait,
    conversation_ids: &[String],
    args: &PageArgs,
) -> Result<HashMap<String, Page<ObservationNote>>, StoreError> {
    batch::pages_by_parent(
        db,
        observation_notes::Entity::find(),
        observation_notes::Column::ConversationId,
        conversation_ids,
        &note_keyset(),
        args,
        |n: &ObservationNote| n.conversation_id.as_deref().unwrap_or_default(),
    )
    .await
}

/// How many notes each conversation has, in one statement.
pub async fn note_counts(
    db: &impl ConnectionTrait,
    conversation_ids: &[String],
) -> Result<HashMap<String, u64>, StoreError> {
    crate::rows::counts_by_parent(
        db,
        observation_notes::Entity::find(),
        observation_notes::Column::ConversationId,
        conversation_ids,
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// Telemetry.

#[derive(Debug, Clone)]
pub struct NewEvent {
    pub name: String,
    pub properties: serde_json::Value,
    pub user_id: Option<String>,
    pub conversation_id: Option<String>,
    /// When it happened (the client's `occurredAt`, else when it was received).
    pub at: DateTime<Utc>,
}

/// Stores a batch of events in ONE statement (a multi-row `INSERT`); returns their ids in order.
pub async fn insert_events(
    db: &impl ConnectionTrait,
    events: Vec<NewEvent>,
) -> Result<Vec<String>, StoreError> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let mut ids_out = Vec::with_capacity(events.len());
    let rows: Vec<telemetry_events::ActiveModel> = events
        .into_iter()
        .map(|e| {
            let id = ids::new_id();
            ids_out.push(id.clone());
            telemetry_events::ActiveModel {
                id: Set(id),
                name: Set(e.name),
                properties: Set(e.properties),
                user_id: Set(e.user_id),
                conversation_id: Set(e.conversation_id),
                created_at: Set(e.at),
            }
        })
        .collect();
    telemetry_events::Entity::insert_many(rows)
        .exec_without_returning(db)
        .await?;
    Ok(ids_out)
}

/// How telemetry may be narrowed: by name, time (`from` inclusive, `to` exclusive), user or session.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct TelemetryFilter {
    pub name: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub user_id: Option<String>,
    pub conversation_id: Option<String>,
}

/// Newest first.
pub fn telemetry_keyset() -> Keyset<telemetry_events::Column> {
    Keyset {
        name: "telemetry_events.created_at.desc",
        at: telemetry_events::Column::CreatedAt,
        id: telemetry_events::Column::Id,
        descending: true,
    }
}

fn telemetry_filtered(filter: &TelemetryFilter) -> Select<telemetry_events::Entity> {
    use telemetry_events::Column;
    let mut cond = Condition::all();
    if let Some(name) = &filter.name {
        cond = cond.add(Column::Name.eq(name.clone()));
    }
    if let Some(t) = filter.from {
        cond = cond.add(Column::CreatedAt.gte(t));
    }
    if let Some(t) = filter.to {
        cond = cond.add(Column::CreatedAt.lt(t));
    }
    if let Some(id) = &filter.user_id {
        cond = cond.add(Column::UserId.eq(id.clone()));
    }
    if let Some(id) = &filter.conversation_id {
        cond = cond.add(Column::ConversationId.eq(id.clone()));
    }
    telemetry_events::Entity::find().filter(cond)
}

pub async fn telemetry_page(
    db: &impl ConnectionTrait,
    filter: &TelemetryFilter,
    args: &PageArgs,
) -> Result<Page<TelemetryEvent>, StoreError> {
    let keyset = telemetry_keyset();
    let rows = keyset
        .apply(telemetry_filtered(filter), args)?
        .all(db)
        .await?;
    Ok(Keyset::<telemetry_events::Column>::page(args, rows))
}

pub async fn telemetry_count(
    db: &impl ConnectionTrait,
    filter: &TelemetryFilter,
) -> Result<u64, StoreError> {
    Ok(telemetry_filtered(filter).count(db).await?)
}

pub async fn events_by_ids(
    db: &impl ConnectionTrait,
    ids: &[String],
) -> Result<Vec<TelemetryEvent>, StoreError> {
    crate::rows::by_ids::<telemetry_events::Entity>(db, ids).await
}

/// How many events of one name happened on one UTC day.
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct DailyCount {
    pub name: String,
    /// `YYYY-MM-DD`, UTC.
    pub day: String,
    pub count: i64,
}

/// Events per name per UTC day under `filter`, in one `GROUP BY` (days ascending, then names).
/// At most `limit` rows.
pub async fn daily_counts(
    db: &impl ConnectionTrait,
    filter: &TelemetryFilter,
    limit: u64,
) -> Result<Vec<DailyCount>, StoreError> {
    // Timestamps are written in UTC by the application: on SQLite they are text whose first ten
    // characters are the date; PostgreSQL formats the instant in UTC.
    let day = match db.get_database_backend() {
        DbBackend::Postgres => {
            "to_char(\"telemetry_events\".\"created_at\" AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
        }
        _ => "substr(\"telemetry_events\".\"created_at\", 1, 10)",
    };
    use telemetry_events::Column;
    Ok(telemetry_filtered(filter)
        .select_only()
        .column(Column::Name)
        .column_as(Expr::cust(day), "day")
        .column_as(Column::Id.count(), "count")
        .group_by(Column::Name)
        .group_by(Expr::cust(day))
        .order_by_asc(Expr::cust(day))
        .order_by_asc(Column::Name)
        .limit(limit)
        .into_model::<DailyCount>()
        .all(db)
        .await?)
}
