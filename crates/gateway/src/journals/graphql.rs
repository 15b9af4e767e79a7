//! Journals over GraphQL: `saveJournal`, `journals(filter)`, `journal(id)`, `updateJournal`,
//! `deleteJournal`. Every field is the caller's own; a journal's persona and room resolve
//! through the catalogue's loader (one statement per level for a whole page).

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::connection::{Connection, EmptyFields};
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::service::{self, JournalChanges, JournalDraft, JournalFilter, JournalService};
use crate::accounts::graphql::{User, user_link};
use crate::catalogue::graphql::{Persona, Room};
use crate::catalogue::loaders::{PersonaId, RoomId};
use crate::conversations::graphql::{
    Conversation, Message, visible_conversations, visible_messages,
};
use crate::error::{ApiError, ApiResult};
use crate::graphql::connection::{connection, cursor, page_args};
use crate::graphql::context::{ContextExt, load_one};
use crate::graphql::ids::{self, Kind};

fn journals<'a>(ctx: &'a Context<'_>) -> ApiResult<&'a JournalService> {
    Ok(&ctx.services()?.journals)
}

/// A prompt and the AI's response that the user kept, with the persona and room they belong to.
#[derive(Clone)]
pub struct Journal(pub Arc<service::Journal>);

impl From<service::Journal> for Journal {
    fn from(j: service::Journal) -> Self {
        Journal(Arc::new(j))
    }
}

#[Object]
impl Journal {
    pub async fn id(&self) -> ID {
        ids::encode(Kind::Journal, &self.0.id)
    }
    async fn user_id(&self) -> ID {
        ids::encode(Kind::User, &self.0.user_id)
    }
    /// The user who keeps the entry (always the caller: journals are their owner's alone).
    async fn owner(&self, ctx: &Context<'_>) -> ApiResult<Option<User>> {
        user_link(ctx, Some(&self.0.user_id)).await
    }
    /// The user's own title, if they gave one.
    async fn title(&self) -> Option<&str> {
        self.0.title.as_deref()
    }
    /// The user's own labels.
    async fn tags(&self) -> Vec<String> {
        self.0
            .tags
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|t| t.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }
    /// What the user asked.
    async fn prompt(&self) -> &str {
        &self.0.prompt
    }
    /// What the AI answered.
    async fn response(&self) -> &str {
        &self.0.response
    }
    async fn persona_id(&self) -> ID {
        ids::encode(Kind::Persona, &self.0.persona_id)
    }
    /// The persona that answered (retired ones included).
    async fn persona(&self, ctx: &Context<'_>) -> ApiResult<Persona> {
        let loader = &ctx.loaders()?.catalogue;
        load_one(loader, PersonaId(self.0.persona_id.clone()))
            .await?
            .map(Persona)
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("a journal's persona is missing")))
    }
    async fn room_id(&self) -> ID {
        ids::encode(Kind::Room, &self.0.room_id)
    }
    /// The room the exchange took place in (retired ones included).
    async fn room(&self, ctx: &Context<'_>) -> ApiResult<Room> {
        let loader = &ctx.loaders()?.catalogue;
        load_one(loader, RoomId(self.0.room_id.clone()))
            .await?
            .map(Room)
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("a journal's room is missing")))
    }
    /// The conversation it was saved from; null for an entry written out, or when that
    /// conversation is gone.
    async fn conversation_id(&self) -> Option<ID> {
        self.0
            .conversation_id
            .as_deref()
            .map(|id| ids::encode(Kind::Conversation, id))
    }
    async fn conversation(&self, ctx: &Context<'_>) -> ApiResult<Option<Conversation>> {
        let Some(id) = &self.0.conversation_id else {
            return Ok(None);
        };
        Ok(visible_conversations(ctx, std::slice::from_ref(id))
            .await?
            .remove(id))
    }
    async fn prompt_message_id(&self) -> Option<ID> {
        self.0
            .prompt_message_id
            .as_deref()
            .map(|id| ids::encode(Kind::Message, id))
    }
    /// The user message it was saved from, while it exists.
    async fn prompt_message(&self, ctx: &Context<'_>) -> ApiResult<Option<Message>> {
        message(ctx, self.0.prompt_message_id.as_ref()).await
    }
    async fn response_message_id(&self) -> Option<ID> {
        self.0
            .response_message_id
            .as_deref()
            .map(|id| ids::encode(Kind::Message, id))
    }
    /// The reply it was saved from, while it exists.
    async fn response_message(&self, ctx: &Context<'_>) -> ApiResult<Option<Message>> {
        message(ctx, self.0.response_message_id.as_ref()).await
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

async fn message(ctx: &Context<'_>, id: Option<&String>) -> ApiResult<Option<Message>> {
    let Some(id) = id else {
        return Ok(None);
    };
    Ok(visible_messages(ctx, std::slice::from_ref(id))
        .await?
        .remove(id))
}

/// The caller's journals among `ids` (database ids), for `node(id:)`.
pub async fn journals_by_ids(
    ctx: &Context<'_>,
    ids: &[String],
) -> ApiResult<HashMap<String, Journal>> {
    let caller = ctx.request()?.caller.as_ref();
    let rows = journals(ctx)?.find_many(caller, ids).await?;
    Ok(rows
        .into_iter()
        .map(|j| (j.id.clone(), Journal::from(j)))
        .collect())
}

/// Narrows the caller's journals; conditions combine with AND.
#[derive(InputObject, Default)]
pub struct JournalFilterInput {
    pub persona_id: Option<ID>,
    pub room_id: Option<ID>,
    /// Entries carrying this tag (exactly).
    pub tag: Option<String>,
    /// Text found in the title, prompt or response (case-insensitive).
    pub search: Option<String>,
}

/// `totalCount` of the caller's journals under the list's filter, counted only when asked for.
pub struct JournalTotal(JournalFilter);

#[Object]
impl JournalTotal {
    async fn total_count(&self, ctx: &Context<'_>) -> ApiResult<u64> {
        let caller = ctx.request()?.require()?;
        journals(ctx)?.count(caller, &self.0).await
    }
}

pub type JournalConnection = Connection<String, Journal, JournalTotal, EmptyFields>;

#[derive(Default)]
pub struct JournalQuery;

#[Object]
impl JournalQuery {
    /// Your journal, newest first.
    #[graphql(complexity = "first.or(last).unwrap_or(20).max(0) as usize * child_complexity + 1")]
    async fn journals(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<JournalFilterInput>,
    ) -> ApiResult<JournalConnection> {
        let args = page_args(first, after, last, before)?;
        let f = filter.unwrap_or_default();
        let filter = JournalFilter {
            persona_id: ids::decode_opt(f.persona_id.as_ref(), Kind::Persona, "personaId")?,
            room_id: ids::decode_opt(f.room_id.as_ref(), Kind::Room, "roomId")?,
            tag: f.tag,
            search: f.search,
        };
        let caller = ctx.request()?.require()?;
        let page = journals(ctx)?.journals(caller, &filter, &args).await?;
        let name = JournalService::ordering();
        Ok(connection(
            page,
            JournalTotal(filter),
            |j| cursor(name, j.created_at, &j.id),
            Journal::from,
        ))
    }

    /// One of your journal entries; null for anything else, exactly as for one that does not
    /// exist.
    async fn journal(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Option<Journal>> {
        let Some(id) = ids::decode_lookup(&id, Kind::Journal, "id")? else {
            return Ok(None);
        };
        let caller = ctx.request()?.caller.as_ref();
        let row = journals(ctx)?.find(caller, &id).await?;
        Ok(row.map(Journal::from))
    }
}

#[derive(InputObject, Default)]
pub struct SaveJournalInput {
    /// A reply (an ASSISTANT message) in one of your conversations: the entry keeps it and the
    /// message it answers, with the conversation's persona and room. Or leave it out and give
    /// `prompt`, `response`, `personaId` and `roomId`.
    pub message_id: Option<ID>,
    pub prompt: Option<String>,
    pub response: Option<String>,
    pub persona_id: Option<ID>,
    pub room_id: Option<ID>,
    /// Up to 200 characters.
    pub title: Option<String>,
    /// Up to 20 tags of 1 to 50 characters.
    pub tags: Option<Vec<String>>,
}

#[derive(SimpleObject)]
pub struct SaveJournalPayload {
    pub journal: Journal,
}

#[derive(InputObject)]
pub struct UpdateJournalInput {
    pub id: ID,
    /// An empty title removes it.
    pub title: Option<String>,
    /// Replaces the tags.
    pub tags: Option<Vec<String>>,
    pub prompt: Option<String>,
    pub response: Option<String>,
}

#[derive(SimpleObject)]
pub struct UpdateJournalPayload {
    pub journal: Journal,
}

#[derive(InputObject)]
pub struct DeleteJournalInput {
    pub id: ID,
}

#[derive(SimpleObject)]
pub struct DeleteJournalPayload {
    pub deleted_journal_id: ID,
}

#[derive(Default)]
pub struct JournalMutation;

#[Object]
impl JournalMutation {
    /// Keeps a prompt and response in your journal: from a reply of yours (`messageId`), or
    /// from text you give with its persona and room.
    async fn save_journal(
        &self,
        ctx: &Context<'_>,
        input: SaveJournalInput,
    ) -> ApiResult<SaveJournalPayload> {
        let draft = JournalDraft {
            message_id: ids::decode_opt(input.message_id.as_ref(), Kind::Message, "messageId")?,
            prompt: input.prompt,
            response: input.response,
            persona_id: ids::decode_opt(input.persona_id.as_ref(), Kind::Persona, "personaId")?,
            room_id: ids::decode_opt(input.room_id.as_ref(), Kind::Room, "roomId")?,
            title: input.title,
            tags: input.tags,
        };
        let caller = ctx.request()?.require()?;
        let row = journals(ctx)?.save(caller, draft).await?;
        Ok(SaveJournalPayload {
            journal: row.into(),
        })
    }

    /// Changes one of your journal entries; fields left out stay as they are.
    async fn update_journal(
        &self,
        ctx: &Context<'_>,
        input: UpdateJournalInput,
    ) -> ApiResult<UpdateJournalPayload> {
        let id = ids::decode(&input.id, Kind::Journal, "id")?;
        let changes = JournalChanges {
            title: input.title,
            tags: input.tags,
            prompt: input.prompt,
            response: input.response,
        };
        let caller = ctx.request()?.require()?;
        let row = journals(ctx)?.update(caller, &id, changes).await?;
        Ok(UpdateJournalPayload {
            journal: row.into(),
        })
    }

    /// Deletes one of your journal entries.
    async fn delete_journal(
        &self,
        ctx: &Context<'_>,
        input: DeleteJournalInput,
    ) -> ApiResult<DeleteJournalPayload> {
        let id = ids::decode(&input.id, Kind::Journal, "id")?;
        let caller = ctx.request()?.require()?;
        journals(ctx)?.delete(caller, &id).await?;
        Ok(DeleteJournalPayload {
            deleted_journal_id: ids::encode(Kind::Journal, &id),
        })
    }
}
