//! Messages. A conversation's messages form a tree through `parent_id` (edits and regenerations
//! are siblings under one parent); lists read them in creation order.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use core_domain::enums::{MessageRole, MessageStatus};
use core_domain::pagination::PageArgs;
use core_domain::{ids, time};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, FromQueryResult,
    QueryFilter, QuerySelect, Select, Set, TransactionSession, TransactionTrait,
};

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
        role: Set(new.role.as_str().to_owned()),
        content: Set(new.content),
        status: Set(new.status.as_str().to_owned()),
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
    let txn = db.begin().await?;
    let start = time::now();
    let mut stored = Vec::with_capacity(new.len());
    for (i, m) in new.into_iter().enumerate() {
        let at = start + chrono::Duration::microseconds(i64::try_from(i).unwrap_or(0));
        let conversation_id = m.conversation_id.clone();
        stored.push(active_model(m, at).insert(&txn).await?);
        conversations::note_message(&txn, &conversation_id, at).await?;
    }
    txn.commit().await?;
    Ok(stored)
}

pub async fn find(db: &impl ConnectionTrait, id: &str) -> Result<Option<Message>, StoreError> {
    Ok(Entity::find_by_id(id.to_owned()).one(db).await?)
}

pub async fn by_ids(db: &impl ConnectionTrait, ids: &[String]) -> Result<Vec<Message>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(Entity::find()
        .filter(Column::Id.is_in(ids.iter().cloned()))
        .all(db)
        .await?)
}

fn filtered(filter: &MessageFilter) -> Select<Entity> {
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

#[derive(Debug, FromQueryResult)]
struct ParentCount {
    parent: String,
    n: i64,
}

/// How many messages each conversation holds under `filter`, in one statement.
pub async fn counts_for_conversations(
    db: &impl ConnectionTrait,
    conversation_ids: &[String],
    filter: &MessageFilter,
) -> Result<HashMap<String, u64>, StoreError> {
    if conversation_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = filtered(filter)
        .filter(Column::ConversationId.is_in(conversation_ids.iter().cloned()))
        .select_only()
        .column_as(Column::ConversationId, "parent")
        .column_as(Column::Id.count(), "n")
        .group_by(Column::ConversationId)
        .into_model::<ParentCount>()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.parent, u64::try_from(r.n).unwrap_or(0)))
        .collect())
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
