//! Messages: reading them, adding a user's message, and following new messages live.

use async_graphql::{Context, ID, InputObject, Object, Subscription};
use chrono::{DateTime, Utc};
use core_domain::enums::{MessageRole as DomainRole, MessageStatus as DomainStatus};
use core_domain::policy::{Action, can};
use core_domain::validation;
use futures::Stream;
use persistence::messages::{self as store, NewMessage};
use tokio::sync::broadcast::error::RecvError;

use crate::error::{ApiError, ApiResult};
use crate::events::MessageEvent;
use crate::graphql::context::ContextExt;
use crate::graphql::conversations::{Conversation, authorized, resource};
use crate::graphql::loaders::{ConversationId, MessageCountKey, ParentKey};
use crate::graphql::scalars::{self, MessageRole, MessageStatus};

pub struct Message(pub store::Message);

/// `totalCount` of a conversation's message list, counted only when asked for.
pub struct MessageTotal(pub MessageCountKey);

#[Object]
impl MessageTotal {
    async fn total_count(&self, ctx: &Context<'_>) -> ApiResult<u64> {
        let n = ctx
            .loaders()?
            .message_counts
            .load_one(self.0.clone())
            .await
            .map_err(ApiError::from)?;
        Ok(n.unwrap_or(0))
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
        let row = ctx
            .loaders()?
            .by_id
            .load_one(ConversationId(self.0.conversation_id.clone()))
            .await
            .map_err(ApiError::from)?
            .ok_or(ApiError::NotFound)?;
        if !can(ctx.request()?.actor(), Action::Read, &resource(&row)) {
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
        Ok(scalars::stored::<DomainRole>(&self.0.role)?.into())
    }
    async fn content(&self) -> &str {
        &self.0.content
    }
    async fn status(&self) -> ApiResult<MessageStatus> {
        Ok(scalars::stored::<DomainStatus>(&self.0.status)?.into())
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
        let rows = ctx
            .loaders()?
            .by_id
            .load_one(key)
            .await
            .map_err(ApiError::from)?
            .unwrap_or_default();
        Ok(rows.into_iter().map(Message).collect())
    }
}

#[derive(InputObject)]
pub struct AddMessageInput {
    pub conversation_id: ID,
    pub content: String,
    /// The message this one follows; defaults to the conversation's latest message.
    pub parent_id: Option<ID>,
}

#[derive(Default)]
pub struct MessageMutation;

#[Object]
impl MessageMutation {
    /// Adds a message written by the caller to one of their conversations.
    async fn add_message(&self, ctx: &Context<'_>, input: AddMessageInput) -> ApiResult<Message> {
        let caller = ctx.request()?.require()?.clone();
        validation::check_message_content(&input.content)?;
        let conversation = authorized(ctx, &input.conversation_id, Action::Update).await?;
        let services = ctx.services()?;
        let db = services.db.conn();
        let parent_id = match input.parent_id {
            Some(parent) => {
                let parent = store::find(db, &parent).await?;
                match parent {
                    Some(p) if p.conversation_id == conversation.id => Some(p.id),
                    _ => {
                        return Err(ApiError::bad_input(
                            "parentId",
                            "is not a message of this conversation",
                        ));
                    }
                }
            }
            None => store::latest_in(db, &conversation.id).await?.map(|m| m.id),
        };
        let mut stored = store::append(
            db,
            vec![NewMessage {
                conversation_id: conversation.id.clone(),
                user_id: Some(caller.actor.user_id.clone()),
                parent_id,
                role: DomainRole::User,
                content: input.content,
                status: DomainStatus::Complete,
                model: None,
                provider: None,
            }],
        )
        .await?;
        let message = stored
            .pop()
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("append returned no row")))?;
        services.events.publish_message(MessageEvent {
            conversation_id: conversation.id,
            owner_id: conversation.user_id,
            message_id: message.id.clone(),
        });
        Ok(Message(message))
    }
}

#[derive(Default)]
pub struct MessageSubscription;

#[Subscription]
impl MessageSubscription {
    /// New messages as they are stored: in one conversation, or, without `conversationId`, in
    /// every conversation the caller owns.
    async fn message_added(
        &self,
        ctx: &Context<'_>,
        conversation_id: Option<ID>,
    ) -> Result<impl Stream<Item = ApiResult<Message>> + use<>, ApiError> {
        let caller = ctx.request()?.require()?.clone();
        if let Some(id) = &conversation_id {
            authorized(ctx, id, Action::Read).await?;
        }
        let services = ctx.services()?.clone();
        let mut events = services.events.subscribe_messages();
        let wanted = conversation_id.map(|i| i.0);
        Ok(async_stream::stream! {
            loop {
                let event = match events.recv().await {
                    Ok(e) => e,
                    Err(RecvError::Lagged(n)) => {
                        tracing::warn!(skipped = n, "messageAdded subscriber lagged");
                        continue;
                    }
                    Err(RecvError::Closed) => break,
                };
                let relevant = match &wanted {
                    Some(id) => *id == event.conversation_id,
                    None => event.owner_id.as_deref() == Some(caller.actor.user_id.as_str()),
                };
                if !relevant {
                    continue;
                }
                match store::find(services.db.conn(), &event.message_id).await {
                    Ok(Some(m)) => yield Ok(Message(m)),
                    Ok(None) => continue,
                    Err(e) => yield Err(ApiError::from(e)),
                }
            }
        })
    }
}
