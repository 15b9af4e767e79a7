//! The journals area's use cases. A journal entry is its owner's alone: anyone else, admins
//! included, gets NOT_FOUND from a mutation and null from a look-up, exactly as for an entry
//! that does not exist (journals are private reflections, so this is stricter than the general
//! policy's admin rule).
//!
//! `save` takes the prompt and response from a reply in one of the caller's conversations (the
//! ASSISTANT message and the USER message it answers, with the conversation's persona and room),
//! or from text the caller gives with a persona and room.

use persistence::sea_orm::TransactionTrait as _;
use serde_json::json;

use crate::platform::audit;
use std::sync::Arc;

use core_domain::enums::{MessageRole, MessageStatus};
use core_domain::pagination::PageArgs;
use core_domain::policy::Action;
use core_domain::validation;
use persistence::journals::{self, JournalPatch, NewJournal};
use persistence::{Db, Page, catalogue, messages};

use crate::accounts::Caller;
use crate::catalogue::service::check_tags;
use crate::conversations::ConversationService;
use crate::error::{ApiError, ApiResult};

pub use persistence::journals::{Journal, JournalFilter};

/// Where a new entry's prompt and response come from.
#[derive(Debug, Clone)]
pub enum JournalSource {
    /// A reply (an ASSISTANT message) of one of the caller's conversations.
    Reply { message_id: String },
    /// Text the caller gives, with the persona and room it belongs to.
    Text {
        prompt: String,
        response: String,
        persona_id: String,
        room_id: String,
    },
}

/// What `saveJournal` was given, before it is checked.
#[derive(Debug, Clone, Default)]
pub struct JournalDraft {
    pub message_id: Option<String>,
    pub prompt: Option<String>,
    pub response: Option<String>,
    pub persona_id: Option<String>,
    pub room_id: Option<String>,
    pub title: Option<String>,
    pub tags: Option<Vec<String>>,
}

/// Changes to an entry: `None` leaves a field alone; an empty title clears it.
#[derive(Debug, Clone, Default)]
pub struct JournalChanges {
    pub title: Option<String>,
    pub tags: Option<Vec<String>>,
    pub prompt: Option<String>,
    pub response: Option<String>,
}

/// Longest title.
const MAX_TITLE: usize = 200;

pub struct JournalService {
    db: Db,
    conversations: Arc<ConversationService>,
}

impl JournalService {
    pub fn new(db: Db, conversations: Arc<ConversationService>) -> Self {
        Self { db, conversations }
    }

    /// Saves an entry for the caller, from a reply (`messageId`) or from text (`prompt`,
    /// `response`, `personaId`, `roomId`).
    pub async fn save(&self, caller: &Caller, draft: JournalDraft) -> ApiResult<Journal> {
        let title = check_title(draft.title)?;
        let tags = check_tags(draft.tags.unwrap_or_default())?;
        let source = match (draft.message_id, draft.prompt, draft.response) {
            (Some(message_id), None, None) => {
                if draft.persona_id.is_some() || draft.room_id.is_some() {
                    return Err(ApiError::bad_input(
                        "personaId",
                        "comes from the reply's conversation: leave it out with messageId",
                    ));
                }
                JournalSource::Reply { message_id }
            }
            (None, Some(prompt), Some(response)) => JournalSource::Text {
                prompt,
                response,
                persona_id: draft
                    .persona_id
                    .ok_or_else(|| ApiError::bad_input("personaId", "is required with prompt"))?,
                room_id: draft
                    .room_id
                    .ok_or_else(|| ApiError::bad_input("roomId", "is required with prompt"))?,
            },
            (Some(_), _, _) => {
                return Err(ApiError::bad_input(
                    "messageId",
                    "give either messageId or prompt and response, not both",
                ));
            }
            (None, None, _) => {
                return Err(ApiError::bad_input(
                    "messageId",
                    "give messageId, or prompt and response",
                ));
            }
            (None, Some(_), None) => {
                return Err(ApiError::bad_input("response", "is required with prompt"));
            }
        };
        let new = match source {
            JournalSource::Reply { message_id } => {
                self.entry_for_reply(caller, &message_id).await?
            }
            JournalSource::Text {
                prompt,
                response,
                persona_id,
                room_id,
            } => {
                check_text(&prompt, "prompt")?;
                check_text(&response, "response")?;
                let db = self.db.conn();
                if catalogue::persona(db, &persona_id).await?.is_none() {
                    return Err(ApiError::bad_input("personaId", "no such persona"));
                }
                if catalogue::room(db, &room_id).await?.is_none() {
                    return Err(ApiError::bad_input("roomId", "no such room"));
                }
                NewJournal {
                    user_id: caller.actor.user_id.clone(),
                    persona_id,
                    room_id,
                    prompt,
                    response,
                    ..NewJournal::default()
                }
            }
        };
        let txn = self.db.conn().begin().await?;
        let journal = journals::create(&txn, NewJournal { title, tags, ..new }).await?;
        audit::record(
            &txn,
            Some(&caller.actor.user_id),
            "journal.saved",
            "Journal",
            &journal.id,
            json!({ "title": journal.title, "fromMessage": journal.response_message_id }),
        )
        .await?;
        txn.commit().await?;
        Ok(journal)
    }

    /// The entry for the exchange that ends at reply `message_id`, which must be an ASSISTANT
    /// message with text, answering a USER message, in a conversation of the caller's with a
    /// persona and a room.
    async fn entry_for_reply(&self, caller: &Caller, message_id: &str) -> ApiResult<NewJournal> {
        let (reply, conversation) = self
            .conversations
            .message_for(Some(&caller.actor), message_id, Action::Update)
            .await?;
        if conversation.user_id.as_deref() != Some(caller.actor.user_id.as_str()) {
            return Err(ApiError::NotFound);
        }
        let bad = |why: &str| ApiError::bad_input("messageId", why.to_owned());
        if *reply.role != MessageRole::Assistant {
            return Err(bad("is not an AI reply"));
        }
        if *reply.status == MessageStatus::Streaming {
            return Err(bad("is still being written: save it once it is done"));
        }
        if reply.content.trim().is_empty() {
            return Err(bad("has no text"));
        }
        let prompt = match &reply.parent_id {
            Some(parent) => messages::find(self.db.conn(), parent).await?,
            None => None,
        }
        .filter(|p| *p.role == MessageRole::User)
        .ok_or_else(|| bad("does not answer a user message"))?;
        let (Some(persona_id), Some(room_id)) = (conversation.persona_id, conversation.room_id)
        else {
            return Err(bad("its conversation has no persona and room"));
        };
        Ok(NewJournal {
            user_id: caller.actor.user_id.clone(),
            persona_id,
            room_id,
            prompt: prompt.content,
            response: reply.content,
            conversation_id: Some(conversation.id),
            prompt_message_id: Some(prompt.id),
            response_message_id: Some(reply.id),
            ..NewJournal::default()
        })
    }

    /// The caller's entry `id`, or `None` for a missing entry or anyone else's.
    pub async fn find(&self, caller: Option<&Caller>, id: &str) -> ApiResult<Option<Journal>> {
        let Some(caller) = caller else {
            return Ok(None);
        };
        Ok(journals::find_own(self.db.conn(), &caller.actor.user_id, id).await?)
    }

    /// The caller's entries among `ids` (others' are left out), for `node`/`nodes`.
    pub async fn find_many(
        &self,
        caller: Option<&Caller>,
        ids: &[String],
    ) -> ApiResult<Vec<Journal>> {
        let Some(caller) = caller else {
            return Ok(Vec::new());
        };
        Ok(journals::own_by_ids(self.db.conn(), &caller.actor.user_id, ids).await?)
    }

    /// A page of the caller's entries under `filter`, newest first.
    pub async fn journals(
        &self,
        caller: &Caller,
        filter: &JournalFilter,
        args: &PageArgs,
    ) -> ApiResult<Page<Journal>> {
        let filter = check_filter(filter)?;
        Ok(journals::page_own(self.db.conn(), &caller.actor.user_id, &filter, args).await?)
    }

    /// How many entries the caller has under `filter`.
    pub async fn count(&self, caller: &Caller, filter: &JournalFilter) -> ApiResult<u64> {
        let filter = check_filter(filter)?;
        Ok(journals::count_own(self.db.conn(), &caller.actor.user_id, &filter).await?)
    }

    /// The cursor name of the journal list.
    pub fn ordering() -> &'static str {
        journals::keyset().name
    }

    /// Changes one of the caller's entries (NOT_FOUND for anyone else's).
    pub async fn update(
        &self,
        caller: &Caller,
        id: &str,
        changes: JournalChanges,
    ) -> ApiResult<Journal> {
        if let Some(p) = &changes.prompt {
            check_text(p, "prompt")?;
        }
        if let Some(r) = &changes.response {
            check_text(r, "response")?;
        }
        let patch = JournalPatch {
            title: changes.title.map(|t| check_title(Some(t))).transpose()?,
            tags: changes.tags.map(check_tags).transpose()?,
            prompt: changes.prompt,
            response: changes.response,
        };
        let txn = self.db.conn().begin().await?;
        let journal = journals::update_own(&txn, &caller.actor.user_id, id, patch)
            .await?
            .ok_or(ApiError::NotFound)?;
        audit::record(
            &txn,
            Some(&caller.actor.user_id),
            "journal.updated",
            "Journal",
            id,
            json!({ "title": journal.title }),
        )
        .await?;
        txn.commit().await?;
        Ok(journal)
    }

    /// Deletes one of the caller's entries (NOT_FOUND for anyone else's).
    pub async fn delete(&self, caller: &Caller, id: &str) -> ApiResult<()> {
        let txn = self.db.conn().begin().await?;
        if !journals::delete_own(&txn, &caller.actor.user_id, id).await? {
            return Err(ApiError::NotFound);
        }
        audit::record(
            &txn,
            Some(&caller.actor.user_id),
            "journal.deleted",
            "Journal",
            id,
            json!({}),
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }
}

/// A title: trimmed, at most 200 characters; empty means none.
fn check_title(title: Option<String>) -> ApiResult<Option<String>> {
    let Some(title) = title.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    if title.chars().count() > MAX_TITLE {
        return Err(ApiError::bad_input(
            "title",
            format!("must be at most {MAX_TITLE} characters"),
        ));
    }
    Ok(Some(title))
}

/// A prompt or response: not empty, no longer than a message.
fn check_text(text: &str, field: &'static str) -> ApiResult<()> {
    validation::check_message_content(text)
        .map_err(|e| ApiError::bad_input(field, e.message.clone()))
}

/// A filter's search text and tag: bounded, blank means no condition.
fn check_filter(filter: &JournalFilter) -> ApiResult<JournalFilter> {
    let clean = |v: &Option<String>, field: &'static str| -> ApiResult<Option<String>> {
        match v.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) if v.chars().count() > 200 => {
                Err(ApiError::bad_input(field, "must be at most 200 characters"))
            }
            Some(v) => Ok(Some(v.to_owned())),
        }
    };
    Ok(JournalFilter {
        persona_id: filter.persona_id.clone(),
        room_id: filter.room_id.clone(),
        tag: clean(&filter.tag, "tag")?,
        search: clean(&filter.search, "search")?,
    })
}
