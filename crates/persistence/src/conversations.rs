//! Conversations: every app's chat sessions in one table. Deleting one is a soft delete
//! (`deleted_at`): it disappears from every query here, and its messages with it.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use core_domain::enums::ConversationStatus;
use core_domain::pagination::PageArgs;
use core_domain::{ids, time};
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, Select,
    Set,
};

use crate::cells::{Cell, Layout};
use crate::cursor::{Keyset, batch};
use crate::entity::conversations::{self, Column, Entity};
use crate::{Page, StoreError};

pub use conversations::Model as Conversation;

/// The fields a client sets when starting a conversation.
#[derive(Debug, Clone, Default)]
pub struct NewConversation {
    pub user_id: Option<String>,
    pub title: Option<String>,
    pub model: Option<String>,
    pub system_prompt: Option<String>,
    pub persona_id: Option<String>,
    pub room_id: Option<String>,
}

/// How a list of conversations may be narrowed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ConversationFilter {
    pub status: Option<Vec<ConversationStatus>>,
    /// Case-insensitive substring of the title.
    pub title_contains: Option<String>,
    pub persona_id: Option<String>,
    pub room_id: Option<String>,
    pub created_after: Option<DateTime<Utc>>,
    pub created_before: Option<DateTime<Utc>>,
}

/// The orderings a list of conversations can be read in; each has an index.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum ConversationOrder {
    CreatedAsc,
    CreatedDesc,
    UpdatedAsc,
    /// Most recently active first: what a chat app's sidebar shows.
    #[default]
    UpdatedDesc,
}

impl ConversationOrder {
    pub fn keyset(self) -> Keyset<Column> {
        let (name, at, descending) = match self {
            Self::CreatedAsc => ("conversations.created_at.asc", Column::CreatedAt, false),
            Self::CreatedDesc => ("conversations.created_at.desc", Column::CreatedAt, true),
            Self::UpdatedAsc => ("conversations.updated_at.asc", Column::UpdatedAt, false),
            Self::UpdatedDesc => ("conversations.updated_at.desc", Column::UpdatedAt, true),
        };
        Keyset {
            name,
            at,
            id: Column::Id,
            descending,
        }
    }

    /// The timestamp a cursor for `row` carries.
    pub fn cursor_at(self, row: &Conversation) -> DateTime<Utc> {
        match self {
            Self::CreatedAsc | Self::CreatedDesc => row.created_at,
            Self::UpdatedAsc | Self::UpdatedDesc => row.updated_at,
        }
    }
}

pub async fn create(
    db: &impl ConnectionTrait,
    new: NewConversation,
) -> Result<Conversation, StoreError> {
    let now = time::now();
    let custom = new.title.is_some();
    let model = conversations::ActiveModel {
        id: Set(ids::new_id()),
        user_id: Set(new.user_id),
        invitation_id: Set(None),
        scenario_id: Set(None),
        persona_id: Set(new.persona_id),
        room_id: Set(new.room_id),
        project_id: Set(None),
        title: Set(new.title.unwrap_or_else(|| DEFAULT_TITLE.to_owned())),
        title_is_custom: Set(custom),
        model: Set(new.model),
        system_prompt: Set(new.system_prompt),
        status: Set(ConversationStatus::Active.into()),
        started_at: Set(now),
        ended_at: Set(None),
        total_messages: Set(0),
        duration_seconds: Set(None),
        active_since: Set(Some(now)),
        metadata: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        deleted_at: Set(None),
    };
    Ok(model.insert(db).await?)
}

fn live() -> Select<Entity> {
    Entity::find().filter(Column::DeletedAt.is_null())
}

/// A live conversation by id (access is the caller's to check).
pub async fn find(db: &impl ConnectionTrait, id: &str) -> Result<Option<Conversation>, StoreError> {
    Ok(live().filter(Column::Id.eq(id)).one(db).await?)
}

/// Live conversations by id, in one statement.
pub async fn by_ids(
    db: &impl ConnectionTrait,
    ids: &[String],
) -> Result<Vec<Conversation>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(live()
        .filter(Column::Id.is_in(ids.iter().cloned()))
        .all(db)
        .await?)
}

/// Sets a title chosen by the user (an AI-generated title never overwrites it afterwards).
pub async fn rename(
    db: &impl ConnectionTrait,
    id: &str,
    title: &str,
) -> Result<Option<Conversation>, StoreError> {
    let res = Entity::update_many()
        .col_expr(Column::Title, Expr::value(title))
        .col_expr(Column::TitleIsCustom, Expr::value(true))
        .col_expr(Column::UpdatedAt, Expr::value(time::now()))
        .filter(Column::Id.eq(id))
        .filter(Column::DeletedAt.is_null())
        .exec(db)
        .await?;
    if res.rows_affected == 0 {
        return Ok(None);
    }
    find(db, id).await
}

/// Changes what the next replies use: `Some` fields are written, `None` ones left alone.
pub async fn update_settings(
    db: &impl ConnectionTrait,
    id: &str,
    model: Option<String>,
    system_prompt: Option<String>,
) -> Result<Option<Conversation>, StoreError> {
    let mut update = Entity::update_many()
        .col_expr(Column::UpdatedAt, Expr::value(time::now()))
        .filter(Column::Id.eq(id))
        .filter(Column::DeletedAt.is_null());
    if let Some(model) = model {
        update = update.col_expr(Column::Model, Expr::value(model));
    }
    if let Some(prompt) = system_prompt {
        update = update.col_expr(Column::SystemPrompt, Expr::value(prompt));
    }
    if update.exec(db).await?.rows_affected == 0 {
        return Ok(None);
    }
    find(db, id).await
}

/// The title a conversation starts with.
pub const DEFAULT_TITLE: &str = "New Conversation";

/// Names a conversation that still has its default title (and no title the user chose) with
/// `title`, atomically: of several first replies finishing at once, one claims the naming.
/// Returns whether this call claimed it.
pub async fn claim_title(
    db: &impl ConnectionTrait,
    id: &str,
    title: &str,
) -> Result<bool, StoreError> {
    let res = Entity::update_many()
        .col_expr(Column::Title, Expr::value(title))
        .col_expr(Column::UpdatedAt, Expr::value(time::now()))
        .filter(Column::Id.eq(id))
        .filter(Column::TitleIsCustom.eq(false))
        .filter(Column::Title.eq(DEFAULT_TITLE))
        .exec(db)
        .await?;
    Ok(res.rows_affected > 0)
}

/// Sets a generated title unless the user chose one meanwhile. Returns whether it was set.
pub async fn set_generated_title(
    db: &impl ConnectionTrait,
    id: &str,
    title: &str,
) -> Result<bool, StoreError> {
    let res = Entity::update_many()
        .col_expr(Column::Title, Expr::value(title))
        .col_expr(Column::UpdatedAt, Expr::value(time::now()))
        .filter(Column::Id.eq(id))
        .filter(Column::TitleIsCustom.eq(false))
        .exec(db)
        .await?;
    Ok(res.rows_affected > 0)
}

/// Soft-deletes; returns whether a live conversation was deleted.
pub async fn soft_delete(db: &impl ConnectionTrait, id: &str) -> Result<bool, StoreError> {
    let now = time::now();
    let res = Entity::update_many()
        .col_expr(Column::DeletedAt, Expr::value(now))
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .filter(Column::Id.eq(id))
        .filter(Column::DeletedAt.is_null())
        .exec(db)
        .await?;
    Ok(res.rows_affected > 0)
}

/// Counts a new message and marks the conversation active now.
pub async fn note_message(
    db: &impl ConnectionTrait,
    id: &str,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    Entity::update_many()
        .col_expr(
            Column::TotalMessages,
            Expr::col(Column::TotalMessages).add(1),
        )
        .col_expr(Column::UpdatedAt, Expr::value(at))
        .filter(Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

pub(crate) fn filtered(filter: &ConversationFilter) -> Select<Entity> {
    let mut cond = Condition::all().add(Column::DeletedAt.is_null());
    if let Some(statuses) = &filter.status {
        cond = cond.add(Column::Status.is_in(statuses.iter().map(|s| s.as_str())));
    }
    if let Some(text) = filter.title_contains.as_deref().filter(|t| !t.is_empty()) {
        // LIKE is case-insensitive for ASCII on SQLite; lower() both sides so PostgreSQL agrees.
        let pattern = format!("%{}%", escape_like(&text.to_lowercase()));
        cond = cond.add(
            Func::lower(Expr::col(Column::Title))
                .like(sea_orm::sea_query::LikeExpr::new(pattern).escape('\\')),
        );
    }
    if let Some(p) = &filter.persona_id {
        cond = cond.add(Column::PersonaId.eq(p.clone()));
    }
    if let Some(r) = &filter.room_id {
        cond = cond.add(Column::RoomId.eq(r.clone()));
    }
    if let Some(t) = filter.created_after {
        cond = cond.add(Column::CreatedAt.gt(t));
    }
    if let Some(t) = filter.created_before {
        cond = cond.add(Column::CreatedAt.lt(t));
    }
    Entity::find().filter(cond)
}

fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// One page of each user's conversations, in one statement for all users.
pub async fn pages_for_users(
    db: &impl ConnectionTrait,
    user_ids: &[String],
    filter: &ConversationFilter,
    order: ConversationOrder,
    args: &PageArgs,
) -> Result<HashMap<String, Page<Conversation>>, StoreError> {
    batch::pages_by_parent(
        db,
        filtered(filter),
        Column::UserId,
        user_ids,
        &order.keyset(),
        args,
        |c: &Conversation| c.user_id.as_deref().unwrap_or_default(),
    )
    .await
}

crate::column_set!(
    /// The conversation columns a reader asks for; a page read with fewer than
    /// [`ConversationColumns::ALL`] holds placeholders for the others (see
    /// [`crate::messages::MessageColumns`]).
    ConversationColumns,
    Column
);

impl ConversationColumns {
    /// What every page reads: the id, the owner (rows are grouped by it, and access is checked
    /// on it and on `invitation_id`) and both orderings' timestamps (cursors are made of them).
    pub const KEYS: Self = Self::NONE
        .with(Column::Id)
        .with(Column::UserId)
        .with(Column::InvitationId)
        .with(Column::CreatedAt)
        .with(Column::UpdatedAt);
}

/// [`pages_for_users`] reading only `columns` (and [`ConversationColumns::KEYS`]); whole rows when
/// all are asked for, or the JSON metadata.
pub async fn sparse_pages_for_users(
    db: &impl ConnectionTrait,
    user_ids: &[String],
    filter: &ConversationFilter,
    order: ConversationOrder,
    args: &PageArgs,
    columns: ConversationColumns,
) -> Result<HashMap<String, Page<Conversation>>, StoreError> {
    if columns.is_all() || columns.contains(Column::Metadata) {
        return pages_for_users(db, user_ids, filter, order, args).await;
    }
    batch::pages_by_parent_decoded(
        db,
        filtered(filter),
        &columns.union(ConversationColumns::KEYS).columns(),
        Column::UserId,
        user_ids,
        &order.keyset(),
        args,
        sparse,
        |c: &Conversation| c.user_id.as_deref().unwrap_or_default(),
    )
    .await
}

/// A conversation model from a sparse read's row, decoded by position ([`Layout`]);
/// placeholders for the columns not read.
fn sparse(row: &sea_orm::QueryResult, layout: &Layout) -> Result<Conversation, sea_orm::DbErr> {
    let at = |c: Column| c as usize;
    let created_at: DateTime<Utc> = layout.require(row, at(Column::CreatedAt))?;
    Ok(Conversation {
        id: layout.require(row, at(Column::Id))?,
        user_id: layout.get(row, at(Column::UserId))?,
        invitation_id: layout.get(row, at(Column::InvitationId))?,
        scenario_id: layout.get(row, at(Column::ScenarioId))?,
        persona_id: layout.get(row, at(Column::PersonaId))?,
        room_id: layout.get(row, at(Column::RoomId))?,
        project_id: layout.get(row, at(Column::ProjectId))?,
        title: layout.get(row, at(Column::Title))?,
        title_is_custom: layout.get(row, at(Column::TitleIsCustom))?,
        model: layout.get(row, at(Column::Model))?,
        system_prompt: layout.get(row, at(Column::SystemPrompt))?,
        status: match layout.position(at(Column::Status)) {
            Some(i) => Cell::decode(row, i)?,
            None => ConversationStatus::Active.into(),
        },
        started_at: match layout.position(at(Column::StartedAt)) {
            Some(i) => Cell::decode(row, i)?,
            None => created_at,
        },
        ended_at: layout.get(row, at(Column::EndedAt))?,
        total_messages: layout.get(row, at(Column::TotalMessages))?,
        duration_seconds: layout.get(row, at(Column::DurationSeconds))?,
        active_since: layout.get(row, at(Column::ActiveSince))?,
        // Never read sparsely: a selection that needs metadata reads whole rows.
        metadata: None,
        created_at,
        updated_at: layout.require(row, at(Column::UpdatedAt))?,
        deleted_at: layout.get(row, at(Column::DeletedAt))?,
    })
}

/// How many conversations each user has under `filter`, in one statement.
pub async fn counts_for_users(
    db: &impl ConnectionTrait,
    user_ids: &[String],
    filter: &ConversationFilter,
) -> Result<HashMap<String, u64>, StoreError> {
    crate::rows::counts_by_parent(db, filtered(filter), Column::UserId, user_ids).await
}
