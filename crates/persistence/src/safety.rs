//! Safety incidents: reports anyone files about a message, conversation, post or user, and the
//! moderators' triage of them. The gateway's safety service decides who reads which.

use core_domain::pagination::PageArgs;
use core_domain::{ids, time};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, Select, Set,
};

use crate::cursor::Keyset;
use crate::entity::safety_incidents::{self, Column, Entity};
use crate::{Page, StoreError};

pub use safety_incidents::Model as Incident;

/// A new report.
#[derive(Debug, Clone, Default)]
pub struct NewIncident {
    pub reporter_id: String,
    pub subject_user_id: Option<String>,
    pub conversation_id: Option<String>,
    pub message_id: Option<String>,
    /// Extra references (a post's id) and the kind of subject.
    pub metadata: serde_json::Value,
    pub category: String,
    pub description: String,
}

pub async fn create(db: &impl ConnectionTrait, new: NewIncident) -> Result<Incident, StoreError> {
    let now = time::now();
    Ok(safety_incidents::ActiveModel {
        id: Set(ids::new_id()),
        reporter_id: Set(Some(new.reporter_id)),
        subject_user_id: Set(new.subject_user_id),
        conversation_id: Set(new.conversation_id),
        message_id: Set(new.message_id),
        assigned_to_id: Set(None),
        category: Set(new.category),
        severity: Set("MEDIUM".to_owned()),
        status: Set("OPEN".to_owned()),
        description: Set(new.description),
        resolution: Set(None),
        metadata: Set(Some(new.metadata)),
        resolved_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?)
}

pub async fn find(db: &impl ConnectionTrait, id: &str) -> Result<Option<Incident>, StoreError> {
    Ok(Entity::find_by_id(id.to_owned()).one(db).await?)
}

pub async fn by_ids(
    db: &impl ConnectionTrait,
    ids: &[String],
) -> Result<Vec<Incident>, StoreError> {
    crate::rows::by_ids::<Entity>(db, ids).await
}

/// A moderator's triage of one incident.
#[derive(Debug, Clone)]
pub struct Triage {
    /// The status it must still be in (the move is refused otherwise).
    pub from: String,
    pub to: String,
    pub severity: Option<String>,
    /// Replaces the moderators' notes when given.
    pub notes: Option<String>,
    pub moderator_id: String,
    pub closes: bool,
}

/// Applies `triage`; false when the incident moved meanwhile.
pub async fn triage(db: &impl ConnectionTrait, id: &str, t: Triage) -> Result<bool, StoreError> {
    let now = time::now();
    let mut update = Entity::update_many()
        .col_expr(Column::Status, Expr::value(t.to))
        .col_expr(Column::AssignedToId, Expr::value(t.moderator_id))
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .filter(Column::Id.eq(id))
        .filter(Column::Status.eq(t.from));
    if let Some(s) = t.severity {
        update = update.col_expr(Column::Severity, Expr::value(s));
    }
    if let Some(n) = t.notes {
        update = update.col_expr(Column::Resolution, Expr::value(n));
    }
    if t.closes {
        update = update.col_expr(Column::ResolvedAt, Expr::value(now));
    }
    Ok(update.exec(db).await?.rows_affected > 0)
}

/// Newest first.
pub fn keyset() -> Keyset<Column> {
    Keyset {
        name: "safety_incidents.created_at.desc",
        at: Column::CreatedAt,
        id: Column::Id,
        descending: true,
    }
}

/// Which incidents a list shows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct IncidentScope {
    /// Only this reporter's (for everyone but moderators).
    pub reporter_id: Option<String>,
    pub status: Option<String>,
}

fn scoped(scope: &IncidentScope) -> Select<Entity> {
    let mut cond = Condition::all();
    if let Some(r) = &scope.reporter_id {
        cond = cond.add(Column::ReporterId.eq(r.clone()));
    }
    if let Some(s) = &scope.status {
        cond = cond.add(Column::Status.eq(s.clone()));
    }
    Entity::find().filter(cond)
}

pub async fn page(
    db: &impl ConnectionTrait,
    scope: &IncidentScope,
    args: &PageArgs,
) -> Result<Page<Incident>, StoreError> {
    let rows = keyset().apply(scoped(scope), args)?.all(db).await?;
    Ok(Keyset::<Column>::page(args, rows))
}

pub async fn count(db: &impl ConnectionTrait, scope: &IncidentScope) -> Result<u64, StoreError> {
    Ok(scoped(scope).count(db).await?)
}
