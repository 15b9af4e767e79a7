//! The catalogue: personas and rooms, readable by anyone, signed in or not.

use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};
use persistence::catalogue as store;

use crate::error::{ApiError, ApiResult};
use crate::graphql::context::ContextExt;
use crate::graphql::loaders::{LinksOfPersona, LinksOfRoom, PersonaId, RoomId};
use crate::graphql::scalars::{self, PromptType};

pub struct Persona(pub store::Persona);
pub struct Room(pub store::Room);

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
    let loader = &ctx.loaders()?.by_id;
    let links = loader
        .load_one(LinksOfPersona(persona_id.to_owned()))
        .await
        .map_err(ApiError::from)?
        .unwrap_or_default();
    let ids = links
        .into_iter()
        .filter(|l| l.is_default || !only_default)
        .map(|l| RoomId(l.room_id));
    let rooms = loader.load_many(ids).await.map_err(ApiError::from)?;
    let mut rooms: Vec<Room> = rooms.into_values().map(Room).collect();
    rooms.sort_by(|a, b| a.0.name.cmp(&b.0.name));
    Ok(rooms)
}

#[Object]
impl Persona {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
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
    /// Rooms this persona works in.
    async fn rooms(&self, ctx: &Context<'_>) -> ApiResult<Vec<Room>> {
        rooms_of(ctx, &self.0.id, false).await
    }
    /// The rooms this persona suggests first (Numira's `defaultRooms`).
    async fn default_rooms(&self, ctx: &Context<'_>) -> ApiResult<Vec<Room>> {
        rooms_of(ctx, &self.0.id, true).await
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

#[Object]
impl Room {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
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
        Ok(scalars::stored::<core_domain::PromptType>(&self.0.prompt_type)?.into())
    }
    /// Free-form feature flags of the room.
    async fn features(&self) -> async_graphql::Json<serde_json::Value> {
        async_graphql::Json(self.0.features.clone())
    }
    /// Personas that work in this room (Numira's `supportedPersonas`).
    async fn personas(&self, ctx: &Context<'_>) -> ApiResult<Vec<Persona>> {
        let loader = &ctx.loaders()?.by_id;
        let links = loader
            .load_one(LinksOfRoom(self.0.id.clone()))
            .await
            .map_err(ApiError::from)?
            .unwrap_or_default();
        let personas = loader
            .load_many(links.into_iter().map(|l| PersonaId(l.persona_id)))
            .await
            .map_err(ApiError::from)?;
        let mut personas: Vec<Persona> = personas.into_values().map(Persona).collect();
        personas.sort_by(|a, b| a.0.name.cmp(&b.0.name));
        Ok(personas)
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

#[derive(Default)]
pub struct CatalogueQuery;

#[Object]
impl CatalogueQuery {
    async fn personas(&self, ctx: &Context<'_>) -> ApiResult<Vec<Persona>> {
        Ok(store::personas(ctx.services()?.db.conn())
            .await?
            .into_iter()
            .map(Persona)
            .collect())
    }
    async fn persona(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Persona> {
        store::persona(ctx.services()?.db.conn(), &id)
            .await?
            .map(Persona)
            .ok_or(ApiError::NotFound)
    }
    async fn rooms(&self, ctx: &Context<'_>) -> ApiResult<Vec<Room>> {
        Ok(store::rooms(ctx.services()?.db.conn())
            .await?
            .into_iter()
            .map(Room)
            .collect())
    }
    async fn room(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Room> {
        store::room(ctx.services()?.db.conn(), &id)
            .await?
            .map(Room)
            .ok_or(ApiError::NotFound)
    }
}
