//! Chat over GraphQL: sending, regenerating and cancelling replies, following them as they are
//! produced, choosing a conversation's model, and users' own provider keys. Resolvers check
//! access and hand over to [`crate::chat::ChatService`].
//!
//! Branching: `sendMessage` with `parentId` set to the parent of an earlier user message is an
//! edit (a new USER sibling, then its reply); `regenerateMessage` adds an ASSISTANT sibling.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject, Subscription};
use chrono::{DateTime, Utc};
use core_domain::enums::{KeyProvider as DomainKeyProvider, MessageRole};
use core_domain::policy::Action;
use futures::Stream;
use persistence::messages as store;
use persistence::{api_keys, conversations};

use crate::chat::{UserTurn, keys};
use crate::error::{ApiError, ApiResult};
use crate::events::MessageEvent;
use crate::graphql::context::ContextExt;
use crate::graphql::conversations::{Conversation, authorized};
use crate::graphql::messages::Message;
use crate::graphql::scalars::{KeyProvider, MessageStatus};

#[derive(InputObject)]
pub struct SendMessageInput {
    pub conversation_id: ID,
    pub content: String,
    /// The model for this reply only; defaults to the conversation's, else the server's default.
    pub model: Option<String>,
    /// The message this one follows; defaults to the conversation's latest message. The parent
    /// of an earlier user message makes this an edit of it.
    pub parent_id: Option<ID>,
}

/// The two messages `sendMessage` stored: the caller's, and the reply being generated.
#[derive(SimpleObject)]
pub struct SendMessagePayload {
    pub user_message: Message,
    /// STREAMING: follow it with `messageStream(messageId: reply.id)`.
    pub reply: Message,
}

#[derive(InputObject)]
pub struct UpdateConversationInput {
    /// The model later replies use (a message's own `model` still wins).
    pub model: Option<String>,
    pub system_prompt: Option<String>,
}

/// A provider key the caller stored. The key itself never leaves the server.
#[derive(SimpleObject)]
pub struct ApiKey {
    pub id: ID,
    pub provider: KeyProvider,
    pub name: Option<String>,
    /// The key's last four characters, to tell keys apart.
    pub last4: String,
    pub created_at: DateTime<Utc>,
}

impl TryFrom<api_keys::ApiKey> for ApiKey {
    type Error = ApiError;
    fn try_from(row: api_keys::ApiKey) -> ApiResult<Self> {
        let provider: DomainKeyProvider = crate::graphql::scalars::stored(&row.provider)?;
        Ok(Self {
            id: ID(row.id),
            provider: provider.into(),
            name: row.name,
            last4: row.last4,
            created_at: row.created_at,
        })
    }
}

/// One piece of a reply being followed.
#[derive(SimpleObject)]
pub struct MessageStreamEvent {
    pub message_id: ID,
    /// Where this piece ends, in characters (Unicode scalar values) of the content; reconnect
    /// with `afterSeq` set to the last `seq` seen to miss nothing and repeat nothing.
    pub seq: i32,
    /// The text added; empty on the final event.
    pub delta: String,
    pub status: MessageStatus,
    /// Why the reply FAILED (a provider reason such as `stream_interrupted`), on the final event.
    pub error: Option<String>,
    /// True on the last event, sent once the reply is COMPLETE, FAILED or CANCELLED.
    pub done: bool,
}

/// A message the caller may act on, with its conversation (NOT_FOUND otherwise).
async fn message_for(
    ctx: &Context<'_>,
    id: &str,
    action: Action,
) -> ApiResult<(store::Message, conversations::Conversation)> {
    let message = store::find(ctx.services()?.db.conn(), id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let conversation = authorized(ctx, &message.conversation_id, action).await?;
    Ok((message, conversation))
}

fn key_provider(p: KeyProvider) -> &'static str {
    DomainKeyProvider::from(p).as_str()
}

#[derive(Default)]
pub struct ChatQuery;

#[Object]
impl ChatQuery {
    /// The caller's own provider keys, newest first (a handful at most, so not paged).
    async fn api_keys(&self, ctx: &Context<'_>) -> ApiResult<Vec<ApiKey>> {
        let caller = ctx.request()?.require()?;
        api_keys::for_user(ctx.services()?.db.conn(), &caller.actor.user_id)
            .await?
            .into_iter()
            .map(ApiKey::try_from)
            .collect()
    }
}

#[derive(Default)]
pub struct ChatMutation;

#[Object]
impl ChatMutation {
    /// Stores the caller's message and a STREAMING reply, returns both at once, and generates the
    /// reply in the background (it continues if the client goes away).
    async fn send_message(
        &self,
        ctx: &Context<'_>,
        input: SendMessageInput,
    ) -> ApiResult<SendMessagePayload> {
        let caller = ctx.request()?.require()?.clone();
        core_domain::validation::check_message_content(&input.content)?;
        let conversation = authorized(ctx, &input.conversation_id, Action::Update).await?;
        let services = ctx.services()?;
        let started = services
            .chat
            .start_reply(
                conversation.clone(),
                &caller.actor.user_id,
                input.model,
                UserTurn::New {
                    content: input.content,
                    parent_id: input.parent_id.map(|i| i.0),
                },
            )
            .await?;
        let user_message = started
            .user_message
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("no user message stored")))?;
        for id in [&user_message.id, &started.reply.id] {
            services.events.publish_message(MessageEvent {
                conversation_id: conversation.id.clone(),
                owner_id: conversation.user_id.clone(),
                message_id: id.clone(),
            });
        }
        Ok(SendMessagePayload {
            user_message: Message(user_message),
            reply: Message(started.reply),
        })
    }

    /// A new version of one of your messages: a USER sibling of `messageId` (under the same
    /// parent, so the first message of a conversation can be edited too) and its reply. The
    /// original and its replies stay, as siblings.
    async fn edit_message(
        &self,
        ctx: &Context<'_>,
        message_id: ID,
        content: String,
        model: Option<String>,
    ) -> ApiResult<SendMessagePayload> {
        let caller = ctx.request()?.require()?.clone();
        core_domain::validation::check_message_content(&content)?;
        let (original, conversation) = message_for(ctx, &message_id, Action::Update).await?;
        if original.role != MessageRole::User.as_str() {
            return Err(ApiError::bad_input("messageId", "is not a user message"));
        }
        let services = ctx.services()?;
        let started = services
            .chat
            .start_reply(
                conversation.clone(),
                &caller.actor.user_id,
                model,
                UserTurn::Edit {
                    content,
                    original: Box::new(original),
                },
            )
            .await?;
        let user_message = started
            .user_message
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("no user message stored")))?;
        for id in [&user_message.id, &started.reply.id] {
            services.events.publish_message(MessageEvent {
                conversation_id: conversation.id.clone(),
                owner_id: conversation.user_id.clone(),
                message_id: id.clone(),
            });
        }
        Ok(SendMessagePayload {
            user_message: Message(user_message),
            reply: Message(started.reply),
        })
    }

    /// Another reply to the same user message (an ASSISTANT sibling of `messageId`), or a reply
    /// to `messageId` when it is a user message. Optionally with another model.
    async fn regenerate_message(
        &self,
        ctx: &Context<'_>,
        message_id: ID,
        model: Option<String>,
    ) -> ApiResult<Message> {
        let caller = ctx.request()?.require()?.clone();
        let (message, conversation) = message_for(ctx, &message_id, Action::Update).await?;
        let services = ctx.services()?;
        let user_message = if message.role == MessageRole::User.as_str() {
            message
        } else {
            let parent = match &message.parent_id {
                Some(p) => store::find(services.db.conn(), p).await?,
                None => None,
            };
            parent
                .filter(|p| p.role == MessageRole::User.as_str())
                .ok_or_else(|| ApiError::bad_input("messageId", "does not answer a user message"))?
        };
        let started = services
            .chat
            .start_reply(
                conversation.clone(),
                &caller.actor.user_id,
                model,
                UserTurn::Existing(Box::new(user_message)),
            )
            .await?;
        services.events.publish_message(MessageEvent {
            conversation_id: conversation.id,
            owner_id: conversation.user_id,
            message_id: started.reply.id.clone(),
        });
        Ok(Message(started.reply))
    }

    /// Stops a reply being generated; what was produced stays, with status CANCELLED.
    async fn cancel_message(&self, ctx: &Context<'_>, message_id: ID) -> ApiResult<Message> {
        let (message, _) = message_for(ctx, &message_id, Action::Update).await?;
        Ok(Message(ctx.services()?.chat.cancel(message).await?))
    }

    /// Changes a conversation's model or system prompt for the replies that follow.
    async fn update_conversation(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateConversationInput,
    ) -> ApiResult<Conversation> {
        authorized(ctx, &id, Action::Update).await?;
        let services = ctx.services()?;
        if let Some(model) = &input.model {
            services.chat.check_model(model)?;
        }
        if let Some(prompt) = &input.system_prompt {
            core_domain::validation::check_system_prompt(prompt)?;
        }
        let row = conversations::update_settings(
            services.db.conn(),
            &id,
            input.model,
            input.system_prompt,
        )
        .await?
        .ok_or(ApiError::NotFound)?;
        Ok(Conversation(row))
    }

    /// Stores the caller's own key for a provider, encrypted; their chats with that provider use
    /// it from now on. Only its last four characters are ever shown again.
    async fn add_api_key(
        &self,
        ctx: &Context<'_>,
        provider: KeyProvider,
        name: Option<String>,
        key: String,
    ) -> ApiResult<ApiKey> {
        let caller = ctx.request()?.require()?;
        let services = ctx.services()?;
        let row = keys::add(
            services.db.conn(),
            services.chat.key_ring(),
            &caller.actor.user_id,
            key_provider(provider),
            name,
            &key,
        )
        .await?;
        ApiKey::try_from(row)
    }

    /// Deletes one of the caller's keys. Returns its id.
    async fn delete_api_key(&self, ctx: &Context<'_>, id: ID) -> ApiResult<ID> {
        let caller = ctx.request()?.require()?;
        if api_keys::delete(ctx.services()?.db.conn(), &caller.actor.user_id, &id).await? {
            Ok(id)
        } else {
            Err(ApiError::NotFound)
        }
    }
}

#[derive(Default)]
pub struct ChatSubscription;

#[Subscription]
impl ChatSubscription {
    /// A reply as it is produced: what exists after `afterSeq` first (all of it when omitted),
    /// then live pieces, ending with a `done` event. Any number of clients can follow one reply,
    /// on any server instance.
    async fn message_stream(
        &self,
        ctx: &Context<'_>,
        message_id: ID,
        after_seq: Option<i32>,
    ) -> Result<impl Stream<Item = ApiResult<MessageStreamEvent>> + use<>, ApiError> {
        ctx.request()?.require()?;
        let after = match after_seq {
            None => None,
            Some(n) => Some(
                usize::try_from(n)
                    .map_err(|_| ApiError::bad_input("afterSeq", "must not be negative"))?,
            ),
        };
        let (message, _) = message_for(ctx, &message_id, Action::Read).await?;
        let chunks = ctx.services()?.chat.follow(message.id, after);
        Ok(futures::StreamExt::map(chunks, |chunk| {
            chunk.map(|c| MessageStreamEvent {
                message_id: ID(c.message_id),
                seq: i32::try_from(c.seq).unwrap_or(i32::MAX),
                delta: c.delta,
                status: c.status.into(),
                error: c.error,
                done: c.done,
            })
        }))
    }
}
