//! The shared catalogue: personas and rooms, and which rooms suit which personas. Admins
//! create, change and retire entries; a retired one (`retired_at` set) leaves the lists but is
//! still found by id, since conversations and journals keep pointing at it.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use core_domain::enums::PromptType;
use core_domain::time;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
    TransactionSession, TransactionTrait,
};

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

/// Every persona that is not retired (or every one, with `include_retired`), by name. The
/// catalogue is small, so it is not paged.
pub async fn personas(
    db: &impl ConnectionTrait,
    include_retired: bool,
) -> Result<Vec<Persona>, StoreError> {
    let mut select = personas::Entity::find();
    if !include_retired {
        select = select.filter(personas::Column::RetiredAt.is_null());
    }
    Ok(select
        .order_by_asc(personas::Column::Name)
        .order_by_asc(personas::Column::Id)
        .all(db)
        .await?)
}

/// Every room that is not retired (or every one, with `include_retired`), by name.
pub async fn rooms(
    db: &impl ConnectionTrait,
    include_retired: bool,
) -> Result<Vec<Room>, StoreError> {
    let mut select = rooms::Entity::find();
    if !include_retired {
        select = select.filter(rooms::Column::RetiredAt.is_null());
    }
    Ok(select
        .order_by_asc(rooms::Column::Name)
        .order_by_asc(rooms::Column::Id)
        .all(db)
        .await?)
}

pub async fn personas_by_ids(
    db: &impl ConnectionTrait,
    ids: &[String],
) -> Result<Vec<Persona>, StoreError> {
    crate::rows::by_ids::<personas::Entity>(db, ids).await
}

pub async fn rooms_by_ids(
    db: &impl ConnectionTrait,
    ids: &[String],
) -> Result<Vec<Room>, StoreError> {
    crate::rows::by_ids::<rooms::Entity>(db, ids).await
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

/// Whether `persona_id` works in `room_id` (a `persona_rooms` link exists).
pub async fn supports(
    db: &impl ConnectionTrait,
    persona_id: &str,
    room_id: &str,
) -> Result<bool, StoreError> {
    Ok(
        persona_rooms::Entity::find_by_id((persona_id.to_owned(), room_id.to_owned()))
            .one(db)
            .await?
            .is_some(),
    )
}

/// The fields of a new persona; `id` is its slug.
#[derive(Debug, Clone)]
pub struct NewPersona {
    pub id: String,
    pub name: String,
    pub tone: String,
    pub voice: String,
    pub description: String,
    pub system_prompt: String,
    pub tags: Vec<String>,
    pub default_model: Option<String>,
    pub avatar_url: Option<String>,
}

/// Changes to a persona: `Some` fields are written, `None` ones left alone; `Some(None)` clears
/// an optional field.
#[derive(Debug, Clone, Default)]
pub struct PersonaPatch {
    pub name: Option<String>,
    pub tone: Option<String>,
    pub voice: Option<String>,
    pub description: Option<String>,
    pub system_prompt: Option<String>,
    pub tags: Option<Vec<String>>,
    pub default_model: Option<Option<String>>,
    pub avatar_url: Option<Option<String>>,
}

/// The fields of a new room; `id` is its slug.
#[derive(Debug, Clone)]
pub struct NewRoom {
    pub id: String,
    pub name: String,
    pub description: String,
    pub purpose: String,
    pub sample_prompt: String,
    pub tags: Vec<String>,
    pub prompt_type: PromptType,
    pub features: serde_json::Value,
}

/// Changes to a room: `Some` fields are written, `None` ones left alone.
#[derive(Debug, Clone, Default)]
pub struct RoomPatch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub purpose: Option<String>,
    pub sample_prompt: Option<String>,
    pub tags: Option<Vec<String>>,
    pub prompt_type: Option<PromptType>,
    pub features: Option<serde_json::Value>,
}

/// Inserts a persona; a taken id is `Conflict("persona")`.
pub async fn create_persona(
    db: &impl ConnectionTrait,
    new: NewPersona,
) -> Result<Persona, StoreError> {
    let now = time::now();
    personas::ActiveModel {
        id: Set(new.id),
        name: Set(new.name),
        tone: Set(new.tone),
        voice: Set(new.voice),
        description: Set(new.description),
        system_prompt: Set(new.system_prompt),
        tags: Set(serde_json::json!(new.tags)),
        default_model: Set(new.default_model),
        avatar_url: Set(new.avatar_url),
        created_at: Set(now),
        updated_at: Set(now),
        retired_at: Set(None),
    }
    .insert(db)
    .await
    .map_err(|e| StoreError::conflict_or_db(e, "persona"))
}

/// Applies `patch` to a persona; `None` when there is none.
pub async fn update_persona(
    db: &impl ConnectionTrait,
    id: &str,
    patch: PersonaPatch,
) -> Result<Option<Persona>, StoreError> {
    use personas::Column as C;
    let mut update = personas::Entity::update_many()
        .col_expr(C::UpdatedAt, Expr::value(time::now()))
        .filter(C::Id.eq(id));
    let text = [
        (C::Name, patch.name),
        (C::Tone, patch.tone),
        (C::Voice, patch.voice),
        (C::Description, patch.description),
        (C::SystemPrompt, patch.system_prompt),
    ];
    for (col, value) in text {
        if let Some(v) = value {
            update = update.col_expr(col, Expr::value(v));
        }
    }
    if let Some(tags) = patch.tags {
        update = update.col_expr(C::Tags, Expr::value(serde_json::json!(tags)));
    }
    if let Some(model) = patch.default_model {
        update = update.col_expr(C::DefaultModel, Expr::value(model));
    }
    if let Some(url) = patch.avatar_url {
        update = update.col_expr(C::AvatarUrl, Expr::value(url));
    }
    if update.exec(db).await?.rows_affected == 0 {
        return Ok(None);
    }
    persona(db, id).await
}

/// Inserts a room; a taken id is `Conflict("room")`.
pub async fn create_room(db: &impl ConnectionTrait, new: NewRoom) -> Result<Room, StoreError> {
    let now = time::now();
    rooms::ActiveModel {
        id: Set(new.id),
        name: Set(new.name),
        description: Set(new.description),
        purpose: Set(new.purpose),
        sample_prompt: Set(new.sample_prompt),
        tags: Set(serde_json::json!(new.tags)),
        prompt_type: Set(new.prompt_type.into()),
        features: Set(new.features),
        created_at: Set(now),
        updated_at: Set(now),
        retired_at: Set(None),
    }
    .insert(db)
    .await
    .map_err(|e| StoreError::conflict_or_db(e, "room"))
}

/// Applies `patch` to a room; `None` when there is none.
pub async fn update_room(
    db: &impl ConnectionTrait,
    id: &str,
    patch: RoomPatch,
) -> Result<Option<Room>, StoreError> {
    use rooms::Column as C;
    let mut update = rooms::Entity::update_many()
        .col_expr(C::UpdatedAt, Expr::value(time::now()))
        .filter(C::Id.eq(id));
    let text = [
        (C::Name, patch.name),
        (C::Description, patch.description),
        (C::Purpose, patch.purpose),
        (C::SamplePrompt, patch.sample_prompt),
    ];
    for (col, value) in text {
        if let Some(v) = value {
            update = update.col_expr(col, Expr::value(v));
        }
    }
    if let Some(tags) = patch.tags {
        update = update.col_expr(C::Tags, Expr::value(serde_json::json!(tags)));
    }
    if let Some(t) = patch.prompt_type {
        update = update.col_expr(C::PromptType, Expr::value(t.as_str()));
    }
    if let Some(f) = patch.features {
        update = update.col_expr(C::Features, Expr::value(f));
    }
    if update.exec(db).await?.rows_affected == 0 {
        return Ok(None);
    }
    room(db, id).await
}

/// Retires a persona now (kept when it already is); `None` when there is none.
pub async fn retire_persona(
    db: &impl ConnectionTrait,
    id: &str,
) -> Result<Option<Persona>, StoreError> {
    let now = time::now();
    personas::Entity::update_many()
        .col_expr(personas::Column::RetiredAt, Expr::value(now))
        .col_expr(personas::Column::UpdatedAt, Expr::value(now))
        .filter(personas::Column::Id.eq(id))
        .filter(personas::Column::RetiredAt.is_null())
        .exec(db)
        .await?;
    persona(db, id).await
}

/// Retires a room now (kept when it already is); `None` when there is none.
pub async fn retire_room(db: &impl ConnectionTrait, id: &str) -> Result<Option<Room>, StoreError> {
    let now = time::now();
    rooms::Entity::update_many()
        .col_expr(rooms::Column::RetiredAt, Expr::value(now))
        .col_expr(rooms::Column::UpdatedAt, Expr::value(now))
        .filter(rooms::Column::Id.eq(id))
        .filter(rooms::Column::RetiredAt.is_null())
        .exec(db)
        .await?;
    room(db, id).await
}

/// Replaces the rooms `persona_id` works in with `links` (room id, is a default), in one
/// transaction.
pub async fn set_persona_rooms<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    persona_id: &str,
    links: &[(String, bool)],
) -> Result<(), StoreError> {
    let now: DateTime<Utc> = time::now();
    let txn = db.begin().await?;
    persona_rooms::Entity::delete_many()
        .filter(persona_rooms::Column::PersonaId.eq(persona_id))
        .exec(&txn)
        .await?;
    if !links.is_empty() {
        persona_rooms::Entity::insert_many(links.iter().map(|(room_id, is_default)| {
            persona_rooms::ActiveModel {
                persona_id: Set(persona_id.to_owned()),
                room_id: Set(room_id.clone()),
                is_default: Set(*is_default),
                created_at: Set(now),
            }
        }))
        .exec_without_returning(&txn)
        .await?;
    }
    txn.commit().await?;
    Ok(())
}
