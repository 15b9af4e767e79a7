//! Chat over GraphQL: sending, editing, regenerating and cancelling replies, following them as
//! they are produced, choosing a conversation's model, and users' own provider keys. Resolvers
//! parse, call [`ChatService`], and wrap.
//!
//! Branching: `sendMessage` with `parentId` set to the parent of an earlier user message is an
//! edit (a new USER sibling, then its reply); `regenerateMessage` adds an ASSISTANT sibling.

use std::sync::Arc;

use async_graphql::{Context, ID, InputObject, Object, SimpleObject, Subscription};
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};

use super::service::{self, ChatService, Started};
use crate::accounts::Caller;
use crate::conversations::graphql::{Conversation, Message};
use crate::error::{ApiError, ApiResult};
use crate::graphql::context::ContextExt;
use crate::graphql::scalars::{KeyProvider, MessageStatus};

fn chat<'a>(ctx: &'a Context<'_>) -> ApiResult<&'a Arc<ChatService>> {
    Ok(&ctx.services()?.chat)
}

fn caller<'a>(ctx: &'a Context<'_>) -> ApiResult<&'a Caller> {
    ctx.request()?.require()
}

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

impl From<service::ApiKey> for ApiKey {
    fn from(row: service::ApiKey) -> Self {
        Self {
            id: ID(row.id),
            provider: (*row.provider).into(),
            name: row.name,
            last4: row.last4,
            created_at: row.created_at,
        }
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

impl TryFrom<Started> for SendMessagePayload {
    type Error = ApiError;
    fn try_from(started: Started) -> ApiResult<Self> {
        let user_message = started
            .user_message
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("no user message stored")))?;
        Ok(SendMessagePayload {
            user_message: user_message.into(),
            reply: started.reply.into(),
        })
    }
}

#[derive(Default)]
pub struct ChatQuery;

#[Object]
impl ChatQuery {
    /// The caller's own provider keys, newest first (a handful at most, so not paged).
    async fn api_keys(&self, ctx: &Context<'_>) -> ApiResult<Vec<ApiKey>> {
        let rows = chat(ctx)?.api_keys(caller(ctx)?).await?;
        Ok(rows.into_iter().map(ApiKey::from).collect())
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
        chat(ctx)?
            .send(
                caller(ctx)?,
                &input.conversation_id,
                input.content,
                input.model,
                input.parent_id.map(|i| i.0),
            )
            .await?
            .try_into()
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
        chat(ctx)?
            .edit(caller(ctx)?, &message_id, content, model)
            .await?
            .try_into()
    }

    /// Another reply to the same user message (an ASSISTANT sibling of `messageId`), or a reply
    /// to `messageId` when it is a user message. Optionally with another model.
    async fn regenerate_message(
        &self,
        ctx: &Context<'_>,
        message_id: ID,
        model: Option<String>,
    ) -> ApiResult<Message> {
        let reply = chat(ctx)?
            .regenerate(caller(ctx)?, &message_id, model)
            .await?;
        Ok(reply.into())
    }

    /// Stops a reply being generated; what was produced stays, with status CANCELLED.
    async fn cancel_message(&self, ctx: &Context<'_>, message_id: ID) -> ApiResult<Message> {
        let message = chat(ctx)?.cancel_for(caller(ctx)?, &message_id).await?;
        Ok(message.into())
    }

    /// Changes a conversation's model or system prompt for the replies that follow.
    async fn update_conversation(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateConversationInput,
    ) -> ApiResult<Conversation> {
        let row = chat(ctx)?
            .update_conversation(caller(ctx)?, &id, input.model, input.system_prompt)
            .await?;
        Ok(row.into())
    }

    /// Stores the caller's own key for a provider, encrypted; their chats with that provider use
    /// it from now on. Only its last four characters are ever shown again. Guests cannot store
    /// keys.
    async fn add_api_key(
        &self,
        ctx: &Context<'_>,
        provider: KeyProvider,
        name: Option<String>,
        key: String,
    ) -> ApiResult<ApiKey> {
        let row = chat(ctx)?
            .add_api_key(caller(ctx)?, provider.into(), name, &key)
            .await?;
        Ok(row.into())
    }

    /// Deletes one of the caller's keys. Returns its id.
    async fn delete_api_key(&self, ctx: &Context<'_>, id: ID) -> ApiResult<ID> {
        chat(ctx)?.delete_api_key(caller(ctx)?, &id).await?;
        Ok(id)
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
        let chunks = chat(ctx)?
            .follow_for(caller(ctx)?, &message_id, after_seq)
            .await?;
        Ok(chunks.map(|chunk| {
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
