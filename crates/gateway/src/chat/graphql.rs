//! Chat over GraphQL: sending, editing, regenerating and cancelling replies, following them as
//! they are produced, choosing a conversation's model, and users' own provider keys. Resolvers
//! parse (ids are global, see `graphql::ids`), call [`ChatService`], and wrap.
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
use crate::graphql::ids::{self, Kind};
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

/// The messages `sendMessage` stored: the caller's, and the reply being generated (in a
/// practice session also the coach's comment, generated alongside).
#[derive(SimpleObject)]
pub struct SendMessagePayload {
    pub user_message: Message,
    /// STREAMING: follow it with `messageStream(messageId: reply.id)`. In a practice session,
    /// the partner's reply (role PARTNER).
    pub reply: Message,
    /// In a practice session, the coach's comment on this message (role COACH, STREAMING:
    /// follow it with `messageStream` too); null elsewhere.
    pub coach_reply: Option<Message>,
    /// Every reply being generated: `reply`, then `coachReply` when there is one.
    pub replies: Vec<Message>,
}

#[derive(InputObject)]
pub struct EditMessageInput {
    /// The user message to make a new version of.
    pub message_id: ID,
    pub content: String,
    /// The model for the reply only; defaults to the conversation's, else the server's default.
    pub model: Option<String>,
}

/// The new version `editMessage` stored, and the reply being generated to it.
#[derive(SimpleObject)]
pub struct EditMessagePayload {
    /// A USER sibling of the edited message.
    pub user_message: Message,
    /// STREAMING: follow it with `messageStream(messageId: reply.id)`.
    pub reply: Message,
}

#[derive(InputObject)]
pub struct RegenerateMessageInput {
    /// An ASSISTANT message to answer again, or a user message to answer.
    pub message_id: ID,
    /// The model for this reply only; defaults to the conversation's, else the server's default.
    pub model: Option<String>,
}

#[derive(SimpleObject)]
pub struct RegenerateMessagePayload {
    /// The new reply, STREAMING: follow it with `messageStream(messageId: reply.id)`.
    pub reply: Message,
}

#[derive(InputObject)]
pub struct CancelMessageInput {
    /// A reply being generated.
    pub message_id: ID,
}

#[derive(SimpleObject)]
pub struct CancelMessagePayload {
    /// The reply, CANCELLED with what was produced (or as it ended, if it ended first).
    pub message: Message,
}

#[derive(InputObject)]
pub struct UpdateConversationInput {
    pub id: ID,
    /// The model later replies use (a message's own `model` still wins).
    pub model: Option<String>,
    pub system_prompt: Option<String>,
}

#[derive(SimpleObject)]
pub struct UpdateConversationPayload {
    pub conversation: Conversation,
}

#[derive(InputObject)]
pub struct AddApiKeyInput {
    pub provider: KeyProvider,
    /// A label to tell keys apart.
    pub name: Option<String>,
    /// The provider's secret key; it is never shown again.
    #[graphql(secret)]
    pub key: String,
}

#[derive(SimpleObject)]
pub struct AddApiKeyPayload {
    pub api_key: ApiKey,
}

#[derive(InputObject)]
pub struct DeleteApiKeyInput {
    /// An `ApiKey` id of the caller's.
    pub id: ID,
}

#[derive(SimpleObject)]
pub struct DeleteApiKeyPayload {
    pub deleted_api_key_id: ID,
}

/// A provider key the caller stored. The key itself never leaves the server.
#[derive(Clone)]
pub struct ApiKey(pub service::ApiKey);

impl From<service::ApiKey> for ApiKey {
    fn from(row: service::ApiKey) -> Self {
        ApiKey(row)
    }
}

#[Object]
impl ApiKey {
    pub async fn id(&self) -> ID {
        ids::encode(Kind::ApiKey, &self.0.id)
    }
    async fn provider(&self) -> KeyProvider {
        (*self.0.provider).into()
    }
    async fn name(&self) -> Option<&str> {
        self.0.name.as_deref()
    }
    /// The key's last four characters, to tell keys apart.
    async fn last4(&self) -> &str {
        &self.0.last4
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
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

/// The user's message and the reply a send or an edit stored.
fn exchange(started: Started) -> ApiResult<(Message, Message)> {
    let user_message = started
        .user_message
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("no user message stored")))?;
    Ok((user_message.into(), started.reply.into()))
}

#[derive(Default)]
pub struct ChatQuery;

#[Object]
impl ChatQuery {
    /// The caller's own provider keys, newest first (a handful at most, so not paged).
    async fn my_api_keys(&self, ctx: &Context<'_>) -> ApiResult<Vec<ApiKey>> {
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
        let conversation_id =
            ids::decode(&input.conversation_id, Kind::Conversation, "conversationId")?;
        let parent_id = ids::decode_opt(input.parent_id.as_ref(), Kind::Message, "parentId")?;
        let started = chat(ctx)?
            .send(
                caller(ctx)?,
                &conversation_id,
                input.content,
                input.model,
                parent_id,
            )
            .await?;
        let coach_reply: Option<Message> = started.coach_reply.clone().map(Message::from);
        let (user_message, reply) = exchange(started)?;
        let replies = std::iter::once(reply.clone())
            .chain(coach_reply.clone())
            .collect();
        Ok(SendMessagePayload {
            user_message,
            reply,
            coach_reply,
            replies,
        })
    }

    /// A new version of one of your messages: a USER sibling of `messageId` (under the same
    /// parent, so the first message of a conversation can be edited too) and its reply. The
    /// original and its replies stay, as siblings.
    async fn edit_message(
        &self,
        ctx: &Context<'_>,
        input: EditMessageInput,
    ) -> ApiResult<EditMessagePayload> {
        let message_id = ids::decode(&input.message_id, Kind::Message, "messageId")?;
        let started = chat(ctx)?
            .edit(caller(ctx)?, &message_id, input.content, input.model)
            .await?;
        let (user_message, reply) = exchange(started)?;
        Ok(EditMessagePayload {
            user_message,
            reply,
        })
    }

    /// Another reply to the same user message (an ASSISTANT sibling of `messageId`), or a reply
    /// to `messageId` when it is a user message. Optionally with another model.
    async fn regenerate_message(
        &self,
        ctx: &Context<'_>,
        input: RegenerateMessageInput,
    ) -> ApiResult<RegenerateMessagePayload> {
        let message_id = ids::decode(&input.message_id, Kind::Message, "messageId")?;
        let reply = chat(ctx)?
            .regenerate(caller(ctx)?, &message_id, input.model)
            .await?;
        Ok(RegenerateMessagePayload {
            reply: reply.into(),
        })
    }

    /// Stops a reply being generated; what was produced stays, with status CANCELLED.
    async fn cancel_message(
        &self,
        ctx: &Context<'_>,
        input: CancelMessageInput,
    ) -> ApiResult<CancelMessagePayload> {
        let message_id = ids::decode(&input.message_id, Kind::Message, "messageId")?;
        let message = chat(ctx)?.cancel_for(caller(ctx)?, &message_id).await?;
        Ok(CancelMessagePayload {
            message: message.into(),
        })
    }

    /// Changes a conversation's model or system prompt for the replies that follow.
    async fn update_conversation(
        &self,
        ctx: &Context<'_>,
        input: UpdateConversationInput,
    ) -> ApiResult<UpdateConversationPayload> {
        let id = ids::decode(&input.id, Kind::Conversation, "id")?;
        let row = chat(ctx)?
            .update_conversation(caller(ctx)?, &id, input.model, input.system_prompt)
            .await?;
        Ok(UpdateConversationPayload {
            conversation: row.into(),
        })
    }

    /// Stores the caller's own key for a provider, encrypted; their chats with that provider use
    /// it from now on. Only its last four characters are ever shown again. Guests cannot store
    /// keys.
    async fn add_api_key(
        &self,
        ctx: &Context<'_>,
        input: AddApiKeyInput,
    ) -> ApiResult<AddApiKeyPayload> {
        let row = chat(ctx)?
            .add_api_key(caller(ctx)?, input.provider.into(), input.name, &input.key)
            .await?;
        Ok(AddApiKeyPayload {
            api_key: row.into(),
        })
    }

    /// Deletes one of the caller's keys.
    async fn delete_api_key(
        &self,
        ctx: &Context<'_>,
        input: DeleteApiKeyInput,
    ) -> ApiResult<DeleteApiKeyPayload> {
        let id = ids::decode(&input.id, Kind::ApiKey, "id")?;
        chat(ctx)?.delete_api_key(caller(ctx)?, &id).await?;
        Ok(DeleteApiKeyPayload {
            deleted_api_key_id: ids::encode(Kind::ApiKey, &id),
        })
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
        let message_id = ids::decode(&message_id, Kind::Message, "messageId")?;
        let chunks = chat(ctx)?
            .follow_for(caller(ctx)?, &message_id, after_seq)
            .await?;
        Ok(chunks.map(|chunk| {
            chunk.map(|c| MessageStreamEvent {
                message_id: ids::encode(Kind::Message, &c.message_id),
                seq: i32::try_from(c.seq).unwrap_or(i32::MAX),
                delta: c.delta,
                status: c.status.into(),
                error: c.error,
                done: c.done,
            })
        }))
    }
}
