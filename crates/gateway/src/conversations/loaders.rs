//! The conversations area's loaders: each user's conversation pages and each conversation's
//! message pages (through the generic [`Pages`] loader), conversations and messages by id, and a
//! message's children or siblings (loaded whole, paged in memory). Each `load` is one statement for all the keys it is given, so a nested
//! query costs a number of statements set by its depth, never by its row counts.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, Loader};
use core_domain::pagination::PageArgs;
use persistence::conversations::{
    self, Conversation, ConversationColumns, ConversationFilter, ConversationOrder,
};
use persistence::messages::{
    self, Message, MessageColumns, MessageFilter, MessageOrder, ParentKey,
};
use persistence::sea_orm::ConnectionTrait;
use persistence::{Db, Page, StoreError};

use crate::graphql::context::batching;
use crate::graphql::pages::{ChildList, Columns, CountKey, PageKey, Pages};

/// A user's conversations.
pub struct UserConversations;

impl ChildList for UserConversations {
    type Filter = ConversationFilter;
    type Order = ConversationOrder;
    type Row = Conversation;

    async fn pages(
        db: &impl ConnectionTrait,
        parents: &[String],
        filter: &ConversationFilter,
        order: ConversationOrder,
        args: &PageArgs,
    ) -> Result<HashMap<String, Page<Conversation>>, StoreError> {
        conversations::pages_for_users(db, parents, filter, order, args).await
    }

    /// Planned reads ask for the columns their selection writes ([`ConversationColumns`]).
    async fn pages_with(
        db: &impl ConnectionTrait,
        parents: &[String],
        filter: &ConversationFilter,
        order: ConversationOrder,
        args: &PageArgs,
        columns: Columns,
    ) -> Result<HashMap<String, Page<Conversation>>, StoreError> {
        let columns = ConversationColumns::from_bits(columns.0);
        conversations::sparse_pages_for_users(db, parents, filter, order, args, columns).await
    }

    async fn counts(
        db: &impl ConnectionTrait,
        parents: &[String],
        filter: &ConversationFilter,
    ) -> Result<HashMap<String, u64>, StoreError> {
        conversations::counts_for_users(db, parents, filter).await
    }
}

/// A conversation's messages.
pub struct ConversationMessages;

impl ChildList for ConversationMessages {
    type Filter = MessageFilter;
    type Order = MessageOrder;
    type Row = Message;

    async fn pages(
        db: &impl ConnectionTrait,
        parents: &[String],
        filter: &MessageFilter,
        order: MessageOrder,
        args: &PageArgs,
    ) -> Result<HashMap<String, Page<Message>>, StoreError> {
        messages::pages_for_conversations(db, parents, filter, order, args).await
    }

    /// Transcripts are the hot nested read: only the columns the selection needs are decoded.
    async fn pages_with(
        db: &impl ConnectionTrait,
        parents: &[String],
        filter: &MessageFilter,
        order: MessageOrder,
        args: &PageArgs,
        columns: Columns,
    ) -> Result<HashMap<String, Page<Message>>, StoreError> {
        let columns = MessageColumns::from_bits(columns.0);
        messages::sparse_pages_for_conversations(db, parents, filter, order, args, columns).await
    }

    async fn counts(
        db: &impl ConnectionTrait,
        parents: &[String],
        filter: &MessageFilter,
    ) -> Result<HashMap<String, u64>, StoreError> {
        messages::counts_for_conversations(db, parents, filter).await
    }
}

pub type ConversationPageKey = PageKey<ConversationFilter, ConversationOrder>;
pub type ConversationCountKey = CountKey<ConversationFilter>;
pub type MessagePageKey = PageKey<MessageFilter, MessageOrder>;
pub type MessageCountKey = CountKey<MessageFilter>;

/// A conversation by id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConversationId(pub String);

/// A message by id (`node(id:)`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MessageId(pub String);

/// Conversations by id, and messages by id or by parent.
pub struct Rows(Db);

impl Loader<ConversationId> for Rows {
    type Value = Arc<Conversation>;
    type Error = Arc<StoreError>;
    async fn load(
        &self,
        keys: &[ConversationId],
    ) -> Result<HashMap<ConversationId, Self::Value>, Self::Error> {
        let ids: Vec<String> = keys.iter().map(|k| k.0.clone()).collect();
        let rows = conversations::by_ids(self.0.conn(), &ids).await?;
        Ok(rows
            .into_iter()
            .map(|c| (ConversationId(c.id.clone()), Arc::new(c)))
            .collect())
    }
}

impl Loader<MessageId> for Rows {
    type Value = Arc<Message>;
    type Error = Arc<StoreError>;
    async fn load(
        &self,
        keys: &[MessageId],
    ) -> Result<HashMap<MessageId, Self::Value>, Self::Error> {
        let ids: Vec<String> = keys.iter().map(|k| k.0.clone()).collect();
        let rows = messages::by_ids(self.0.conn(), &ids).await?;
        Ok(rows
            .into_iter()
            .map(|m| (MessageId(m.id.clone()), Arc::new(m)))
            .collect())
    }
}

/// A message's children (`Message.children`) or its siblings' parent (`Message.siblings`), in
/// one statement for a whole list.
impl Loader<ParentKey> for Rows {
    type Value = Vec<Arc<Message>>;
    type Error = Arc<StoreError>;
    async fn load(
        &self,
        keys: &[ParentKey],
    ) -> Result<HashMap<ParentKey, Self::Value>, Self::Error> {
        Ok(messages::children_of(self.0.conn(), keys)
            .await?
            .into_iter()
            .map(|(k, rows)| (k, rows.into_iter().map(Arc::new).collect()))
            .collect())
    }
}

/// The conversations area's loaders of one request.
pub struct ConversationLoaders {
    pub conversation_pages: DataLoader<Pages<UserConversations>>,
    pub message_pages: DataLoader<Pages<ConversationMessages>>,
    pub rows: DataLoader<Rows>,
}

impl ConversationLoaders {
    pub fn new(db: &Db) -> Self {
        Self {
            conversation_pages: batching(Pages::new(db.clone())),
            message_pages: batching(Pages::new(db.clone())),
            rows: batching(Rows(db.clone())),
        }
    }
}
