//! Conversations: reading one, its messages, and creating, renaming and deleting them.

use std::sync::Arc;

use async_graphql::connection::{Connection, EmptyFields};
use async_graphql::{Context, ID, InputObject, Object};
use chrono::{DateTime, Utc};
use core_domain::enums::{MessageRole as DomainRole, MessageStatus as DomainStatus};
use core_domain::policy::{Action, Resource, can};
use core_domain::{Actor, validation};
use persistence::catalogue;
use persistence::conversations::{self as store, NewConversation};
use persistence::messages::{MessageFilter, MessageOrder};

use crate::error::{ApiError, ApiResult};
use crate::graphql::catalogue::{Persona, Room};
use crate::graphql::connection::{connection, page_args};
use crate::graphql::context::ContextExt;
use crate::graphql::loaders::{
    ConversationCountKey, MessageCountKey, MessagePageKey, PersonaId, RoomId,
};
use crate::graphql::messages::{Message, MessageTotal};
use crate::graphql::scalars::{
    self, ConversationStatus, MessageRole, MessageStatus, SortDirection,
};

pub struct Conversation(pub store::Conversation);

/// The policy's view of a conversation row.
pub fn resource(c: &store::Conversation) -> Resource<'_> {
    Resource::Conversation {
        owner_id: c.user_id.as_deref(),
        research: c.invitation_id.is_some() || c.scenario_id.is_some(),
    }
}

/// Loads a conversation the caller may `action`; anything else, including a conversation that
/// exists but is someone else's, answers NOT_FOUND.
pub async fn authorized(
    ctx: &Context<'_>,
    id: &str,
    action: Action,
) -> ApiResult<store::Conversation> {
    let actor = ctx.request()?.actor();
    authorized_for(ctx, actor, id, action).await
}

pub async fn authorized_for(
    ctx: &Context<'_>,
    actor: Option<&Actor>,
    id: &str,
    action: Action,
) -> ApiResult<store::Conversation> {
    if actor.is_none() {
        return Err(ApiError::Unauthenticated);
    }
    let row = store::find(ctx.services()?.db.conn(), id)
        .await?
        .ok_or(ApiError::NotFound)?;
    if can(actor, action, &resource(&row)) {
        Ok(row)
    } else {
        Err(ApiError::NotFound)
    }
}

/// `totalCount` of a user's conversation list, counted only when asked for.
pub struct ConversationTotal(pub ConversationCountKey);

#[Object]
impl ConversationTotal {
    async fn total_count(&self, ctx: &Context<'_>) -> ApiResult<u64> {
        let n = ctx
            .loaders()?
            .conversation_counts
            .load_one(self.0.clone())
            .await
            .map_err(ApiError::from)?;
        Ok(n.unwrap_or(0))
    }
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
        Ok(scalars::stored::<core_domain::ConversationStatus>(&self.0.status)?.into())
    }
    async fn user_id(&self) -> Option<ID> {
        self.0.user_id.clone().map(ID)
    }
    async fn persona(&self, ctx: &Context<'_>) -> ApiResult<Option<Persona>> {
        let Some(id) = &self.0.persona_id else {
            return Ok(None);
        };
        let p = ctx
            .loaders()?
            .by_id
            .load_one(PersonaId(id.clone()))
            .await
            .map_err(ApiError::from)?;
        Ok(p.map(Persona))
    }
    async fn room(&self, ctx: &Context<'_>) -> ApiResult<Option<Room>> {
        let Some(id) = &self.0.room_id else {
            return Ok(None);
        };
        let r = ctx
            .loaders()?
            .by_id
            .load_one(RoomId(id.clone()))
            .await
            .map_err(ApiError::from)?;
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
        let order = match order_by.map(|o| o.direction) {
            Some(SortDirection::Desc) => MessageOrder::CreatedDesc,
            _ => MessageOrder::CreatedAsc,
        };
        let key = MessagePageKey {
            conversation_id: self.0.id.clone(),
            query: Arc::new((filter.clone(), order, args)),
        };
        let page = ctx
            .loaders()?
            .message_pages
            .load_one(key)
            .await
            .map_err(ApiError::from)?
            .unwrap_or_else(persistence::Page::empty);
        let total = MessageTotal(MessageCountKey {
            conversation_id: self.0.id.clone(),
            filter: Arc::new(filter),
        });
        let name = order.keyset().name;
        Ok(connection(
            page,
            total,
            |m| {
                persistence::cursor::Cursor {
                    at: m.created_at,
                    id: m.id.clone(),
                }
                .encode(name)
            },
            Message,
        ))
    }
}

#[derive(Default)]
pub struct ConversationQuery;

#[Object]
impl ConversationQuery {
    /// A conversation you may read; anything else is NOT_FOUND.
    async fn conversation(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Conversation> {
        Ok(Conversation(authorized(ctx, &id, Action::Read).await?))
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
        let caller = ctx.request()?.require()?;
        let db = &ctx.services()?.db;
        let title = input
            .title
            .as_deref()
            .map(validation::normalize_title)
            .transpose()?;
        if let Some(prompt) = &input.system_prompt {
            validation::check_system_prompt(prompt)?;
        }
        if let Some(model) = &input.model
            && (model.trim().is_empty() || model.len() > 100)
        {
            return Err(ApiError::bad_input("model", "is not a model name"));
        }
        if let Some(id) = &input.persona_id
            && catalogue::persona(db.conn(), id).await?.is_none()
        {
            return Err(ApiError::bad_input("personaId", "no such persona"));
        }
        if let Some(id) = &input.room_id
            && catalogue::room(db.conn(), id).await?.is_none()
        {
            return Err(ApiError::bad_input("roomId", "no such room"));
        }
        let row = store::create(
            db.conn(),
            NewConversation {
                user_id: Some(caller.actor.user_id.clone()),
                title,
                model: input.model,
                system_prompt: input.system_prompt,
                persona_id: input.persona_id.map(|i| i.0),
                room_id: input.room_id.map(|i| i.0),
            },
        )
        .await?;
        Ok(Conversation(row))
    }

    /// Sets a conversation's title; generated titles never replace one set here.
    async fn rename_conversation(
        &self,
        ctx: &Context<'_>,
        id: ID,
        title: String,
    ) -> ApiResult<Conversation> {
        authorized(ctx, &id, Action::Update).await?;
        let title = validation::normalize_title(&title)?;
        let row = store::rename(ctx.services()?.db.conn(), &id, &title)
            .await?
            .ok_or(ApiError::NotFound)?;
        Ok(Conversation(row))
    }

    /// Deletes a conversation and hides its messages. Returns its id.
    async fn delete_conversation(&self, ctx: &Context<'_>, id: ID) -> ApiResult<ID> {
        authorized(ctx, &id, Action::Delete).await?;
        if store::soft_delete(ctx.services()?.db.conn(), &id).await? {
            Ok(id)
        } else {
            Err(ApiError::NotFound)
        }
    }
}
