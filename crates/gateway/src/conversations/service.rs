//! The conversations area's use cases. Every read and change goes through [`authorized`]
//! (`ConversationService::authorized`): a conversation the caller may not act on answers
//! NOT_FOUND exactly like a missing one. New messages are announced on the [`EventBus`], which
//! reaches `messageAdded` subscribers on every instance.

use persistence::sea_orm::TransactionTrait as _;
use serde_json::json;

use crate::platform::audit;
use core_domain::enums::{MessageRole, MessageStatus};
use core_domain::policy::{Action, Resource, can};
use core_domain::{Actor, validation};
use futures::Stream;
use persistence::conversations::{self, NewConversation};
use persistence::messages::{self, NewMessage};
use persistence::{Db, catalogue};
use tokio::sync::broadcast::error::RecvError;

use crate::accounts::Caller;
use crate::error::{ApiError, ApiResult};
use crate::platform::events::{EventBus, MessageEvent};

pub use persistence::conversations::{
    Conversation, ConversationColumns, ConversationFilter, ConversationOrder,
};
pub use persistence::entity::conversations::Column as ConversationColumn;
pub use persistence::entity::messages::Column as MessageColumn;
pub use persistence::messages::{Message, MessageColumns, MessageFilter, MessageOrder, ParentKey};

/// What a new conversation starts with.
#[derive(Debug, Clone, Default)]
pub struct ConversationDraft {
    pub title: Option<String>,
    pub model: Option<String>,
    pub system_prompt: Option<String>,
    pub persona_id: Option<String>,
    pub room_id: Option<String>,
}

/// The policy's view of a conversation row: the one place that says which conversations are
/// research data. A session that runs under an invitation is (staff read it, its messages, usage
/// and notes); anything else, a scenario practised on one's own included, is its owner's private
/// conversation, which staff never see.
pub fn resource(c: &Conversation) -> Resource<'_> {
    Resource::Conversation {
        owner_id: c.user_id.as_deref(),
        research: c.invitation_id.is_some(),
    }
}

/// Whether `actor` may read `conversation` (lists check each row with this).
pub fn can_read(actor: Option<&Actor>, conversation: &Conversation) -> bool {
    can(actor, Action::Read, &resource(conversation))
}

pub struct ConversationService {
    db: Db,
    events: EventBus,
}

impl ConversationService {
    pub fn new(db: Db, events: EventBus) -> Self {
        Self { db, events }
    }

    /// A conversation `actor` may `action`; anything else, including a conversation that exists
    /// but is someone else's, answers NOT_FOUND (UNAUTHENTICATED without a caller). A caller who
    /// may read the conversation but not change it (staff on a research session: they read, never
    /// write) gets FORBIDDEN: it hides nothing they cannot already see.
    pub async fn authorized(
        &self,
        actor: Option<&Actor>,
        id: &str,
        action: Action,
    ) -> ApiResult<Conversation> {
        if actor.is_none() {
            return Err(ApiError::Unauthenticated);
        }
        let row = conversations::find(self.db.conn(), id)
            .await?
            .ok_or(ApiError::NotFound)?;
        if can(actor, action, &resource(&row)) {
            Ok(row)
        } else if action != Action::Read && can_read(actor, &row) {
            Err(ApiError::Forbidden(
                "research sessions are read-only for staff",
            ))
        } else {
            Err(ApiError::NotFound)
        }
    }

    /// A conversation `actor` may read, or `None` for one that is missing or not theirs alike
    /// (look-ups answer null rather than NOT_FOUND).
    pub async fn find(&self, actor: Option<&Actor>, id: &str) -> ApiResult<Option<Conversation>> {
        let row = conversations::find(self.db.conn(), id).await?;
        Ok(row.filter(|c| can_read(actor, c)))
    }

    /// A message `actor` may `action`, with its conversation (NOT_FOUND otherwise).
    pub async fn message_for(
        &self,
        actor: Option<&Actor>,
        id: &str,
        action: Action,
    ) -> ApiResult<(Message, Conversation)> {
        if actor.is_none() {
            return Err(ApiError::Unauthenticated);
        }
        let message = messages::find(self.db.conn(), id)
            .await?
            .ok_or(ApiError::NotFound)?;
        let conversation = self
            .authorized(actor, &message.conversation_id, action)
            .await?;
        Ok((message, conversation))
    }

    /// Starts a conversation owned by the caller.
    pub async fn create(
        &self,
        caller: &Caller,
        draft: ConversationDraft,
    ) -> ApiResult<Conversation> {
        let db = self.db.conn();
        let title = draft
            .title
            .as_deref()
            .map(validation::normalize_title)
            .transpose()?;
        if let Some(prompt) = &draft.system_prompt {
            validation::check_system_prompt(prompt)?;
        }
        if let Some(model) = &draft.model
            && (model.trim().is_empty() || model.len() > 100)
        {
            return Err(ApiError::bad_input("model", "is not a model name"));
        }
        // A retired persona or room starts no new conversation; a persona only works in the
        // rooms linked to it (`persona_rooms`).
        if let Some(id) = &draft.persona_id
            && catalogue::persona(db, id)
                .await?
                .is_none_or(|p| p.retired_at.is_some())
        {
            return Err(ApiError::bad_input("personaId", "no such persona"));
        }
        if let Some(id) = &draft.room_id
            && catalogue::room(db, id)
                .await?
                .is_none_or(|r| r.retired_at.is_some())
        {
            return Err(ApiError::bad_input("roomId", "no such room"));
        }
        if let (Some(persona), Some(room)) = (&draft.persona_id, &draft.room_id)
            && !catalogue::supports(db, persona, room).await?
        {
            return Err(ApiError::bad_input(
                "roomId",
                "the persona does not work in this room",
            ));
        }
        let txn = db.begin().await?;
        let conversation = conversations::create(
            &txn,
            NewConversation {
                user_id: Some(caller.actor.user_id.clone()),
                title,
                model: draft.model,
                system_prompt: draft.system_prompt,
                persona_id: draft.persona_id,
                room_id: draft.room_id,
            },
        )
        .await?;
        audit::record(
            &txn,
            Some(&caller.actor.user_id),
            "conversation.created",
            "Conversation",
            &conversation.id,
            json!({ "title": conversation.title, "personaId": conversation.persona_id }),
        )
        .await?;
        txn.commit().await?;
        Ok(conversation)
    }

    /// Sets a conversation's title; generated titles never replace one set here.
    pub async fn rename(
        &self,
        actor: Option<&Actor>,
        id: &str,
        title: &str,
    ) -> ApiResult<Conversation> {
        self.authorized(actor, id, Action::Update).await?;
        let title = validation::normalize_title(title)?;
        let txn = self.db.conn().begin().await?;
        let renamed = conversations::rename(&txn, id, &title)
            .await?
            .ok_or(ApiError::NotFound)?;
        audit::record(
            &txn,
            actor.map(|a| a.user_id.as_str()),
            "conversation.renamed",
            "Conversation",
            id,
            json!({ "title": title }),
        )
        .await?;
        txn.commit().await?;
        Ok(renamed)
    }

    /// Changes the model or system prompt later replies use. The model was checked by the caller
    /// (chat knows which models exist).
    pub async fn update_settings(
        &self,
        actor: Option<&Actor>,
        id: &str,
        model: Option<String>,
        system_prompt: Option<String>,
    ) -> ApiResult<Conversation> {
        self.authorized(actor, id, Action::Update).await?;
        if let Some(prompt) = &system_prompt {
            validation::check_system_prompt(prompt)?;
        }
        let summary = json!({ "model": model, "systemPromptChanged": system_prompt.is_some() });
        let txn = self.db.conn().begin().await?;
        let updated = conversations::update_settings(&txn, id, model, system_prompt)
            .await?
            .ok_or(ApiError::NotFound)?;
        audit::record(
            &txn,
            actor.map(|a| a.user_id.as_str()),
            "conversation.updated",
            "Conversation",
            id,
            summary,
        )
        .await?;
        txn.commit().await?;
        Ok(updated)
    }

    /// Deletes a conversation and hides its messages.
    pub async fn delete(&self, actor: Option<&Actor>, id: &str) -> ApiResult<()> {
        self.authorized(actor, id, Action::Delete).await?;
        let txn = self.db.conn().begin().await?;
        if !conversations::soft_delete(&txn, id).await? {
            return Err(ApiError::NotFound);
        }
        audit::record(
            &txn,
            actor.map(|a| a.user_id.as_str()),
            "conversation.deleted",
            "Conversation",
            id,
            json!({}),
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }

    /// The parent a new message in `conversation` goes under: `requested` when it is a message of
    /// that conversation (BAD_USER_INPUT on `parentId` otherwise), else the conversation's latest
    /// message (none for the first). The one rule for every way a message is added.
    pub async fn parent_for(
        &self,
        conversation: &Conversation,
        requested: Option<&str>,
    ) -> ApiResult<Option<String>> {
        let db = self.db.conn();
        match requested {
            Some(parent) => match messages::find(db, parent).await? {
                Some(p) if p.conversation_id == conversation.id => Ok(Some(p.id)),
                _ => Err(ApiError::bad_input(
                    "parentId",
                    "is not a message of this conversation",
                )),
            },
            None => Ok(messages::latest_in(db, &conversation.id)
                .await?
                .map(|m| m.id)),
        }
    }

    /// Adds a message written by the caller to one of their conversations (no AI reply).
    pub async fn add_message(
        &self,
        caller: &Caller,
        conversation_id: &str,
        content: String,
        parent_id: Option<&str>,
    ) -> ApiResult<Message> {
        validation::check_message_content(&content)?;
        let conversation = self
            .authorized(Some(&caller.actor), conversation_id, Action::Update)
            .await?;
        let parent_id = self.parent_for(&conversation, parent_id).await?;
        let txn = self.db.conn().begin().await?;
        let mut stored = messages::append(
            &txn,
            vec![NewMessage {
                conversation_id: conversation.id.clone(),
                user_id: Some(caller.actor.user_id.clone()),
                parent_id,
                role: MessageRole::User,
                content,
                status: MessageStatus::Complete,
                model: None,
                provider: None,
            }],
        )
        .await?;
        let message = stored
            .pop()
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("append returned no row")))?;
        audit::record(
            &txn,
            Some(&caller.actor.user_id),
            "message.added",
            "Message",
            &message.id,
            json!({ "conversationId": conversation.id }),
        )
        .await?;
        txn.commit().await?;
        self.announce(&conversation, &[&message.id]);
        Ok(message)
    }

    /// The bus `messageAdded` subscribers listen on.
    pub fn events(&self) -> &EventBus {
        &self.events
    }

    /// Tells `messageAdded` subscribers, on every instance, that these messages were stored.
    pub fn announce(&self, conversation: &Conversation, message_ids: &[&str]) {
        for id in message_ids {
            self.events.publish_message(MessageEvent {
                conversation_id: conversation.id.clone(),
                owner_id: conversation.user_id.clone(),
                message_id: (*id).to_owned(),
            });
        }
    }

    /// New messages as they are stored: in one conversation the caller may read, or, without
    /// `conversation_id`, in every conversation the caller owns. The subscription is live when
    /// this returns, so nothing stored afterwards is missed.
    pub async fn message_added(
        &self,
        caller: &Caller,
        conversation_id: Option<&str>,
    ) -> ApiResult<impl Stream<Item = ApiResult<Message>> + use<>> {
        if let Some(id) = conversation_id {
            self.authorized(Some(&caller.actor), id, Action::Read)
                .await?;
        }
        let mut events = self.events.subscribe_messages();
        let wanted = conversation_id.map(str::to_owned);
        let user_id = caller.actor.user_id.clone();
        let db = self.db.clone();
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
                    None => event.owner_id.as_deref() == Some(user_id.as_str()),
                };
                if !relevant {
                    continue;
                }
                match messages::find(db.conn(), &event.message_id).await {
                    Ok(Some(m)) => yield Ok(m),
                    Ok(None) => continue,
                    Err(e) => yield Err(ApiError::from(e)),
                }
            }
        })
    }
}
