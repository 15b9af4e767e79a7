//! The audit log's writes: one `events` row per change, written on the connection (usually the
//! transaction) of the change itself, so a change and its record commit or roll back together.
//! Reading the log (filters for administrators) lives with the area that serves it.

use core_domain::{ids, time};
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait};

use crate::StoreError;
use crate::entity::events;

pub use events::Model as Event;

/// One audit record. The summary must already be redacted (the gateway's `platform::audit`
/// does that); this layer stores what it is given.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// What happened, `area.verb` (e.g. `journal.saved`).
    pub action: String,
    /// The area that made the change (e.g. `journals`).
    pub source: String,
    /// Who did it; `None` for the system or an anonymous caller.
    pub actor_id: Option<String>,
    pub entity_type: Option<String>,
    pub entity_id: Option<String>,
    pub request_id: Option<String>,
    pub summary: serde_json::Value,
}

/// Writes `event` on `conn`.
pub async fn record(conn: &impl ConnectionTrait, event: NewEvent) -> Result<(), StoreError> {
    let row = events::ActiveModel {
        id: Set(ids::new_id()),
        r#type: Set(event.action),
        source: Set(event.source),
        user_id: Set(event.actor_id),
        payload: Set(event.summary),
        processed_at: Set(None),
        created_at: Set(time::now()),
        entity_type: Set(event.entity_type),
        entity_id: Set(event.entity_id),
        request_id: Set(event.request_id),
    };
    events::Entity::insert(row)
        .exec_without_returning(conn)
        .await?;
    Ok(())
}
