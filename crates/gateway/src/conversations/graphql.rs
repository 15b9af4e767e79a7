//! Conversations and messages over GraphQL: reading a conversation and its messages (nested
//! pages through the area's loaders), creating, renaming and deleting conversations, adding a
//! user's message, and `messageAdded`. Resolvers parse (ids are global, see `graphql::ids`), call
//! [`ConversationService`], and wrap.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::connection::{Connection, EmptyFields};
use async_graphql::{
    Context, ID, InputObject, Lookahead, Object, OutputType, SelectionField, SimpleObject,
    Subscription,
};
use chrono::{DateTime, Utc};
use core_domain::enums::{
    ConversationStatus as DomainConversationStatus, MessageRole as DomainRole,
    MessageStatus as DomainStatus,
};
use core_domain::pagination::PageArgs;
use core_domain::validation;
use futures::{Stream, StreamExt};

use super::loaders::{
    ConversationCountKey, ConversationId, ConversationMessages, ConversationPageKey,
    MessageCountKey, MessageId, MessagePageKey, UserConversations,
};
use super::service::{
    self, ConversationDraft, ConversationFilter, ConversationOrder, ConversationService,
    MessageFilter, MessageOrder, ParentKey,
};
use crate::accounts::graphql::{User, user_link};
use crate::catalogue::graphql::{Persona, Room};
use crate::catalogue::loaders::{PersonaId, RoomId};
use crate::error::{ApiError, ApiResult};
use crate::graphql::connection::{connection, cursor, list_connection, page_args};
use crate::graphql::context::{ContextExt, load_one};
use crate::graphql::ids::{self, Kind};
use crate::graphql::pages::{Columns, PageQuery, argument, count, page};
use crate::graphql::plan::{self, FieldPlan, PlanList, PlanType};
use crate::graphql::scalars::{ConversationStatus, MessageRole, MessageStatus, SortDirection};
use crate::research::graphql::{
    ObservationNoteConnection, UsageRecordConnection, notes_of, usage_of,
};

fn conversations<'a>(ctx: &'a Context<'_>) -> ApiResult<&'a ConversationService> {
    Ok(&ctx.services()?.conversations)
}

#[derive(Clone)]
pub struct Conversation(pub Arc<service::Conversation>);

impl From<service::Conversation> for Conversation {
    fn from(c: service::Conversation) -> Self {
        Conversation(Arc::new(c))
    }
}

#[derive(Clone)]
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

/// `totalCount` of a list of messages: a conversation's, counted only when asked for, or a
/// message's children or siblings, loaded whole and so already known.
pub enum MessageTotal {
    Counted(MessageCountKey),
    Known(usize),
}

#[Object]
impl MessageTotal {
    async fn total_count(&self, ctx: &Context<'_>) -> ApiResult<u64> {
        match self {
            MessageTotal::Counted(key) => {
                count(&ctx.loaders()?.conversations.message_pages, key.clone()).await
            }
            MessageTotal::Known(n) => Ok(*n as u64),
        }
    }
}

/// Narrows a list of conversations.
#[derive(InputObject, Default)]
pub struct ConversationFilterInput {
    /// Only conversations in one of these states.
    pub status: Option<Vec<ConversationStatus>>,
    /// Case-insensitive substring of the title (at most 200 characters; `%` and `_` match
    /// themselves).
    pub title_contains: Option<String>,
    /// Only conversations with this persona.
    pub persona_id: Option<ID>,
    /// Only conversations in this room.
    pub room_id: Option<ID>,
    pub created_after: Option<DateTime<Utc>>,
    pub created_before: Option<DateTime<Utc>>,
}

impl TryFrom<ConversationFilterInput> for ConversationFilter {
    type Error = ApiError;
    fn try_from(f: ConversationFilterInput) -> ApiResult<Self> {
        if let Some(text) = &f.title_contains {
            validation::check_filter_text("titleContains", text)?;
        }
        Ok(ConversationFilter {
            status: f
                .status
                .map(|s| s.into_iter().map(DomainConversationStatus::from).collect()),
            title_contains: f.title_contains,
            persona_id: ids::decode_opt(f.persona_id.as_ref(), Kind::Persona, "personaId")?,
            room_id: ids::decode_opt(f.room_id.as_ref(), Kind::Room, "roomId")?,
            created_after: f.created_after,
            created_before: f.created_before,
        })
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

/// The Relay arguments of a selected connection field, and whether it asks for `totalCount`.
pub(crate) fn connection_selection(field: &SelectionField<'_>) -> ApiResult<(PageArgs, bool)> {
    let args = page_args(
        argument(field, "first")?,
        argument(field, "after")?,
        argument(field, "last")?,
        argument(field, "before")?,
    )?;
    Ok((args, Lookahead::from(*field).field("totalCount").exists()))
}

/// What a `conversations(...)` selection asks for.
fn conversation_query(
    field: &SelectionField<'_>,
) -> ApiResult<(PageQuery<ConversationFilter, ConversationOrder>, bool)> {
    let (args, counted) = connection_selection(field)?;
    let filter: Option<ConversationFilterInput> = argument(field, "filter")?;
    let order_by: Option<ConversationOrderBy> = argument(field, "orderBy")?;
    let query = PageQuery {
        filter: filter.unwrap_or_default().try_into()?,
        order: order_by.unwrap_or_default().into(),
        args,
        columns: Columns::ALL,
    };
    Ok((query, counted))
}

/// What a `messages(...)` selection asks for.
fn message_query(
    field: &SelectionField<'_>,
) -> ApiResult<(PageQuery<MessageFilter, MessageOrder>, bool)> {
    let (args, counted) = connection_selection(field)?;
    let filter: Option<MessageFilterInput> = argument(field, "filter")?;
    let order_by: Option<MessageOrderBy> = argument(field, "orderBy")?;
    let query = PageQuery {
        filter: filter.unwrap_or_default().into(),
        order: message_order(order_by),
        args,
        columns: message_columns(field),
    };
    Ok((query, counted))
}

/// The node selections of a connection field (reached through `edges { node }` or `nodes`);
/// `None` when it selects a connection field not known here, so its reader reads every column
/// rather than guess.
fn connection_nodes<'a>(field: &SelectionField<'a>) -> Option<Vec<SelectionField<'a>>> {
    let mut nodes = Vec::new();
    for f in field.selection_set() {
        match f.name() {
            "nodes" => nodes.push(f),
            "edges" => {
                for e in f.selection_set() {
                    match e.name() {
                        "node" => nodes.push(e),
                        "cursor" | "__typename" => {}
                        _ => return None,
                    }
                }
            }
            "totalCount" | "pageInfo" | "__typename" => {}
            _ => return None,
        }
    }
    Some(nodes)
}

/// The message columns a `messages(...)` selection needs: those behind the fields it selects on
/// its nodes (see [`MessageColumns`]; a field not listed here reads them all).
fn message_columns(field: &SelectionField<'_>) -> Columns {
    use service::{MessageColumn as Column, MessageColumns};
    let Some(nodes) = connection_nodes(field) else {
        return Columns::ALL;
    };
    let mut columns = MessageColumns::KEYS;
    for node in nodes {
        for f in node.selection_set() {
            columns = match f.name() {
                "__typename" | "id" | "conversationId" | "conversation" | "usage" | "createdAt" => {
                    columns
                }
                "parentId" => columns.with(Column::ParentId),
                "userId" | "author" => columns.with(Column::UserId),
                "role" => columns.with(Column::Role),
                "content" => columns.with(Column::Content),
                "status" => columns.with(Column::Status),
                "error" => columns.with(Column::Error),
                "model" => columns.with(Column::Model),
                "provider" => columns.with(Column::Provider),
                "inputTokens" => columns.with(Column::InputTokens),
                "outputTokens" => columns.with(Column::OutputTokens),
                "updatedAt" => columns.with(Column::UpdatedAt),
                "children" => columns,
                "siblings" => columns.with(Column::ParentId),
                _ => return Columns::ALL,
            };
        }
    }
    Columns(columns.bits())
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
pub(crate) async fn prefetch_messages(
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

/// How a planned read writes a conversation (`graphql::plan`): its own values and its messages;
/// fields that load something else (`owner`, `persona`, `usage`...) are left to the resolvers.
impl PlanType for service::Conversation {
    fn type_name() -> Cow<'static, str> {
        <Conversation as OutputType>::type_name()
    }

    fn plan(field: &SelectionField<'_>) -> Option<FieldPlan<Self>> {
        use plan::{opt_string, string, value};
        let write: fn(&Self, &mut Vec<u8>) = match field.name() {
            "id" => |c, out| plan::id(ids::encode(Kind::Conversation, &c.id), out),
            "title" => |c, out| string(&c.title, out),
            "model" => |c, out| opt_string(c.model.as_deref(), out),
            "systemPrompt" => |c, out| opt_string(c.system_prompt.as_deref(), out),
            "status" => |c, out| value(&ConversationStatus::from(*c.status), out),
            "userId" => |c, out| {
                let id = c.user_id.as_deref().map(|id| ids::encode(Kind::User, id));
                value(&id, out)
            },
            "totalMessages" => |c, out| value(&c.total_messages, out),
            "startedAt" => |c, out| value(&c.started_at, out),
            "endedAt" => |c, out| value(&c.ended_at, out),
            "durationSeconds" => {
                |c, out| value(&crate::practice::graphql::duration_seconds(c), out)
            }
            "createdAt" => |c, out| value(&c.created_at, out),
            "updatedAt" => |c, out| value(&c.updated_at, out),
            "messages" => return plan::list::<ConversationMessages>(field),
            _ => return None,
        };
        Some(FieldPlan::Value(write))
    }
}

/// How a planned read writes a message: its own values; `conversation`, `author`, `usage`,
/// `children` and `siblings` are left to the resolvers.
impl PlanType for service::Message {
    fn type_name() -> Cow<'static, str> {
        <Message as OutputType>::type_name()
    }

    fn plan(field: &SelectionField<'_>) -> Option<FieldPlan<Self>> {
        use plan::{opt_string, string, value};
        let write: fn(&Self, &mut Vec<u8>) = match field.name() {
            "id" => |m, out| plan::id(ids::encode(Kind::Message, &m.id), out),
            "conversationId" => {
                |m, out| plan::id(ids::encode(Kind::Conversation, &m.conversation_id), out)
            }
            "parentId" => |m, out| {
                let id = m
                    .parent_id
                    .as_deref()
                    .map(|id| ids::encode(Kind::Message, id));
                value(&id, out)
            },
            "userId" => |m, out| {
                let id = m.user_id.as_deref().map(|id| ids::encode(Kind::User, id));
                value(&id, out)
            },
            "role" => |m, out| value(&MessageRole::from(*m.role), out),
            "content" => |m, out| string(&m.content, out),
            "status" => |m, out| value(&MessageStatus::from(*m.status), out),
            "error" => |m, out| opt_string(m.error.as_deref(), out),
            "model" => |m, out| opt_string(m.model.as_deref(), out),
            "provider" => |m, out| opt_string(m.provider.as_deref(), out),
            "inputTokens" => |m, out| value(&m.input_tokens, out),
            "outputTokens" => |m, out| value(&m.output_tokens, out),
            "createdAt" => |m, out| value(&m.created_at, out),
            "updatedAt" => |m, out| value(&m.updated_at, out),
            _ => return None,
        };
        Some(FieldPlan::Value(write))
    }
}

/// `User.conversations` in a planned read: the page the resolver reads, each row checked.
impl PlanList for UserConversations {
    type Parent = crate::accounts::service::User;
    type Node = Conversation;
    type Total = ConversationTotal;

    fn parent_id(user: &Self::Parent) -> &str {
        &user.id
    }

    fn query(
        field: &SelectionField<'_>,
    ) -> ApiResult<PageQuery<ConversationFilter, ConversationOrder>> {
        let (mut query, _) = conversation_query(field)?;
        query.columns = planned_conversation_columns(field);
        Ok(query)
    }

    fn cursor(order: ConversationOrder, c: &service::Conversation) -> String {
        cursor(order.keyset().name, order.cursor_at(c), &c.id)
    }

    fn visible(ctx: &Context<'_>, c: &service::Conversation) -> bool {
        ctx.request()
            .is_ok_and(|request| service::can_read(request.actor(), c))
    }
}

/// The conversation columns a planned `conversations(...)` selection needs: those behind the
/// fields it selects on its nodes (a field not listed here reads them all). Only plans read
/// conversations sparsely: the resolvers' fields (`owner`, `persona`...) need whole rows.
fn planned_conversation_columns(field: &SelectionField<'_>) -> Columns {
    use service::{ConversationColumn as Column, ConversationColumns};
    let Some(nodes) = connection_nodes(field) else {
        return Columns::ALL;
    };
    let mut columns = ConversationColumns::KEYS;
    for node in nodes {
        for f in node.selection_set() {
            columns = match f.name() {
                "__typename" | "id" | "userId" | "createdAt" | "updatedAt" | "messages" => columns,
                "title" => columns.with(Column::Title),
                "model" => columns.with(Column::Model),
                "systemPrompt" => columns.with(Column::SystemPrompt),
                "status" => columns.with(Column::Status),
                "totalMessages" => columns.with(Column::TotalMessages),
                "startedAt" => columns.with(Column::StartedAt),
                "endedAt" => columns.with(Column::EndedAt),
                _ => return Columns::ALL,
            };
        }
    }
    Columns(columns.bits())
}

/// `Conversation.messages` in a planned read: only the columns the selection needs are read.
impl PlanList for ConversationMessages {
    type Parent = service::Conversation;
    type Node = Message;
    type Total = MessageTotal;

    fn parent_id(conversation: &Self::Parent) -> &str {
        &conversation.id
    }

    fn query(field: &SelectionField<'_>) -> ApiResult<PageQuery<MessageFilter, MessageOrder>> {
        Ok(message_query(field)?.0)
    }

    fn cursor(order: MessageOrder, m: &service::Message) -> String {
        cursor(order.keyset().name, m.created_at, &m.id)
    }
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
    let filter: ConversationFilter = filter.unwrap_or_default().try_into()?;
    let order: ConversationOrder = order_by.unwrap_or_default().into();
    let actor = ctx.request()?.actor();
    let key = ConversationPageKey {
        parent: user_id.to_owned(),
        query: Arc::new(PageQuery {
            filter: filter.clone(),
            order,
            args,
            columns: Columns::ALL,
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
    pub async fn id(&self) -> ID {
        ids::encode(Kind::Conversation, &self.0.id)
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
    /// The owner's id (see `owner`); null for conversations nobody owns.
    async fn user_id(&self) -> Option<ID> {
        self.0
            .user_id
            .as_deref()
            .map(|id| ids::encode(Kind::User, id))
    }
    /// The user who owns the conversation (one batched look-up for many conversations); null
    /// when nobody does or the caller may not see that user.
    async fn owner(&self, ctx: &Context<'_>) -> ApiResult<Option<User>> {
        user_link(ctx, self.0.user_id.as_deref()).await
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
    /// Active time in seconds, pauses excluded (practice sessions; null for a conversation
    /// that never ran one).
    async fn duration_seconds(&self) -> Option<i32> {
        crate::practice::graphql::duration_seconds(&self.0)
    }
    /// The practice scenario this conversation is a session of; null for ordinary ones.
    async fn scenario(
        &self,
        ctx: &Context<'_>,
    ) -> ApiResult<Option<crate::practice::graphql::Scenario>> {
        crate::practice::graphql::scenario_link(ctx, self.0.scenario_id.as_deref()).await
    }
    /// The invitation the session runs under; null when none, or the caller may not see it.
    async fn invitation(
        &self,
        ctx: &Context<'_>,
    ) -> ApiResult<Option<crate::practice::graphql::Invitation>> {
        crate::practice::graphql::invitation_link(ctx, self.0.invitation_id.as_deref()).await
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
                columns: message_columns(&ctx.field()),
            }),
        };
        let page = page(&ctx.loaders()?.conversations.message_pages, key).await?;
        let total = MessageCountKey {
            parent: self.0.id.clone(),
            filter: Arc::new(filter),
        };
        let name = order.keyset().name;
        Ok(connection(
            page,
            MessageTotal::Counted(total),
            |m| cursor(name, m.created_at, &m.id),
            Message,
        ))
    }

    /// The AI calls made for this conversation (tokens, cost, which stream), oldest first.
    #[graphql(complexity = "first.or(last).unwrap_or(20).max(0) as usize * child_complexity + 1")]
    async fn usage(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> ApiResult<UsageRecordConnection> {
        usage_of(ctx, &self.0.id, page_args(first, after, last, before)?).await
    }

    /// Researchers' observation notes on this practice session, oldest first (staff only: anyone
    /// else, the session's participant included, is refused).
    #[graphql(complexity = "first.or(last).unwrap_or(20).max(0) as usize * child_complexity + 1")]
    async fn observation_notes(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> ApiResult<ObservationNoteConnection> {
        notes_of(ctx, &self.0.id, page_args(first, after, last, before)?).await
    }
}

#[Object]
impl Message {
    pub async fn id(&self) -> ID {
        ids::encode(Kind::Message, &self.0.id)
    }
    async fn conversation_id(&self) -> ID {
        ids::encode(Kind::Conversation, &self.0.conversation_id)
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
        self.0
            .parent_id
            .as_deref()
            .map(|id| ids::encode(Kind::Message, id))
    }
    /// The author's id (see `author`), for user messages.
    async fn user_id(&self) -> Option<ID> {
        self.0
            .user_id
            .as_deref()
            .map(|id| ids::encode(Kind::User, id))
    }
    /// The user who wrote the message (one batched look-up for many messages); null for AI
    /// messages, or when the caller may not see that user.
    async fn author(&self, ctx: &Context<'_>) -> ApiResult<Option<User>> {
        user_link(ctx, self.0.user_id.as_deref()).await
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
    /// What the AI call behind this message used and cost; null for messages no call produced.
    async fn usage(
        &self,
        ctx: &Context<'_>,
    ) -> ApiResult<Option<crate::analytics::graphql::MessageUsage>> {
        crate::analytics::graphql::message_usage(ctx, &self.0.id).await
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// The messages that follow this one (replies, regenerations, edits after it), oldest first.
    #[graphql(complexity = "first.or(last).unwrap_or(20).max(0) as usize * child_complexity + 1")]
    async fn children(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> ApiResult<MessageConnection> {
        let args = page_args(first, after, last, before)?;
        let key = ParentKey {
            conversation_id: self.0.conversation_id.clone(),
            parent_id: Some(self.0.id.clone()),
        };
        versions(ctx, key, &args, "children").await
    }
    /// Every version of this message (itself included) under the same parent, oldest first: a
    /// client shows "2 of 3" from `totalCount` and this message's place in the list.
    #[graphql(complexity = "first.or(last).unwrap_or(20).max(0) as usize * child_complexity + 1")]
    async fn siblings(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> ApiResult<MessageConnection> {
        let args = page_args(first, after, last, before)?;
        let key = ParentKey {
            conversation_id: self.0.conversation_id.clone(),
            parent_id: self.0.parent_id.clone(),
        };
        versions(ctx, key, &args, "siblings").await
    }
}

/// The messages under one parent (one statement for a whole level), paged in memory.
async fn versions(
    ctx: &Context<'_>,
    key: ParentKey,
    args: &PageArgs,
    list: &str,
) -> ApiResult<MessageConnection> {
    let rows = load_one(&ctx.loaders()?.conversations.rows, key)
        .await?
        .unwrap_or_default();
    list_connection(rows, args, list, |m| &m.id, MessageTotal::Known, Message)
}

/// The conversations among `ids` (database ids) the caller may read, through the request's
/// loader (for `node(id:)`).
pub async fn visible_conversations(
    ctx: &Context<'_>,
    ids: &[String],
) -> ApiResult<HashMap<String, Conversation>> {
    let actor = ctx.request()?.actor();
    let keys = ids.iter().map(|id| ConversationId(id.clone()));
    let rows = ctx.loaders()?.conversations.rows.load_many(keys).await?;
    Ok(rows
        .into_iter()
        .filter(|(_, c)| service::can_read(actor, c))
        .map(|(k, c)| (k.0, Conversation(c)))
        .collect())
}

/// The messages among `ids` (database ids) whose conversation the caller may read (for
/// `node(id:)`): two batched look-ups, messages then their conversations.
pub async fn visible_messages(
    ctx: &Context<'_>,
    ids: &[String],
) -> ApiResult<HashMap<String, Message>> {
    let loader = &ctx.loaders()?.conversations.rows;
    let rows = loader
        .load_many(ids.iter().map(|id| MessageId(id.clone())))
        .await?;
    let conversation_ids: Vec<String> = rows.values().map(|m| m.conversation_id.clone()).collect();
    let readable = visible_conversations(ctx, &conversation_ids).await?;
    Ok(rows
        .into_iter()
        .filter(|(_, m)| readable.contains_key(&m.conversation_id))
        .map(|(k, m)| (k.0, Message(m)))
        .collect())
}

#[derive(Default)]
pub struct ConversationQuery;

#[Object]
impl ConversationQuery {
    /// A conversation you may read; null for anything else, exactly as for one that does not
    /// exist.
    async fn conversation(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Option<Conversation>> {
        let Some(id) = ids::decode_lookup(&id, Kind::Conversation, "id")? else {
            return Ok(None);
        };
        let actor = ctx.request()?.actor();
        let Some(row) = conversations(ctx)?.find(actor, &id).await? else {
            return Ok(None);
        };
        prefetch_messages(ctx, &ctx.look_ahead(), std::slice::from_ref(&row.id)).await?;
        Ok(Some(row.into()))
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

#[derive(SimpleObject)]
pub struct CreateConversationPayload {
    pub conversation: Conversation,
}

#[derive(InputObject)]
pub struct RenameConversationInput {
    pub id: ID,
    pub title: String,
}

#[derive(SimpleObject)]
pub struct RenameConversationPayload {
    pub conversation: Conversation,
}

#[derive(InputObject)]
pub struct DeleteConversationInput {
    pub id: ID,
}

#[derive(SimpleObject)]
pub struct DeleteConversationPayload {
    pub deleted_conversation_id: ID,
}

#[derive(InputObject)]
pub struct AddMessageInput {
    pub conversation_id: ID,
    pub content: String,
    /// The message this one follows; defaults to the conversation's latest message.
    pub parent_id: Option<ID>,
}

#[derive(SimpleObject)]
pub struct AddMessagePayload {
    pub message: Message,
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
    ) -> ApiResult<CreateConversationPayload> {
        let draft = ConversationDraft {
            title: input.title,
            model: input.model,
            system_prompt: input.system_prompt,
            persona_id: ids::decode_opt(input.persona_id.as_ref(), Kind::Persona, "personaId")?,
            room_id: ids::decode_opt(input.room_id.as_ref(), Kind::Room, "roomId")?,
        };
        let row = conversations(ctx)?
            .create(ctx.request()?.require()?, draft)
            .await?;
        Ok(CreateConversationPayload {
            conversation: row.into(),
        })
    }

    /// Sets a conversation's title; generated titles never replace one set here.
    async fn rename_conversation(
        &self,
        ctx: &Context<'_>,
        input: RenameConversationInput,
    ) -> ApiResult<RenameConversationPayload> {
        let id = ids::decode(&input.id, Kind::Conversation, "id")?;
        let actor = ctx.request()?.actor();
        let row = conversations(ctx)?.rename(actor, &id, &input.title).await?;
        Ok(RenameConversationPayload {
            conversation: row.into(),
        })
    }

    /// Deletes a conversation and hides its messages.
    async fn delete_conversation(
        &self,
        ctx: &Context<'_>,
        input: DeleteConversationInput,
    ) -> ApiResult<DeleteConversationPayload> {
        let id = ids::decode(&input.id, Kind::Conversation, "id")?;
        conversations(ctx)?
            .delete(ctx.request()?.actor(), &id)
            .await?;
        Ok(DeleteConversationPayload {
            deleted_conversation_id: ids::encode(Kind::Conversation, &id),
        })
    }
}

#[derive(Default)]
pub struct MessageMutation;

#[Object]
impl MessageMutation {
    /// Adds a message written by the caller to one of their conversations.
    async fn add_message(
        &self,
        ctx: &Context<'_>,
        input: AddMessageInput,
    ) -> ApiResult<AddMessagePayload> {
        let conversation_id =
            ids::decode(&input.conversation_id, Kind::Conversation, "conversationId")?;
        let parent_id = ids::decode_opt(input.parent_id.as_ref(), Kind::Message, "parentId")?;
        let message = conversations(ctx)?
            .add_message(
                ctx.request()?.require()?,
                &conversation_id,
                input.content,
                parent_id.as_deref(),
            )
            .await?;
        Ok(AddMessagePayload {
            message: message.into(),
        })
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
        let conversation_id = ids::decode_opt(
            conversation_id.as_ref(),
            Kind::Conversation,
            "conversationId",
        )?;
        let caller = ctx.request()?.require()?;
        let stream = conversations(ctx)?
            .message_added(caller, conversation_id.as_deref())
            .await?;
        Ok(stream.map(|m| m.map(Message::from)))
    }
}
