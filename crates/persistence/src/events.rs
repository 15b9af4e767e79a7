//! Reading the audit log (`events`) for administrators: filtered by actor, entity, action and
//! time range, newest first. Writes live in `audit`.

use chrono::{DateTime, Utc};
use core_domain::pagination::PageArgs;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, Select,
};

use crate::audit::Event;
use crate::cursor::Keyset;
use crate::entity::events::{Column, Entity};
use crate::{Page, StoreError};

/// Newest first.
pub fn keyset() -> Keyset<Column> {
    Keyset {
        name: "events.created_at.desc",
        at: Column::CreatedAt,
        id: Column::Id,
        descending: true,
    }
}

/// Conditions on the log; they combine with AND.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct EventFilter {
    pub actor_id: Option<String>,
    pub entity_type: Option<String>,
    pub entity_id: Option<String>,
    pub action: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

fn filtered(f: &EventFilter) -> Select<Entity> {
    let mut cond = Condition::all();
    if let Some(v) = &f.actor_id {
        cond = cond.add(Column::UserId.eq(v.clone()));
    }
    if let Some(v) = &f.entity_type {
        cond = cond.add(Column::EntityType.eq(v.clone()));
    }
    if let Some(v) = &f.entity_id {
        cond = cond.add(Column::EntityId.eq(v.clone()));
    }
    if let Some(v) = &f.action {
        cond = cond.add(Column::Type.eq(v.clone()));
    }
    if let Some(v) = f.from {
        cond = cond.add(Column::CreatedAt.gte(v));
    }
    if let Some(v) = f.to {
        cond = cond.add(Column::CreatedAt.lt(v));
    }
    Entity::find().filter(cond)
}

pub async fn page(
    db: &impl ConnectionTrait,
    filter: &EventFilter,
    args: &PageArgs,
) -> Result<Page<Event>, StoreError> {
    let rows = keyset().apply(filtered(filter), args)?.all(db).await?;
    Ok(Keyset::<Column>::page(args, rows))
}

pub async fn count(db: &impl ConnectionTrait, filter: &EventFilter) -> Result<u64, StoreError> {
    Ok(filtered(filter).count(db).await?)
}

pub async fn by_ids(db: &impl ConnectionTrait, ids: &[String]) -> Result<Vec<Event>, StoreError> {
    crate::rows::by_ids::<Entity>(db, ids).await
}
