//! The catalogue's use cases. Personas and rooms are public (anyone reads them, signed in or
//! not); the catalogue is small, so its lists are read whole (and paged in memory by the API).
//! Admins create, change and retire personas and rooms and set which rooms a persona works in
//! (`policy::can` on `Resource::Catalogue`: FORBIDDEN for anyone else). A retired entry leaves
//! the public lists and cannot start new conversations, but is still found by id, since
//! conversations and journals keep pointing at it.

use persistence::sea_orm::TransactionTrait as _;
use serde_json::json;

use crate::platform::audit;
use std::sync::Arc;

use core_domain::Actor;
use core_domain::enums::PromptType;
use core_domain::policy::{Action, Resource, can};
use persistence::catalogue::{NewPersona, NewRoom, PersonaPatch, RoomPatch};
use persistence::{Db, StoreError, catalogue};

use crate::chat::ChatService;
use crate::error::{ApiError, ApiResult};

pub use persistence::catalogue::{Persona, Room};

/// A new persona, as an admin gives it.
#[derive(Debug, Clone, Default)]
pub struct PersonaDraft {
    pub slug: String,
    pub name: String,
    pub tone: String,
    pub voice: String,
    pub description: String,
    pub system_prompt: String,
    pub tags: Vec<String>,
    pub default_model: Option<String>,
    pub avatar_url: Option<String>,
}

/// Changes to a persona: `None` leaves a field alone; for the optional fields an empty string
/// clears them.
#[derive(Debug, Clone, Default)]
pub struct PersonaChanges {
    pub name: Option<String>,
    pub tone: Option<String>,
    pub voice: Option<String>,
    pub description: Option<String>,
    pub system_prompt: Option<String>,
    pub tags: Option<Vec<String>>,
    pub default_model: Option<String>,
    pub avatar_url: Option<String>,
}

/// A new room, as an admin gives it.
#[derive(Debug, Clone)]
pub struct RoomDraft {
    pub slug: String,
    pub name: String,
    pub description: String,
    pub purpose: String,
    pub sample_prompt: String,
    pub tags: Vec<String>,
    pub prompt_type: PromptType,
    pub features: serde_json::Value,
}

/// Changes to a room: `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct RoomChanges {
    pub name: Option<String>,
    pub description: Option<String>,
    pub purpose: Option<String>,
    pub sample_prompt: Option<String>,
    pub tags: Option<Vec<String>>,
    pub prompt_type: Option<PromptType>,
    pub features: Option<serde_json::Value>,
}

/// Longest name, tone or voice.
const MAX_SHORT: usize = 100;
/// Longest description, purpose, sample prompt or system prompt.
const MAX_LONG: usize = 20_000;

pub struct CatalogueService {
    db: Db,
    /// Knows which models exist, for a persona's default model.
    chat: Arc<ChatService>,
}

impl CatalogueService {
    pub fn new(db: Db, chat: Arc<ChatService>) -> Self {
        Self { db, chat }
    }

    /// Whether `actor` may see retired entries in lists (admins, who manage them).
    fn sees_retired(actor: Option<&Actor>, asked: bool) -> bool {
        asked && can(actor, Action::Update, &Resource::Catalogue)
    }

    fn require_admin(actor: Option<&Actor>, action: Action) -> ApiResult<()> {
        if actor.is_none() {
            return Err(ApiError::Unauthenticated);
        }
        if can(actor, action, &Resource::Catalogue) {
            Ok(())
        } else {
            Err(ApiError::Forbidden("only admins can change the catalogue"))
        }
    }

    /// Every persona in service, by name; retired ones too when an admin asks for them.
    pub async fn personas(
        &self,
        actor: Option<&Actor>,
        include_retired: bool,
    ) -> ApiResult<Vec<Persona>> {
        let all = Self::sees_retired(actor, include_retired);
        Ok(catalogue::personas(self.db.conn(), all).await?)
    }

    /// A persona by id (NOT_FOUND when there is none).
    pub async fn persona(&self, id: &str) -> ApiResult<Persona> {
        catalogue::persona(self.db.conn(), id)
            .await?
            .ok_or(ApiError::NotFound)
    }

    /// A persona by id, or `None` (look-ups answer null). Retired personas are still found.
    pub async fn find_persona(&self, id: &str) -> ApiResult<Option<Persona>> {
        Ok(catalogue::persona(self.db.conn(), id).await?)
    }

    /// A room by id, or `None` (look-ups answer null). Retired rooms are still found.
    pub async fn find_room(&self, id: &str) -> ApiResult<Option<Room>> {
        Ok(catalogue::room(self.db.conn(), id).await?)
    }

    /// Every room in service, by name; retired ones too when an admin asks for them.
    pub async fn rooms(
        &self,
        actor: Option<&Actor>,
        include_retired: bool,
    ) -> ApiResult<Vec<Room>> {
        let all = Self::sees_retired(actor, include_retired);
        Ok(catalogue::rooms(self.db.conn(), all).await?)
    }

    /// A room by id (NOT_FOUND when there is none).
    pub async fn room(&self, id: &str) -> ApiResult<Room> {
        catalogue::room(self.db.conn(), id)
            .await?
            .ok_or(ApiError::NotFound)
    }

    /// Creates a persona (admins only). Its slug becomes its id.
    pub async fn create_persona(
        &self,
        actor: Option<&Actor>,
        draft: PersonaDraft,
    ) -> ApiResult<Persona> {
        Self::require_admin(actor, Action::Create)?;
        let slug = check_slug(&draft.slug)?;
        let new = NewPersona {
            id: slug.clone(),
            name: required(&draft.name, "name", MAX_SHORT)?,
            tone: bounded(&draft.tone, "tone", MAX_SHORT)?,
            voice: bounded(&draft.voice, "voice", MAX_SHORT)?,
            description: bounded(&draft.description, "description", MAX_LONG)?,
            system_prompt: required(&draft.system_prompt, "systemPrompt", MAX_LONG)?,
            tags: check_tags(draft.tags)?,
            default_model: self.check_default_model(draft.default_model)?,
            avatar_url: check_url(draft.avatar_url)?,
        };
        let txn = self.db.conn().begin().await?;
        let row = match catalogue::create_persona(&txn, new).await {
            Err(StoreError::Conflict(_)) => {
                return Err(ApiError::bad_input(
                    "slug",
                    format!("a persona {slug} already exists"),
                ));
            }
            other => other?,
        };
        audit::record(
            &txn,
            actor.map(|a| a.user_id.as_str()),
            "persona.created",
            "Persona",
            &row.id,
            json!({ "name": row.name }),
        )
        .await?;
        txn.commit().await?;
        Ok(row)
    }

    /// Changes a persona (admins only); NOT_FOUND when there is none.
    pub async fn update_persona(
        &self,
        actor: Option<&Actor>,
        id: &str,
        changes: PersonaChanges,
    ) -> ApiResult<Persona> {
        Self::require_admin(actor, Action::Update)?;
        let text = |v: Option<String>, field, max, req: bool| -> ApiResult<Option<String>> {
            v.map(|v| {
                if req {
                    required(&v, field, max)
                } else {
                    bounded(&v, field, max)
                }
            })
            .transpose()
        };
        let patch = PersonaPatch {
            name: text(changes.name, "name", MAX_SHORT, true)?,
            tone: text(changes.tone, "tone", MAX_SHORT, false)?,
            voice: text(changes.voice, "voice", MAX_SHORT, false)?,
            description: text(changes.description, "description", MAX_LONG, false)?,
            system_prompt: text(changes.system_prompt, "systemPrompt", MAX_LONG, true)?,
            tags: changes.tags.map(check_tags).transpose()?,
            default_model: changes
                .default_model
                .map(|m| self.check_default_model(Some(m)))
                .transpose()?,
            avatar_url: changes.avatar_url.map(|u| check_url(Some(u))).transpose()?,
        };
        let txn = self.db.conn().begin().await?;
        let row = catalogue::update_persona(&txn, id, patch)
            .await?
            .ok_or(ApiError::NotFound)?;
        audit::record(
            &txn,
            actor.map(|a| a.user_id.as_str()),
            "persona.updated",
            "Persona",
            id,
            json!({ "name": row.name }),
        )
        .await?;
        txn.commit().await?;
        Ok(row)
    }

    /// Retires a persona (admins only): it leaves the public lists and cannot start new
    /// conversations. NOT_FOUND when there is none.
    pub async fn retire_persona(&self, actor: Option<&Actor>, id: &str) -> ApiResult<Persona> {
        Self::require_admin(actor, Action::Delete)?;
        let txn = self.db.conn().begin().await?;
        let row = catalogue::retire_persona(&txn, id)
            .await?
            .ok_or(ApiError::NotFound)?;
        audit::record(
            &txn,
            actor.map(|a| a.user_id.as_str()),
            "persona.retired",
            "Persona",
            id,
            json!({ "name": row.name }),
        )
        .await?;
        txn.commit().await?;
        Ok(row)
    }

    /// Creates a room (admins only). Its slug becomes its id.
    pub async fn create_room(&self, actor: Option<&Actor>, draft: RoomDraft) -> ApiResult<Room> {
        Self::require_admin(actor, Action::Create)?;
        let slug = check_slug(&draft.slug)?;
        let new = NewRoom {
            id: slug.clone(),
            name: required(&draft.name, "name", MAX_SHORT)?,
            description: bounded(&draft.description, "description", MAX_LONG)?,
            purpose: required(&draft.purpose, "purpose", MAX_LONG)?,
            sample_prompt: bounded(&draft.sample_prompt, "samplePrompt", MAX_LONG)?,
            tags: check_tags(draft.tags)?,
            prompt_type: draft.prompt_type,
            features: check_features(draft.features)?,
        };
        let txn = self.db.conn().begin().await?;
        let row = match catalogue::create_room(&txn, new).await {
            Err(StoreError::Conflict(_)) => {
                return Err(ApiError::bad_input(
                    "slug",
                    format!("a room {slug} already exists"),
                ));
            }
            other => other?,
        };
        audit::record(
            &txn,
            actor.map(|a| a.user_id.as_str()),
            "room.created",
            "Room",
            &row.id,
            json!({ "name": row.name }),
        )
        .await?;
        txn.commit().await?;
        Ok(row)
    }

    /// Changes a room (admins only); NOT_FOUND when there is none.
    pub async fn update_room(
        &self,
        actor: Option<&Actor>,
        id: &str,
        changes: RoomChanges,
    ) -> ApiResult<Room> {
        Self::require_admin(actor, Action::Update)?;
        let patch = RoomPatch {
            name: changes
                .name
                .map(|v| required(&v, "name", MAX_SHORT))
                .transpose()?,
            description: changes
                .description
                .map(|v| bounded(&v, "description", MAX_LONG))
                .transpose()?,
            purpose: changes
                .purpose
                .map(|v| required(&v, "purpose", MAX_LONG))
                .transpose()?,
            sample_prompt: changes
                .sample_prompt
                .map(|v| bounded(&v, "samplePrompt", MAX_LONG))
                .transpose()?,
            tags: changes.tags.map(check_tags).transpose()?,
            prompt_type: changes.prompt_type,
            features: changes.features.map(check_features).transpose()?,
        };
        let txn = self.db.conn().begin().await?;
        let row = catalogue::update_room(&txn, id, patch)
            .await?
            .ok_or(ApiError::NotFound)?;
        audit::record(
            &txn,
            actor.map(|a| a.user_id.as_str()),
            "room.updated",
            "Room",
            id,
            json!({ "name": row.name }),
        )
        .await?;
        txn.commit().await?;
        Ok(row)
    }

    /// Retires a room (admins only): it leaves the public lists and cannot start new
    /// conversations. NOT_FOUND when there is none.
    pub async fn retire_room(&self, actor: Option<&Actor>, id: &str) -> ApiResult<Room> {
        Self::require_admin(actor, Action::Delete)?;
        let txn = self.db.conn().begin().await?;
        let row = catalogue::retire_room(&txn, id)
            .await?
            .ok_or(ApiError::NotFound)?;
        audit::record(
            &txn,
            actor.map(|a| a.user_id.as_str()),
            "room.retired",
            "Room",
            id,
            json!({ "name": row.name }),
        )
        .await?;
        txn.commit().await?;
        Ok(row)
    }

    /// Sets the rooms a persona works in (admins only), replacing the previous set; those also
    /// in `default_room_ids` are its suggested rooms, which must be among `room_ids`
    /// (BAD_USER_INPUT on `defaultRoomIds` otherwise). A room that does not exist is
    /// BAD_USER_INPUT on `roomIds`; a persona that does not exist NOT_FOUND.
    pub async fn set_persona_rooms(
        &self,
        actor: Option<&Actor>,
        persona_id: &str,
        room_ids: Vec<String>,
        default_room_ids: Vec<String>,
    ) -> ApiResult<Persona> {
        Self::require_admin(actor, Action::Update)?;
        let db = self.db.conn();
        let persona = catalogue::persona(db, persona_id)
            .await?
            .ok_or(ApiError::NotFound)?;
        let mut wanted: Vec<String> = Vec::with_capacity(room_ids.len());
        for id in room_ids {
            if !wanted.contains(&id) {
                wanted.push(id);
            }
        }
        if wanted.len() > 100 {
            return Err(ApiError::bad_input("roomIds", "at most 100 rooms"));
        }
        if let Some(stray) = default_room_ids.iter().find(|d| !wanted.contains(d)) {
            return Err(ApiError::bad_input(
                "defaultRoomIds",
                format!("room {stray} is not among roomIds"),
            ));
        }
        let found = catalogue::rooms_by_ids(db, &wanted).await?;
        if let Some(missing) = wanted.iter().find(|id| !found.iter().any(|r| &r.id == *id)) {
            return Err(ApiError::bad_input(
                "roomIds",
                format!("no such room: {missing}"),
            ));
        }
        let links: Vec<(String, bool)> = wanted
            .into_iter()
            .map(|id| {
                let is_default = default_room_ids.contains(&id);
                (id, is_default)
            })
            .collect();
        let txn = db.begin().await?;
        catalogue::set_persona_rooms(&txn, &persona.id, &links).await?;
        audit::record(
            &txn,
            actor.map(|a| a.user_id.as_str()),
            "persona.rooms_set",
            "Persona",
            &persona.id,
            json!({ "rooms": links.len() }),
        )
        .await?;
        txn.commit().await?;
        Ok(persona)
    }

    /// A persona's default model: empty clears it; anything else must be a model this server
    /// knows (BAD_USER_INPUT on `defaultModel`).
    fn check_default_model(&self, model: Option<String>) -> ApiResult<Option<String>> {
        let Some(model) = model.map(|m| m.trim().to_owned()) else {
            return Ok(None);
        };
        if model.is_empty() {
            return Ok(None);
        }
        self.chat
            .check_model(&model)
            .map_err(|_| ApiError::bad_input("defaultModel", "is not a known model"))?;
        Ok(Some(model))
    }
}

/// A slug id: 2 to 50 characters of `a-z`, `0-9` and inner hyphens.
fn check_slug(slug: &str) -> ApiResult<String> {
    let slug = slug.trim();
    let ok = (2..=50).contains(&slug.len())
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-')
        && !slug.ends_with('-');
    if ok {
        Ok(slug.to_owned())
    } else {
        Err(ApiError::bad_input(
            "slug",
            "must be 2 to 50 characters of a-z, 0-9 and inner hyphens",
        ))
    }
}

/// Trimmed text that must not be empty and stays under `max` characters.
fn required(value: &str, field: &'static str, max: usize) -> ApiResult<String> {
    let v = value.trim();
    if v.is_empty() {
        return Err(ApiError::bad_input(field, "must not be empty"));
    }
    bounded(v, field, max)
}

/// Trimmed text of at most `max` characters.
fn bounded(value: &str, field: &'static str, max: usize) -> ApiResult<String> {
    let v = value.trim();
    if v.chars().count() > max {
        return Err(ApiError::bad_input(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    Ok(v.to_owned())
}

/// Tags: at most 20, each 1 to 50 characters, duplicates dropped.
pub(crate) fn check_tags(tags: Vec<String>) -> ApiResult<Vec<String>> {
    if tags.len() > 20 {
        return Err(ApiError::bad_input("tags", "at most 20 tags"));
    }
    let mut out: Vec<String> = Vec::with_capacity(tags.len());
    for tag in tags {
        let tag = tag.trim().to_owned();
        if tag.is_empty() || tag.chars().count() > 50 {
            return Err(ApiError::bad_input(
                "tags",
                "each tag must be 1 to 50 characters",
            ));
        }
        if !out.contains(&tag) {
            out.push(tag);
        }
    }
    Ok(out)
}

/// An avatar URL: empty clears it; otherwise http(s), at most 2,000 characters.
fn check_url(url: Option<String>) -> ApiResult<Option<String>> {
    let Some(url) = url.map(|u| u.trim().to_owned()).filter(|u| !u.is_empty()) else {
        return Ok(None);
    };
    if url.len() > 2000 || !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(ApiError::bad_input("avatarUrl", "must be an http(s) URL"));
    }
    Ok(Some(url))
}

/// A room's features: a JSON object of at most 10,000 bytes.
fn check_features(features: serde_json::Value) -> ApiResult<serde_json::Value> {
    if !features.is_object() {
        return Err(ApiError::bad_input("features", "must be a JSON object"));
    }
    if features.to_string().len() > 10_000 {
        return Err(ApiError::bad_input(
            "features",
            "must be at most 10,000 bytes",
        ));
    }
    Ok(features)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_tags_and_features_are_checked() {
        assert_eq!(check_slug(" calm-room2 ").unwrap(), "calm-room2");
        for bad in ["", "a", "Calm", "-x", "x-", "a b", "é-room"] {
            assert_eq!(
                check_slug(bad).unwrap_err().code(),
                "BAD_USER_INPUT",
                "{bad}"
            );
        }
        assert_eq!(
            check_tags(vec!["a".into(), " a ".into(), "b".into()]).unwrap(),
            vec!["a", "b"]
        );
        assert!(check_tags(vec![" ".into()]).is_err());
        assert!(check_tags(vec!["x".into(); 21]).is_err());
        assert!(check_features(serde_json::json!([1])).is_err());
        assert!(check_features(serde_json::json!({ "voice": true })).is_ok());
    }
}
