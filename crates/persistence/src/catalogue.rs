//! The shared catalogue: personas and rooms, and which rooms suit which personas.

use std::collections::HashMap;

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::StoreError;
use crate::entity::{persona_rooms, personas, rooms};

pub use persona_rooms::Model as PersonaRoom;
pub use personas::Model as Persona;
pub use rooms::Model as Room;

pub async fn persona(db: &impl ConnectionTrait, id: &str) -> Result<Option<Persona>, StoreError> {
    Ok(personas::Entity::find_by_id(id.to_owned()).one(db).await?)
}

pub async fn room(db: &impl ConnectionTrait, id: &str) -> Result<Option<Room>, StoreError> {
    Ok(rooms::Entity::find_by_id(id.to_owned()).one(db).await?)
}

/// Every persona, by name. The catalogue is small (seeded), so it is not paged.
pub async fn personas(db: &impl ConnectionTrait) -> Result<Vec<Persona>, StoreError> {
    Ok(personas::Entity::find()
        .order_by_asc(personas::Column::Name)
        .all(db)
        .await?)
}

pub async fn rooms(db: &impl ConnectionTrait) -> Result<Vec<Room>, StoreError> {
    Ok(rooms::Entity::find()
        .order_by_asc(rooms::Column::Name)
        .all(db)
        .await?)
}

pub async fn personas_by_ids(
    db: &impl ConnectionTrait,
    ids: &[String],
) -> Result<Vec<Persona>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(personas::Entity::find()
        .filter(personas::Column::Id.is_in(ids.iter().cloned()))
        .all(db)
        .await?)
}

pub async fn rooms_by_ids(
    db: &impl ConnectionTrait,
    ids: &[String],
) -> Result<Vec<Room>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(rooms::Entity::find()
        .filter(rooms::Column::Id.is_in(ids.iter().cloned()))
        .all(db)
        .await?)
}

/// The compatibility links touching any of `persona_ids` (one statement).
pub async fn links_for_personas(
    db: &impl ConnectionTrait,
    persona_ids: &[String],
) -> Result<HashMap<String, Vec<persona_rooms::Model>>, StoreError> {
    let mut out: HashMap<String, Vec<persona_rooms::Model>> = HashMap::new();
    if persona_ids.is_empty() {
        return Ok(out);
    }
    for link in persona_rooms::Entity::find()
        .filter(persona_rooms::Column::PersonaId.is_in(persona_ids.iter().cloned()))
        .order_by_asc(persona_rooms::Column::RoomId)
        .all(db)
        .await?
    {
        out.entry(link.persona_id.clone()).or_default().push(link);
    }
    Ok(out)
}

/// The compatibility links touching any of `room_ids` (one statement).
pub async fn links_for_rooms(
    db: &impl ConnectionTrait,
    room_ids: &[String],
) -> Result<HashMap<String, Vec<persona_rooms::Model>>, StoreError> {
    let mut out: HashMap<String, Vec<persona_rooms::Model>> = HashMap::new();
    if room_ids.is_empty() {
        return Ok(out);
    }
    for link in persona_rooms::Entity::find()
        .filter(persona_rooms::Column::RoomId.is_in(room_ids.iter().cloned()))
        .order_by_asc(persona_rooms::Column::PersonaId)
        .all(db)
        .await?
    {
        out.entry(link.room_id.clone()).or_default().push(link);
    }
    Ok(out)
}
