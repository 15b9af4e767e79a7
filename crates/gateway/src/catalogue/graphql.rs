//! The catalogue over GraphQL: personas and rooms, readable by anyone, signed in or not. The
//! catalogue is small and read whole, so its connections page in memory.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::connection::{Connection, EmptyFields};
use async_graphql::{Context, ID, Object};
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
    let mut rooms: Vec<Room> = rooms.into_values().map(Room).collect();
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
    /// Rooms this persona works in, by name. A plain list: a persona works in a handful of
    /// rooms.
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
    /// Personas that work in this room, by name. A plain list: a room has a handful of
    /// personas.
    async fn personas(&self, ctx: &Context<'_>) -> ApiResult<Vec<Persona>> {
        let loader = &ctx.loaders()?.catalogue;
        let links = load_one(loader, LinksOfRoom(self.0.id.clone()))
            .await?
            .unwrap_or_default();
        let personas = loader
            .load_many(links.into_iter().map(|l| PersonaId(l.persona_id)))
            .await?;
        let mut personas: Vec<Persona> = personas.into_values().map(Persona).collect();
        personas.sort_by(|a, b| a.0.name.cmp(&b.0.name));
        Ok(personas)
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
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
    /// Every persona, by name.
    #[graphql(complexity = "first.or(last).unwrap_or(20).max(0) as usize * child_complexity + 1")]
    async fn personas(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> ApiResult<PersonaConnection> {
        let args = page_args(first, after, last, before)?;
        let rows = ctx.services()?.catalogue.personas().await?;
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

    /// Every room, by name.
    #[graphql(complexity = "first.or(last).unwrap_or(20).max(0) as usize * child_complexity + 1")]
    async fn rooms(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> ApiResult<RoomConnection> {
        let args = page_args(first, after, last, before)?;
        let rows = ctx.services()?.catalogue.rooms().await?;
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
