//! Messages. A conversation's messages form a tree through `parent_id` (edits and regenerations
//! are siblings under one parent); lists read them in creation order.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use core_domain::enums::{MessageRole, MessageStatus};
use core_domain::pagination::PageArgs;
use core_domain::{ids, time};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QuerySelect, Select, Set, TransactionSession, TransactionTrait,
};

use crate::cells::{Cell, Layout};
use crate::cursor::{Keyset, batch};
use crate::entity::messages::{self, Column, Entity};
use crate::{Page, StoreError, conversations};

pub use messages::Model as Message;

#[derive(Debug, Clone)]
pub struct NewMessage {
    pub conversation_id: String,
    pub user_id: Option<String>,
    pub parent_id: Option<String>,
    pub role: MessageRole,
    pub content: String,
    pub status: MessageStatus,
    pub model: Option<String>,
    pub provider: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct MessageFilter {
    pub roles: Option<Vec<MessageRole>>,
    pub statuses: Option<Vec<MessageStatus>>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum MessageOrder {
    /// Oldest first: how a transcript reads.
    #[default]
    CreatedAsc,
    CreatedDesc,
}

impl MessageOrder {
    pub fn keyset(self) -> Keyset<Column> {
        match self {
            Self::CreatedAsc => Keyset {
                name: "messages.created_at.asc",
                at: Column::CreatedAt,
                id: Column::Id,
                descending: false,
            },
            Self::CreatedDesc => Keyset {
                name: "messages.created_at.desc",
                at: Column::CreatedAt,
                id: Column::Id,
                descending: true,
            },
        }
    }
}

fn active_model(new: NewMessage, at: DateTime<Utc>) -> messages::ActiveModel {
    messages::ActiveModel {
        id: Set(ids::new_id()),
        conversation_id: Set(new.conversation_id),
        user_id: Set(new.user_id),
        parent_id: Set(new.parent_id),
        role: Set(new.role.into()),
        content: Set(new.content),
        status: Set(new.status.into()),
        error: Set(None),
        model: Set(new.model),
        provider: Set(new.provider),
        input_tokens: Set(None),
        output_tokens: Set(None),
        audio_url: Set(None),
        metadata: Set(None),
        created_at: Set(at),
        updated_at: Set(at),
    }
}

/// Stores messages and counts them on their conversation, in one transaction. Each message gets
/// a creation time one microsecond after the previous, so a batch keeps its order on read.
pub async fn append<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    new: Vec<NewMessage>,
) -> Result<Vec<Message>, StoreError> {
    append_with_ids(db, new.into_iter().map(|m| (ids::new_id(), m)).collect()).await
}

/// [`append`] with ids chosen by the caller (a reply must name the message it answers).
pub async fn append_with_ids<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    new: Vec<(String, NewMessage)>,
) -> Result<Vec<Message>, StoreError> {
    let txn = db.begin().await?;
    let start = time::now();
    let mut stored = Vec::with_capacity(new.len());
    for (i, (id, m)) in new.into_iter().enumerate() {
        let at = start + chrono::Duration::microseconds(i64::try_from(i).unwrap_or(0));
        let conversation_id = m.conversation_id.clone();
        let mut row = active_model(m, at);
        row.id = Set(id);
        stored.push(row.insert(&txn).await?);
        conversations::note_message(&txn, &conversation_id, at).await?;
    }
    txn.commit().await?;
    Ok(stored)
}

pub async fn find(db: &impl ConnectionTrait, id: &str) -> Result<Option<Message>, StoreError> {
    Ok(Entity::find_by_id(id.to_owned()).one(db).await?)
}

pub async fn by_ids(db: &impl ConnectionTrait, ids: &[String]) -> Result<Vec<Message>, StoreError> {
    crate::rows::by_ids::<Entity>(db, ids).await
}

pub(crate) fn filtered(filter: &MessageFilter) -> Select<Entity> {
    let mut cond = Condition::all();
    if let Some(roles) = &filter.roles {
        cond = cond.add(Column::Role.is_in(roles.iter().map(|r| r.as_str())));
    }
    if let Some(statuses) = &filter.statuses {
        cond = cond.add(Column::Status.is_in(statuses.iter().map(|s| s.as_str())));
    }
    Entity::find().filter(cond)
}

/// One page of each conversation's messages, in one statement for all conversations.
pub async fn pages_for_conversations(
    db: &impl ConnectionTrait,
    conversation_ids: &[String],
    filter: &MessageFilter,
    order: MessageOrder,
    args: &PageArgs,
) -> Result<HashMap<String, Page<Message>>, StoreError> {
    batch::pages_by_parent(
        db,
        filtered(filter),
        Column::ConversationId,
        conversation_ids,
        &order.keyset(),
        args,
        |m: &Message| m.conversation_id.as_str(),
    )
    .await
}

crate::column_set!(
    /// The message columns a reader asks for. A page read with fewer than [`MessageColumns::ALL`]
    /// holds models whose other fields are placeholders (empty text, `None`, the first variant,
    /// the creation time): the reader must not look at them. Decoding is most of a wide row's cost
    /// in the server (16 columns, a JSON one among them, where a transcript shows five), so the hot
    /// nested read asks for what its query selects.
    MessageColumns,
    Column
);

impl MessageColumns {
    /// What every page reads: the id, the parent conversation and the ordering (rows are
    /// grouped and cursors made from them).
    pub const KEYS: Self = Self::NONE
        .with(Column::Id)
        .with(Column::ConversationId)
        .with(Column::CreatedAt);
}

/// [`pages_for_conversations`] reading only `columns` (see [`MessageColumns`]); all columns
/// when they are all asked for.
pub async fn sparse_pages_for_conversations(
    db: &impl ConnectionTrait,
    conversation_ids: &[String],
    filter: &MessageFilter,
    order: MessageOrder,
    args: &PageArgs,
    columns: MessageColumns,
) -> Result<HashMap<String, Page<Message>>, StoreError> {
    // Metadata (JSON) is never decoded sparsely: a read that needs it reads whole rows.
    if columns.is_all() || columns.contains(Column::Metadata) {
        return pages_for_conversations(db, conversation_ids, filter, order, args).await;
    }
    batch::pages_by_parent_decoded(
        db,
        filtered(filter),
        &columns.union(MessageColumns::KEYS).columns(),
        Column::ConversationId,
        conversation_ids,
        &order.keyset(),
        args,
        sparse,
        |m: &Message| m.conversation_id.as_str(),
    )
    .await
}

/// A message model from a sparse read's row, decoded by position ([`Layout`]); placeholders
/// for the columns not read.
fn sparse(row: &sea_orm::QueryResult, layout: &Layout) -> Result<Message, sea_orm::DbErr> {
    let at = |c: Column| c as usize;
    let created_at = layout.require(row, at(Column::CreatedAt))?;
    Ok(Message {
        id: layout.require(row, at(Column::Id))?,
        conversation_id: layout.require(row, at(Column::ConversationId))?,
        user_id: layout.get(row, at(Column::UserId))?,
        parent_id: layout.get(row, at(Column::ParentId))?,
        role: match layout.position(at(Column::Role)) {
            Some(i) => Cell::decode(row, i)?,
            None => MessageRole::User.into(),
        },
        content: layout.get(row, at(Column::Content))?,
        status: match layout.position(at(Column::Status)) {
            Some(i) => Cell::decode(row, i)?,
            None => MessageStatus::Complete.into(),
        },
        error: layout.get(row, at(Column::Error))?,
        model: layout.get(row, at(Column::Model))?,
        provider: layout.get(row, at(Column::Provider))?,
        input_tokens: layout.get(row, at(Column::InputTokens))?,
        output_tokens: layout.get(row, at(Column::OutputTokens))?,
        audio_url: layout.get(row, at(Column::AudioUrl))?,
        // Never read sparsely: a selection that shows metadata reads whole rows.
        metadata: None,
        created_at,
        updated_at: match layout.position(at(Column::UpdatedAt)) {
            Some(i) => Cell::decode(row, i)?,
            None => created_at,
        },
    })
}

/// How many messages each conversation holds under `filter`, in one statement.
pub async fn counts_for_conversations(
    db: &impl ConnectionTrait,
    conversation_ids: &[String],
    filter: &MessageFilter,
) -> Result<HashMap<String, u64>, StoreError> {
    crate::rows::counts_by_parent(
        db,
        filtered(filter),
        Column::ConversationId,
        conversation_ids,
    )
    .await
}

/// The newest message of a conversation, the default parent of a new one.
pub async fn latest_in(
    db: &impl ConnectionTrait,
    conversation_id: &str,
) -> Result<Option<Message>, StoreError> {
    use sea_orm::QueryOrder;
    Ok(Entity::find()
        .filter(Column::ConversationId.eq(conversation_id))
        .order_by_desc(Column::CreatedAt)
        .order_by_desc(Column::Id)
        .limit(1)
        .one(db)
        .await?)
}

/// Every message of a conversation, oldest first: enough to walk any branch in memory.
pub async fn all_in(
    db: &impl ConnectionTrait,
    conversation_id: &str,
) -> Result<Vec<Message>, StoreError> {
    use sea_orm::QueryOrder;
    Ok(Entity::find()
        .filter(Column::ConversationId.eq(conversation_id))
        .order_by_asc(Column::CreatedAt)
        .order_by_asc(Column::Id)
        .all(db)
        .await?)
}

/// Where a message sits in its tree: its conversation and its parent (`None` for a root).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ParentKey {
    pub conversation_id: String,
    pub parent_id: Option<String>,
}

/// The children of every key (roots of the conversation for `parent_id: None`), oldest first,
/// in one statement.
pub async fn children_of(
    db: &impl ConnectionTrait,
    keys: &[ParentKey],
) -> Result<HashMap<ParentKey, Vec<Message>>, StoreError> {
    use sea_orm::QueryOrder;
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let parents: Vec<String> = keys.iter().filter_map(|k| k.parent_id.clone()).collect();
    let root_conversations: Vec<String> = keys
        .iter()
        .filter(|k| k.parent_id.is_none())
        .map(|k| k.conversation_id.clone())
        .collect();
    let mut cond = Condition::any();
    if !parents.is_empty() {
        cond = cond.add(Column::ParentId.is_in(parents));
    }
    if !root_conversations.is_empty() {
        cond = cond.add(
            Condition::all()
                .add(Column::ConversationId.is_in(root_conversations))
                .add(Column::ParentId.is_null()),
        );
    }
    let rows = Entity::find()
        .filter(cond)
        .order_by_asc(Column::CreatedAt)
        .order_by_asc(Column::Id)
        .all(db)
        .await?;
    let mut out: HashMap<ParentKey, Vec<Message>> = HashMap::new();
    for row in rows {
        let key = ParentKey {
            conversation_id: row.conversation_id.clone(),
            parent_id: row.parent_id.clone(),
        };
        out.entry(key).or_default().push(row);
    }
    Ok(out)
}

/// Saves the text produced so far of a reply still being generated. False when the message is
/// no longer STREAMING (cancelled or failed elsewhere): the generator should stop.
pub async fn save_partial(
    db: &impl ConnectionTrait,
    id: &str,
    content: &str,
) -> Result<bool, StoreError> {
    let res = Entity::update_many()
        .col_expr(Column::Content, Expr::value(content))
        .col_expr(Column::UpdatedAt, Expr::value(time::now()))
        .filter(Column::Id.eq(id))
        .filter(Column::Status.eq(MessageStatus::Streaming.as_str()))
        .exec(db)
        .await?;
    Ok(res.rows_affected > 0)
}

/// The final state of a generated reply.
#[derive(Debug, Clone)]
pub struct FinishedReply {
    pub content: String,
    pub status: MessageStatus,
    pub error: Option<String>,
    pub input_tokens: Option<i32>,
    pub output_tokens: Option<i32>,
}

/// Writes a reply's final state, only while it is still STREAMING (a cancellation that got there
/// first wins). Returns whether it was written.
pub async fn finish(
    db: &impl ConnectionTrait,
    id: &str,
    reply: &FinishedReply,
) -> Result<bool, StoreError> {
    let res = Entity::update_many()
        .col_expr(Column::Content, Expr::value(reply.content.as_str()))
        .col_expr(Column::Status, Expr::value(reply.status.as_str()))
        .col_expr(Column::Error, Expr::value(reply.error.clone()))
        .col_expr(Column::InputTokens, Expr::value(reply.input_tokens))
        .col_expr(Column::OutputTokens, Expr::value(reply.output_tokens))
        .col_expr(Column::UpdatedAt, Expr::value(time::now()))
        .filter(Column::Id.eq(id))
        .filter(Column::Status.eq(MessageStatus::Streaming.as_str()))
        .exec(db)
        .await?;
    Ok(res.rows_affected > 0)
}

/// Marks a STREAMING message CANCELLED, keeping its text. False when it was not streaming.
pub async fn mark_cancelled(db: &impl ConnectionTrait, id: &str) -> Result<bool, StoreError> {
    let res = Entity::update_many()
        .col_expr(
            Column::Status,
            Expr::value(MessageStatus::Cancelled.as_str()),
        )
        .col_expr(Column::UpdatedAt, Expr::value(time::now()))
        .filter(Column::Id.eq(id))
        .filter(Column::Status.eq(MessageStatus::Streaming.as_str()))
        .exec(db)
        .await?;
    Ok(res.rows_affected > 0)
}

/// Replies still STREAMING, oldest first: with `last_seen_before`, only those whose generator has
/// not touched them since then (a live generator saves or heartbeats regularly, so replies being
/// generated by another instance are left alone). At most `limit`.
pub async fn streaming(
    db: &impl ConnectionTrait,
    last_seen_before: Option<chrono::DateTime<chrono::Utc>>,
    limit: u64,
) -> Result<Vec<Message>, StoreError> {
    use sea_orm::QueryOrder;
    let mut select = Entity::find().filter(Column::Status.eq(MessageStatus::Streaming.as_str()));
    if let Some(cutoff) = last_seen_before {
        select = select.filter(Column::UpdatedAt.lt(cutoff));
    }
    Ok(select
        .order_by_asc(Column::UpdatedAt)
        .order_by_asc(Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}

/// A reply left STREAMING by a server that stopped can never finish: it becomes FAILED with
/// reason `interrupted`, keeping its saved text and recording the tokens billed for it. Only while
/// it is still STREAMING (and, with `last_seen_before`, untouched since then): false when its
/// generator finished it, or another instance's recovery got there first.
pub async fn fail_interrupted(
    db: &impl ConnectionTrait,
    id: &str,
    last_seen_before: Option<chrono::DateTime<chrono::Utc>>,
    input_tokens: i32,
    output_tokens: i32,
) -> Result<bool, StoreError> {
    let mut update = Entity::update_many()
        .col_expr(Column::Status, Expr::value(MessageStatus::Failed.as_str()))
        .col_expr(Column::Error, Expr::value("interrupted"))
        .col_expr(Column::InputTokens, Expr::value(input_tokens))
        .col_expr(Column::OutputTokens, Expr::value(output_tokens))
        .col_expr(Column::UpdatedAt, Expr::value(time::now()))
        .filter(Column::Id.eq(id))
        .filter(Column::Status.eq(MessageStatus::Streaming.as_str()));
    if let Some(cutoff) = last_seen_before {
        update = update.filter(Column::UpdatedAt.lt(cutoff));
    }
    Ok(update.exec(db).await?.rows_affected > 0)
}

/// A generator's heartbeat: marks a STREAMING reply as still being worked on. False when the
/// reply is no longer STREAMING.
pub async fn touch_streaming(db: &impl ConnectionTrait, id: &str) -> Result<bool, StoreError> {
    let res = Entity::update_many()
        .col_expr(Column::UpdatedAt, Expr::value(time::now()))
        .filter(Column::Id.eq(id))
        .filter(Column::Status.eq(MessageStatus::Streaming.as_str()))
        .exec(db)
        .await?;
    Ok(res.rows_affected > 0)
}
