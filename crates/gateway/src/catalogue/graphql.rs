//! The catalogue over GraphQL: personas and rooms, readable by anyone, signed in or not.

use std::sync::Arc;

use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};

use super::loaders::{LinksOfPersona, LinksOfRoom, PersonaId, RoomId};
use super::service;
use crate::error::ApiResult;
use crate::graphql::context::{ContextExt, load_one};
use crate::graphql::scalars::PromptType;

pub struct Persona(pub Arc<service::Persona>);
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
    /// The rooms this persona suggests first.
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
        Ok((*self.0.prompt_type).into())
    }
    /// Free-form feature flags of the room.
    async fn features(&self) -> async_graphql::Json<serde_json::Value> {
        async_graphql::Json(self.0.features.clone())
    }
    /// Personas that work in this room.
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

#[derive(Default)]
pub struct CatalogueQuery;

#[Object]
impl CatalogueQuery {
    async fn personas(&self, ctx: &Context<'_>) -> ApiResult<Vec<Persona>> {
        let rows = ctx.services()?.catalogue.personas().await?;
        Ok(rows.into_iter().map(Persona::from).collect())
    }
    async fn persona(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Persona> {
        Ok(ctx.services()?.catalogue.persona(&id).await?.into())
    }
    async fn rooms(&self, ctx: &Context<'_>) -> ApiResult<Vec<Room>> {
        let rows = ctx.services()?.catalogue.rooms().await?;
        Ok(rows.into_iter().map(Room::from).collect())
    }
    async fn room(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Room> {
        Ok(ctx.services()?.catalogue.room(&id).await?.into())
    }
}
