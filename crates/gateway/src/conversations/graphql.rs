//! Conversations and messages over GraphQL: reading a conversation and its messages (nested
//! pages through the area's loaders), creating, renaming and deleting conversations, adding a
//! user's message, and `messageAdded`. Resolvers parse, call [`ConversationService`], and wrap.

use std::sync::Arc;

use async_graphql::connection::{Connection, EmptyFields};
use async_graphql::{Context, ID, InputObject, Lookahead, Object, SelectionField, Subscription};
use chrono::{DateTime, Utc};
use core_domain::enums::{
    ConversationStatus as DomainConversationStatus, MessageRole as DomainRole,
    MessageStatus as DomainStatus,
};
use core_domain::pagination::PageArgs;
use core_domain::policy::Action;
use futures::{Stream, StreamExt};

use super::loaders::{
    ConversationCountKey, ConversationId, ConversationPageKey, MessageCountKey, MessagePageKey,
};
use super::service::{
    self, ConversationDraft, ConversationFilter, ConversationOrder, ConversationService,
    MessageFilter, MessageOrder, ParentKey,
};
use crate::catalogue::graphql::{Persona, Room};
use crate::catalogue::loaders::{PersonaId, RoomId};
use crate::error::{ApiError, ApiResult};
use crate::graphql::connection::{connection, cursor, page_args};
use crate::graphql::context::{ContextExt, load_one};
use crate::graphql::pages::{PageQuery, argument, count, page};
use crate::graphql::scalars::{ConversationStatus, MessageRole, MessageStatus, SortDirection};

fn conversations<'a>(ctx: &'a Context<'_>) -> ApiResult<&'a ConversationService> {
    Ok(&ctx.services()?.conversations)
}

pub struct Conversation(pub Arc<service::Conversation>);

impl From<service::Conversation> for Conversation {
    fn from(c: service::Conversation) -> Self {
        Conversation(Arc::new(c))
    }
}

pub struct Message(pub Arc<service::Message>);

impl From<service::Message> for Message {
    fn from(m: service::Message) -> Self {
        Message(Arc::new(m))
    }
}

/// `totalCount` of a user's conversation list, counted only when asked for.
pub struct ConversationTotal(pub ConversationCountKey);

#[Object]
impl ConversationTotal {
    async fn total_count(&self, ctx: &Context<'_>) -> ApiResult<u64> {
        count(
            &ctx.loaders()?.conversations.conversation_pages,
            self.0.clone(),
        )
        .await
    }
}

/// `totalCount` of a conversation's message list, counted only when asked for.
pub struct MessageTotal(pub MessageCountKey);

#[Object]
impl MessageTotal {
    async fn total_count(&self, ctx: &Context<'_>) -> ApiResult<u64> {
        count(&ctx.loaders()?.conversations.message_pages, self.0.clone()).await
    }
}

/// Narrows a list of conversations.
#[derive(InputObject, Default)]
pub struct ConversationFilterInput {
    /// Only conversations in one of these states.
    pub status: Option<Vec<ConversationStatus>>,
    /// Case-insensitive substring of the title.
    pub title_contains: Option<String>,
    pub persona_id: Option<ID>,
    pub room_id: Option<ID>,
    pub created_after: Option<DateTime<Utc>>,
    pub created_before: Option<DateTime<Utc>>,
}

impl From<ConversationFilterInput> for ConversationFilter {
    fn from(f: ConversationFilterInput) -> Self {
        ConversationFilter {
            status: f
                .status
                .map(|s| s.into_iter().map(DomainConversationStatus::from).collect()),
            title_contains: f.title_contains,
            persona_id: f.persona_id.map(|i| i.0),
            room_id: f.room_id.map(|i| i.0),
            created_after: f.created_after,
            created_before: f.created_before,
        }
    }
}

#[derive(async_graphql::Enum, Copy, Clone, Eq, PartialEq, Default)]
pub enum ConversationOrderField {
    CreatedAt,
    /// Last activity (a new message moves a conversation to the top).
    #[default]
    UpdatedAt,
}

#[derive(InputObject, Default)]
pub struct ConversationOrderBy {
    #[graphql(default)]
    pub field: ConversationOrderField,
    #[graphql(default)]
    pub direction: SortDirection,
}

impl From<ConversationOrderBy> for ConversationOrder {
    fn from(o: ConversationOrderBy) -> Self {
        match (o.field, o.direction) {
            (ConversationOrderField::CreatedAt, SortDirection::Asc) => {
                ConversationOrder::CreatedAsc
            }
            (ConversationOrderField::CreatedAt, SortDirection::Desc) => {
                ConversationOrder::CreatedDesc
            }
            (ConversationOrderField::UpdatedAt, SortDirection::Asc) => {
                ConversationOrder::UpdatedAsc
            }
            (ConversationOrderField::UpdatedAt, SortDirection::Desc) => {
                ConversationOrder::UpdatedDesc
            }
        }
    }
}

pub type ConversationConnection = Connection<String, Conversation, ConversationTotal, EmptyFields>;

/// What a `conversations(...)` selection asks for.
fn conversation_query(
    field: &SelectionField<'_>,
) -> ApiResult<(PageQuery<ConversationFilter, ConversationOrder>, bool)> {
    let args = page_args(
        argument(field, "first")?,
        argument(field, "after")?,
        argument(field, "last")?,
        argument(field, "before")?,
    )?;
    let filter: Option<ConversationFilterInput> = argument(field, "filter")?;
    let order_by: Option<ConversationOrderBy> = argument(field, "orderBy")?;
    let counted = Lookahead::from(*field).field("totalCount").exists();
    Ok((
        PageQuery {
            filter: filter.unwrap_or_default().into(),
            order: order_by.unwrap_or_default().into(),
            args,
        },
        counted,
    ))
}

/// What a `messages(...)` selection asks for.
fn message_query(
    field: &SelectionField<'_>,
) -> ApiResult<(PageQuery<MessageFilter, MessageOrder>, bool)> {
    let args = page_args(
        argument(field, "first")?,
        argument(field, "after")?,
        argument(field, "last")?,
        argument(field, "before")?,
    )?;
    let filter: Option<MessageFilterInput> = argument(field, "filter")?;
    let order_by: Option<MessageOrderBy> = argument(field, "orderBy")?;
    let counted = Lookahead::from(*field).field("totalCount").exists();
    Ok((
        PageQuery {
            filter: filter.unwrap_or_default().into(),
            order: message_order(order_by),
            args,
        },
        counted,
    ))
}

fn message_order(order_by: Option<MessageOrderBy>) -> MessageOrder {
    match order_by.map(|o| o.direction) {
        Some(SortDirection::Desc) => MessageOrder::CreatedDesc,
        _ => MessageOrder::CreatedAsc,
    }
}

/// Reads ahead, for the users of one level (`user_ids`), every `conversations` list the query
/// selects on them (`node` is the selection of a user), and below those the messages: one
/// statement per level and distinct arguments, before any child resolver runs.
pub async fn prefetch_conversations(
    ctx: &Context<'_>,
    node: &Lookahead<'_>,
    user_ids: &[String],
) -> ApiResult<()> {
    if user_ids.is_empty() {
        return Ok(());
    }
    let loaders = &ctx.loaders()?.conversations;
    for field in node.field("conversations").selection_fields() {
        // Arguments the field's own resolver will refuse are left for it to report.
        let Ok((query, counted)) = conversation_query(&field) else {
            continue;
        };
        let query = Arc::new(query);
        let rows = loaders
            .conversation_pages
            .loader()
            .prefetch(user_ids, &query)
            .await?;
        if counted {
            let filter = Arc::new(query.filter.clone());
            loaders
                .conversation_pages
                .loader()
                .prefetch_counts(user_ids, &filter)
                .await?;
        }
        let actor = ctx.request()?.actor();
        let ids: Vec<String> = rows
            .iter()
            .filter(|c| service::can_read(actor, c))
            .map(|c| c.id.clone())
            .collect();
        let below = Lookahead::from(field).field("edges").field("node");
        prefetch_messages(ctx, &below, &ids).await?;
    }
    Ok(())
}

/// Reads ahead, for the conversations of one level, every `messages` list the query selects on
/// them (`node` is the selection of a conversation).
async fn prefetch_messages(
    ctx: &Context<'_>,
    node: &Lookahead<'_>,
    conversation_ids: &[String],
) -> ApiResult<()> {
    if conversation_ids.is_empty() {
        return Ok(());
    }
    let loader = ctx.loaders()?.conversations.message_pages.loader();
    for field in node.field("messages").selection_fields() {
        let Ok((query, counted)) = message_query(&field) else {
            continue;
        };
        let query = Arc::new(query);
        loader.prefetch(conversation_ids, &query).await?;
        if counted {
            let filter = Arc::new(query.filter.clone());
            loader.prefetch_counts(conversation_ids, &filter).await?;
        }
    }
    Ok(())
}

/// One user's conversations as a connection (`User.conversations`): one batched page read for
/// every user on the level, each row checked against the policy on its own too.
pub async fn conversations_of(
    ctx: &Context<'_>,
    user_id: &str,
    args: PageArgs,
    filter: Option<ConversationFilterInput>,
    order_by: Option<ConversationOrderBy>,
) -> ApiResult<ConversationConnection> {
    let filter: ConversationFilter = filter.unwrap_or_default().into();
    let order: ConversationOrder = order_by.unwrap_or_default().into();
    let actor = ctx.request()?.actor();
    let key = ConversationPageKey {
        parent: user_id.to_owned(),
        query: Arc::new(PageQuery {
            filter: filter.clone(),
            order,
            args,
        }),
    };
    let loaders = &ctx.loaders()?.conversations;
    let mut page = page(&loaders.conversation_pages, key).await?;
    // Defence in depth: the user was already checked, but each row is checked on its own too.
    page.items.retain(|c| service::can_read(actor, c));
    let ids: Vec<String> = page.items.iter().map(|c| c.id.clone()).collect();
    prefetch_messages(ctx, &ctx.look_ahead().field("edges").field("node"), &ids).await?;
    let total = ConversationTotal(ConversationCountKey {
        parent: user_id.to_owned(),
        filter: Arc::new(filter),
    });
    let name = order.keyset().name;
    Ok(connection(
        page,
        total,
        |c| cursor(name, order.cursor_at(c), &c.id),
        Conversation,
    ))
}

#[derive(InputObject, Default)]
pub struct MessageFilterInput {
    pub role: Option<Vec<MessageRole>>,
    pub status: Option<Vec<MessageStatus>>,
}

impl From<MessageFilterInput> for MessageFilter {
    fn from(f: MessageFilterInput) -> Self {
        MessageFilter {
            roles: f
                .role
                .map(|r| r.into_iter().map(DomainRole::from).collect()),
            statuses: f
                .status
                .map(|s| s.into_iter().map(DomainStatus::from).collect()),
        }
    }
}

#[derive(async_graphql::Enum, Copy, Clone, Eq, PartialEq, Default)]
pub enum MessageOrderField {
    #[default]
    CreatedAt,
}

#[derive(InputObject)]
pub struct MessageOrderBy {
    #[graphql(default)]
    pub field: MessageOrderField,
    /// Oldest first by default, as a transcript reads.
    #[graphql(default_with = "SortDirection::Asc")]
    pub direction: SortDirection,
}

pub type MessageConnection = Connection<String, Message, MessageTotal, EmptyFields>;

#[Object]
impl Conversation {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn title(&self) -> &str {
        &self.0.title
    }
    /// The model new replies use unless a message names another.
    async fn model(&self) -> Option<&str> {
        self.0.model.as_deref()
    }
    async fn system_prompt(&self) -> Option<&str> {
        self.0.system_prompt.as_deref()
    }
    async fn status(&self) -> ApiResult<ConversationStatus> {
        Ok((*self.0.status).into())
    }
    async fn user_id(&self) -> Option<ID> {
        self.0.user_id.clone().map(ID)
    }
    async fn persona(&self, ctx: &Context<'_>) -> ApiResult<Option<Persona>> {
        let Some(id) = &self.0.persona_id else {
            return Ok(None);
        };
        let p = load_one(&ctx.loaders()?.catalogue, PersonaId(id.clone())).await?;
        Ok(p.map(Persona))
    }
    async fn room(&self, ctx: &Context<'_>) -> ApiResult<Option<Room>> {
        let Some(id) = &self.0.room_id else {
            return Ok(None);
        };
        let r = load_one(&ctx.loaders()?.catalogue, RoomId(id.clone())).await?;
        Ok(r.map(Room))
    }
    async fn total_messages(&self) -> i32 {
        self.0.total_messages
    }
    async fn started_at(&self) -> DateTime<Utc> {
        self.0.started_at
    }
    async fn ended_at(&self) -> Option<DateTime<Utc>> {
        self.0.ended_at
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }

    /// The conversation's messages, oldest first unless `orderBy` says otherwise.
    #[graphql(complexity = "first.or(last).unwrap_or(20).max(0) as usize * child_complexity + 1")]
    #[allow(clippy::too_many_arguments)]
    async fn messages(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<MessageFilterInput>,
        order_by: Option<MessageOrderBy>,
    ) -> ApiResult<MessageConnection> {
        let args = page_args(first, after, last, before)?;
        let filter: MessageFilter = filter.unwrap_or_default().into();
        let order = message_order(order_by);
        let key = MessagePageKey {
            parent: self.0.id.clone(),
            query: Arc::new(PageQuery {
                filter: filter.clone(),
                order,
                args,
            }),
        };
        let page = page(&ctx.loaders()?.conversations.message_pages, key).await?;
        let total = MessageTotal(MessageCountKey {
            parent: self.0.id.clone(),
            filter: Arc::new(filter),
        });
        let name = order.keyset().name;
        Ok(connection(
            page,
            total,
            |m| cursor(name, m.created_at, &m.id),
            Message,
        ))
    }
}

#[Object]
impl Message {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn conversation_id(&self) -> ID {
        ID(self.0.conversation_id.clone())
    }
    /// The conversation this message belongs to (one batched look-up for many messages).
    async fn conversation(&self, ctx: &Context<'_>) -> ApiResult<Conversation> {
        let id = ConversationId(self.0.conversation_id.clone());
        let row = load_one(&ctx.loaders()?.conversations.rows, id)
            .await?
            .ok_or(ApiError::NotFound)?;
        if !service::can_read(ctx.request()?.actor(), &row) {
            return Err(ApiError::NotFound);
        }
        Ok(Conversation(row))
    }
    /// The message this one answers or follows; siblings share a parent.
    async fn parent_id(&self) -> Option<ID> {
        self.0.parent_id.clone().map(ID)
    }
    /// The author, for user messages.
    async fn user_id(&self) -> Option<ID> {
        self.0.user_id.clone().map(ID)
    }
    async fn role(&self) -> ApiResult<MessageRole> {
        Ok((*self.0.role).into())
    }
    async fn content(&self) -> &str {
        &self.0.content
    }
    async fn status(&self) -> ApiResult<MessageStatus> {
        Ok((*self.0.status).into())
    }
    /// Why generation failed, for FAILED messages.
    async fn error(&self) -> Option<&str> {
        self.0.error.as_deref()
    }
    async fn model(&self) -> Option<&str> {
        self.0.model.as_deref()
    }
    async fn provider(&self) -> Option<&str> {
        self.0.provider.as_deref()
    }
    async fn input_tokens(&self) -> Option<i32> {
        self.0.input_tokens
    }
    async fn output_tokens(&self) -> Option<i32> {
        self.0.output_tokens
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// The messages that follow this one (replies, regenerations, edits after it), oldest first.
    async fn children(&self, ctx: &Context<'_>) -> ApiResult<Vec<Message>> {
        let key = ParentKey {
            conversation_id: self.0.conversation_id.clone(),
            parent_id: Some(self.0.id.clone()),
        };
        self.versions(ctx, key).await
    }
    /// Every version of this message (itself included) under the same parent, oldest first: a
    /// client shows "2 of 3" from this list and this message's place in it.
    async fn siblings(&self, ctx: &Context<'_>) -> ApiResult<Vec<Message>> {
        let key = ParentKey {
            conversation_id: self.0.conversation_id.clone(),
            parent_id: self.0.parent_id.clone(),
        };
        self.versions(ctx, key).await
    }
}

impl Message {
    async fn versions(&self, ctx: &Context<'_>, key: ParentKey) -> ApiResult<Vec<Message>> {
        let rows = load_one(&ctx.loaders()?.conversations.rows, key)
            .await?
            .unwrap_or_default();
        Ok(rows.into_iter().map(Message).collect())
    }
}

#[derive(Default)]
pub struct ConversationQuery;

#[Object]
impl ConversationQuery {
    /// A conversation you may read; anything else is NOT_FOUND.
    async fn conversation(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Conversation> {
        let actor = ctx.request()?.actor();
        let row = conversations(ctx)?
            .authorized(actor, &id, Action::Read)
            .await?;
        prefetch_messages(ctx, &ctx.look_ahead(), std::slice::from_ref(&row.id)).await?;
        Ok(row.into())
    }
}

#[derive(InputObject)]
pub struct CreateConversationInput {
    /// Defaults to "New Conversation" (and may later be replaced by a generated title).
    pub title: Option<String>,
    pub model: Option<String>,
    pub system_prompt: Option<String>,
    pub persona_id: Option<ID>,
    pub room_id: Option<ID>,
}

#[derive(InputObject)]
pub struct AddMessageInput {
    pub conversation_id: ID,
    pub content: String,
    /// The message this one follows; defaults to the conversation's latest message.
    pub parent_id: Option<ID>,
}

#[derive(Default)]
pub struct ConversationMutation;

#[Object]
impl ConversationMutation {
    /// Starts a conversation owned by the caller.
    async fn create_conversation(
        &self,
        ctx: &Context<'_>,
        input: CreateConversationInput,
    ) -> ApiResult<Conversation> {
        let draft = ConversationDraft {
            title: input.title,
            model: input.model,
            system_prompt: input.system_prompt,
            persona_id: input.persona_id.map(|i| i.0),
            room_id: input.room_id.map(|i| i.0),
        };
        let row = conversations(ctx)?
            .create(ctx.request()?.require()?, draft)
            .await?;
        Ok(row.into())
    }

    /// Sets a conversation's title; generated titles never replace one set here.
    async fn rename_conversation(
        &self,
        ctx: &Context<'_>,
        id: ID,
        title: String,
    ) -> ApiResult<Conversation> {
        let actor = ctx.request()?.actor();
        Ok(conversations(ctx)?.rename(actor, &id, &title).await?.into())
    }

    /// Deletes a conversation and hides its messages. Returns its id.
    async fn delete_conversation(&self, ctx: &Context<'_>, id: ID) -> ApiResult<ID> {
        conversations(ctx)?
            .delete(ctx.request()?.actor(), &id)
            .await?;
        Ok(id)
    }
}

#[derive(Default)]
pub struct MessageMutation;

#[Object]
impl MessageMutation {
    /// Adds a message written by the caller to one of their conversations.
    async fn add_message(&self, ctx: &Context<'_>, input: AddMessageInput) -> ApiResult<Message> {
        let message = conversations(ctx)?
            .add_message(
                ctx.request()?.require()?,
                &input.conversation_id,
                input.content,
                input.parent_id.as_ref().map(|i| i.as_str()),
            )
            .await?;
        Ok(message.into())
    }
}

#[derive(Default)]
pub struct MessageSubscription;

#[Subscription]
impl MessageSubscription {
    /// New messages as they are stored: in one conversation, or, without `conversationId`, in
    /// every conversation the caller owns. Messages stored through any server instance arrive.
    async fn message_added(
        &self,
        ctx: &Context<'_>,
        conversation_id: Option<ID>,
    ) -> Result<impl Stream<Item = ApiResult<Message>> + use<>, ApiError> {
        let caller = ctx.request()?.require()?;
        let stream = conversations(ctx)?
            .message_added(caller, conversation_id.as_ref().map(|i| i.as_str()))
            .await?;
        Ok(stream.map(|m| m.map(Message::from)))
    }
}
