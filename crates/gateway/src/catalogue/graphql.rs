//! The catalogue over GraphQL: personas and rooms, readable by anyone, signed in or not, and
//! their administration (admins only). The catalogue is small and read whole, so its
//! connections page in memory.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::connection::{Connection, EmptyFields};
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::loaders::{LinksOfPersona, LinksOfRoom, PersonaId, RoomId};
use super::service;
use crate::error::ApiResult;
use crate::graphql::connection::{KnownTotal, list_connection, page_args};
use crate::graphql::context::{ContextExt, load_one};
use crate::graphql::ids::{self, Kind};
use crate::graphql::scalars::{Json, PromptType};

#[derive(Clone)]
pub struct Persona(pub Arc<service::Persona>);
#[derive(Clone)]
pub struct Room(pub Arc<service::Room>);

impl From<service::Persona> for Persona {
    fn from(p: service::Persona) -> Self {
        Persona(Arc::new(p))
    }
}

impl From<service::Room> for Room {
    fn from(r: service::Room) -> Self {
        Room(Arc::new(r))
    }
}

fn tags(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|t| t.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// A persona's rooms (only its defaults when `only_default`), by name: two batched look-ups.
async fn rooms_of(ctx: &Context<'_>, persona_id: &str, only_default: bool) -> ApiResult<Vec<Room>> {
    let loader = &ctx.loaders()?.catalogue;
    let links = load_one(loader, LinksOfPersona(persona_id.to_owned()))
        .await?
        .unwrap_or_default();
    let ids = links
        .into_iter()
        .filter(|l| l.is_default || !only_default)
        .map(|l| RoomId(l.room_id));
    let rooms = loader.load_many(ids).await?;
    let mut rooms: Vec<Room> = rooms
        .into_values()
        .filter(|r| r.retired_at.is_none())
        .map(Room)
        .collect();
    rooms.sort_by(|a, b| a.0.name.cmp(&b.0.name));
    Ok(rooms)
}

pub type PersonaConnection = Connection<String, Persona, KnownTotal, EmptyFields>;
pub type RoomConnection = Connection<String, Room, KnownTotal, EmptyFields>;

#[Object]
impl Persona {
    pub async fn id(&self) -> ID {
        ids::encode(Kind::Persona, &self.0.id)
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn tone(&self) -> &str {
        &self.0.tone
    }
    async fn voice(&self) -> &str {
        &self.0.voice
    }
    async fn description(&self) -> &str {
        &self.0.description
    }
    async fn system_prompt(&self) -> &str {
        &self.0.system_prompt
    }
    async fn tags(&self) -> Vec<String> {
        tags(&self.0.tags)
    }
    async fn default_model(&self) -> Option<&str> {
        self.0.default_model.as_deref()
    }
    async fn avatar_url(&self) -> Option<&str> {
        self.0.avatar_url.as_deref()
    }
    /// Rooms this persona works in (not retired), by name. A plain list: a persona works in a
    /// handful of rooms.
    async fn rooms(&self, ctx: &Context<'_>) -> ApiResult<Vec<Room>> {
        rooms_of(ctx, &self.0.id, false).await
    }
    /// The rooms this persona suggests first, by name (a handful at most).
    async fn default_rooms(&self, ctx: &Context<'_>) -> ApiResult<Vec<Room>> {
        rooms_of(ctx, &self.0.id, true).await
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// When an admin retired it (then it is in no public list and starts no conversation).
    async fn retired_at(&self) -> Option<DateTime<Utc>> {
        self.0.retired_at
    }
}

#[Object]
impl Room {
    pub async fn id(&self) -> ID {
        ids::encode(Kind::Room, &self.0.id)
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn description(&self) -> &str {
        &self.0.description
    }
    async fn purpose(&self) -> &str {
        &self.0.purpose
    }
    async fn sample_prompt(&self) -> &str {
        &self.0.sample_prompt
    }
    async fn tags(&self) -> Vec<String> {
        tags(&self.0.tags)
    }
    async fn prompt_type(&self) -> ApiResult<PromptType> {
        Ok((*self.0.prompt_type).into())
    }
    /// Free-form feature flags of the room (a JSON object).
    async fn features(&self) -> Json {
        Json(self.0.features.clone())
    }
    /// Personas that work in this room (not retired), by name. A plain list: a room has a handful of
    /// personas.
    async fn personas(&self, ctx: &Context<'_>) -> ApiResult<Vec<Persona>> {
        let loader = &ctx.loaders()?.catalogue;
        let links = load_one(loader, LinksOfRoom(self.0.id.clone()))
            .await?
            .unwrap_or_default();
        let personas = loader
            .load_many(links.into_iter().map(|l| PersonaId(l.persona_id)))
            .await?;
        let mut personas: Vec<Persona> = personas
            .into_values()
            .filter(|p| p.retired_at.is_none())
            .map(Persona)
            .collect();
        personas.sort_by(|a, b| a.0.name.cmp(&b.0.name));
        Ok(personas)
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// When an admin retired it (then it is in no public list and starts no conversation).
    async fn retired_at(&self) -> Option<DateTime<Utc>> {
        self.0.retired_at
    }
}

/// The personas among `ids` (database ids), through the request's loader (for `node(id:)`).
pub async fn personas_by_ids(
    ctx: &Context<'_>,
    ids: &[String],
) -> ApiResult<HashMap<String, Persona>> {
    let keys = ids.iter().map(|id| PersonaId(id.clone()));
    let rows = ctx.loaders()?.catalogue.load_many(keys).await?;
    Ok(rows.into_iter().map(|(k, p)| (k.0, Persona(p))).collect())
}

/// The rooms among `ids` (database ids), through the request's loader (for `node(id:)`).
pub async fn rooms_by_ids(ctx: &Context<'_>, ids: &[String]) -> ApiResult<HashMap<String, Room>> {
    let keys = ids.iter().map(|id| RoomId(id.clone()));
    let rows = ctx.loaders()?.catalogue.load_many(keys).await?;
    Ok(rows.into_iter().map(|(k, r)| (k.0, Room(r))).collect())
}

#[derive(Default)]
pub struct CatalogueQuery;

#[Object]
impl CatalogueQuery {
    /// Every persona in service, by name. `includeRetired` adds the retired ones, for admins
    /// (ignored for anyone else).
    #[graphql(complexity = "first.or(last).unwrap_or(20).max(0) as usize * child_complexity + 1")]
    async fn personas(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        include_retired: Option<bool>,
    ) -> ApiResult<PersonaConnection> {
        let args = page_args(first, after, last, before)?;
        let actor = ctx.request()?.actor();
        let rows = ctx
            .services()?
            .catalogue
            .personas(actor, include_retired.unwrap_or(false))
            .await?;
        list_connection(
            rows,
            &args,
            "personas",
            |p| &p.id,
            KnownTotal,
            Persona::from,
        )
    }

    /// A persona by id; null when there is none.
    async fn persona(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Option<Persona>> {
        let Some(id) = ids::decode_lookup(&id, Kind::Persona, "id")? else {
            return Ok(None);
        };
        let row = ctx.services()?.catalogue.find_persona(&id).await?;
        Ok(row.map(Persona::from))
    }

    /// Every room in service, by name. `includeRetired` adds the retired ones, for admins
    /// (ignored for anyone else).
    #[graphql(complexity = "first.or(last).unwrap_or(20).max(0) as usize * child_complexity + 1")]
    async fn rooms(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        include_retired: Option<bool>,
    ) -> ApiResult<RoomConnection> {
        let args = page_args(first, after, last, before)?;
        let actor = ctx.request()?.actor();
        let rows = ctx
            .services()?
            .catalogue
            .rooms(actor, include_retired.unwrap_or(false))
            .await?;
        list_connection(rows, &args, "rooms", |r| &r.id, KnownTotal, Room::from)
    }

    /// A room by id; null when there is none.
    async fn room(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Option<Room>> {
        let Some(id) = ids::decode_lookup(&id, Kind::Room, "id")? else {
            return Ok(None);
        };
        let row = ctx.services()?.catalogue.find_room(&id).await?;
        Ok(row.map(Room::from))
    }
}

#[derive(InputObject)]
pub struct CreatePersonaInput {
    /// Its id in readable form (`elara`): 2 to 50 characters of a-z, 0-9 and inner hyphens.
    pub slug: String,
    pub name: String,
    #[graphql(default)]
    pub tone: String,
    #[graphql(default)]
    pub voice: String,
    #[graphql(default)]
    pub description: String,
    /// What the AI is told to be; rooms add their purpose to it.
    pub system_prompt: String,
    #[graphql(default)]
    pub tags: Vec<String>,
    /// The model its conversations use when they name none; a model this server knows.
    pub default_model: Option<String>,
    pub avatar_url: Option<String>,
}

#[derive(InputObject)]
pub struct UpdatePersonaInput {
    pub id: ID,
    pub name: Option<String>,
    pub tone: Option<String>,
    pub voice: Option<String>,
    pub description: Option<String>,
    pub system_prompt: Option<String>,
    pub tags: Option<Vec<String>>,
    /// An empty string clears it (conversations then use the server's default model).
    pub default_model: Option<String>,
    /// An empty string clears it.
    pub avatar_url: Option<String>,
}

#[derive(InputObject)]
pub struct RetirePersonaInput {
    pub id: ID,
}

#[derive(SimpleObject)]
pub struct CreatePersonaPayload {
    pub persona: Persona,
}

#[derive(SimpleObject)]
pub struct UpdatePersonaPayload {
    pub persona: Persona,
}

#[derive(SimpleObject)]
pub struct RetirePersonaPayload {
    pub persona: Persona,
}

#[derive(SimpleObject)]
pub struct SetPersonaRoomsPayload {
    pub persona: Persona,
}

#[derive(InputObject)]
pub struct CreateRoomInput {
    /// Its id in readable form (`mirror-room`): 2 to 50 characters of a-z, 0-9 and inner
    /// hyphens.
    pub slug: String,
    pub name: String,
    #[graphql(default)]
    pub description: String,
    /// What conversations here are for; added to the persona's system prompt.
    pub purpose: String,
    #[graphql(default)]
    pub sample_prompt: String,
    #[graphql(default)]
    pub tags: Vec<String>,
    pub prompt_type: PromptType,
    /// A JSON object of feature flags.
    pub features: Option<Json>,
}

#[derive(InputObject)]
pub struct UpdateRoomInput {
    pub id: ID,
    pub name: Option<String>,
    pub description: Option<String>,
    pub purpose: Option<String>,
    pub sample_prompt: Option<String>,
    pub tags: Option<Vec<String>>,
    pub prompt_type: Option<PromptType>,
    pub features: Option<Json>,
}

#[derive(InputObject)]
pub struct RetireRoomInput {
    pub id: ID,
}

#[derive(SimpleObject)]
pub struct CreateRoomPayload {
    pub room: Room,
}

#[derive(SimpleObject)]
pub struct UpdateRoomPayload {
    pub room: Room,
}

#[derive(SimpleObject)]
pub struct RetireRoomPayload {
    pub room: Room,
}

#[derive(InputObject)]
pub struct SetPersonaRoomsInput {
    pub persona_id: ID,
    /// Every room the persona works in (replaces the previous set; empty: none).
    pub room_ids: Vec<ID>,
    /// Those of `roomIds` it suggests first.
    #[graphql(default)]
    pub default_room_ids: Vec<ID>,
}

/// Catalogue administration: admins only (FORBIDDEN for anyone else).
#[derive(Default)]
pub struct CatalogueMutation;

#[Object]
impl CatalogueMutation {
    /// Creates a persona (admins only).
    async fn create_persona(
        &self,
        ctx: &Context<'_>,
        input: CreatePersonaInput,
    ) -> ApiResult<CreatePersonaPayload> {
        let draft = service::PersonaDraft {
            slug: input.slug,
            name: input.name,
            tone: input.tone,
            voice: input.voice,
            description: input.description,
            system_prompt: input.system_prompt,
            tags: input.tags,
            default_model: input.default_model,
            avatar_url: input.avatar_url,
        };
        let actor = ctx.request()?.actor();
        let row = ctx
            .services()?
            .catalogue
            .create_persona(actor, draft)
            .await?;
        Ok(CreatePersonaPayload {
            persona: row.into(),
        })
    }

    /// Changes a persona (admins only); fields left out stay as they are.
    async fn update_persona(
        &self,
        ctx: &Context<'_>,
        input: UpdatePersonaInput,
    ) -> ApiResult<UpdatePersonaPayload> {
        let id = ids::decode(&input.id, Kind::Persona, "id")?;
        let changes = service::PersonaChanges {
            name: input.name,
            tone: input.tone,
            voice: input.voice,
            description: input.description,
            system_prompt: input.system_prompt,
            tags: input.tags,
            default_model: input.default_model,
            avatar_url: input.avatar_url,
        };
        let actor = ctx.request()?.actor();
        let row = ctx
            .services()?
            .catalogue
            .update_persona(actor, &id, changes)
            .await?;
        Ok(UpdatePersonaPayload {
            persona: row.into(),
        })
    }

    /// Retires a persona (admins only): it leaves the public lists and starts no new
    /// conversation; existing conversations and journals keep it.
    async fn retire_persona(
        &self,
        ctx: &Context<'_>,
        input: RetirePersonaInput,
    ) -> ApiResult<RetirePersonaPayload> {
        let id = ids::decode(&input.id, Kind::Persona, "id")?;
        let actor = ctx.request()?.actor();
        let row = ctx.services()?.catalogue.retire_persona(actor, &id).await?;
        Ok(RetirePersonaPayload {
            persona: row.into(),
        })
    }

    /// Sets the rooms a persona works in (admins only), replacing the previous set.
    async fn set_persona_rooms(
        &self,
        ctx: &Context<'_>,
        input: SetPersonaRoomsInput,
    ) -> ApiResult<SetPersonaRoomsPayload> {
        let persona = ids::decode(&input.persona_id, Kind::Persona, "personaId")?;
        let decode_all = |list: &[ID], field| {
            list.iter()
                .map(|id| ids::decode(id, Kind::Room, field))
                .collect::<ApiResult<Vec<String>>>()
        };
        let rooms = decode_all(&input.room_ids, "roomIds")?;
        let defaults = decode_all(&input.default_room_ids, "defaultRoomIds")?;
        let actor = ctx.request()?.actor();
        let row = ctx
            .services()?
            .catalogue
            .set_persona_rooms(actor, &persona, rooms, defaults)
            .await?;
        Ok(SetPersonaRoomsPayload {
            persona: row.into(),
        })
    }

    /// Creates a room (admins only).
    async fn create_room(
        &self,
        ctx: &Context<'_>,
        input: CreateRoomInput,
    ) -> ApiResult<CreateRoomPayload> {
        let draft = service::RoomDraft {
            slug: input.slug,
            name: input.name,
            description: input.description,
            purpose: input.purpose,
            sample_prompt: input.sample_prompt,
            tags: input.tags,
            prompt_type: input.prompt_type.into(),
            features: input
                .features
                .map_or_else(|| serde_json::json!({}), |f| f.0),
        };
        let actor = ctx.request()?.actor();
        let row = ctx.services()?.catalogue.create_room(actor, draft).await?;
        Ok(CreateRoomPayload { room: row.into() })
    }

    /// Changes a room (admins only); fields left out stay as they are.
    async fn update_room(
        &self,
        ctx: &Context<'_>,
        input: UpdateRoomInput,
    ) -> ApiResult<UpdateRoomPayload> {
        let id = ids::decode(&input.id, Kind::Room, "id")?;
        let changes = service::RoomChanges {
            name: input.name,
            description: input.description,
            purpose: input.purpose,
            sample_prompt: input.sample_prompt,
            tags: input.tags,
            prompt_type: input.prompt_type.map(Into::into),
            features: input.features.map(|f| f.0),
        };
        let actor = ctx.request()?.actor();
        let row = ctx
            .services()?
            .catalogue
            .update_room(actor, &id, changes)
            .await?;
        Ok(UpdateRoomPayload { room: row.into() })
    }

    /// Retires a room (admins only): it leaves the public lists and starts no new conversation;
    /// existing conversations and journals keep it.
    async fn retire_room(
        &self,
        ctx: &Context<'_>,
        input: RetireRoomInput,
    ) -> ApiResult<RetireRoomPayload> {
        let id = ids::decode(&input.id, Kind::Room, "id")?;
        let actor = ctx.request()?.actor();
        let row = ctx.services()?.catalogue.retire_room(actor, &id).await?;
        Ok(RetireRoomPayload { room: row.into() })
    }
}
