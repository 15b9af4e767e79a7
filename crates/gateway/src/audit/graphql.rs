//! The audit log and deleted records over GraphQL (ADMIN): `auditEvents(filter)`,
//! `deletedRecords(type)`, `restoreRecord`.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::connection::{Connection, EmptyFields};
use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::service::{self, AuditService, DeletedKind, EventFilter};
use crate::error::{ApiError, ApiResult};
use crate::graphql::connection::{connection, cursor, page_args};
use crate::graphql::context::ContextExt;
use crate::graphql::ids::{self, Kind};
use crate::graphql::scalars::Json;

fn audit<'a>(ctx: &'a Context<'_>) -> ApiResult<&'a AuditService> {
    Ok(&ctx.services()?.audit)
}

/// The global id of a record of type `entity_type` (a type of this API) whose database id is
/// `raw`; the raw id for anything else.
fn entity_global(entity_type: &str, raw: &str) -> ID {
    match Kind::ALL.iter().find(|k| k.name() == entity_type) {
        Some(kind) => ids::encode(*kind, raw),
        None => ID(raw.to_owned()),
    }
}

/// One change in the audit log: who did what to which record, when, from which request.
#[derive(Clone)]
pub struct AuditEvent(pub Arc<service::Event>);

#[Object]
impl AuditEvent {
    pub async fn id(&self) -> ID {
        ids::encode(Kind::AuditEvent, &self.0.id)
    }
    /// What happened, `area.verb` (e.g. `journal.saved`).
    async fn action(&self) -> &str {
        &self.0.r#type
    }
    /// The area that made the change.
    async fn area(&self) -> &str {
        &self.0.source
    }
    /// Who made it; null for the system or an anonymous caller.
    async fn actor_id(&self) -> Option<ID> {
        self.0
            .user_id
            .as_deref()
            .map(|id| ids::encode(Kind::User, id))
    }
    /// The type of the record changed, e.g. `Journal`.
    async fn entity_type(&self) -> Option<&str> {
        self.0.entity_type.as_deref()
    }
    /// The record changed: its global id when its type is one of this API's.
    async fn entity_id(&self) -> Option<ID> {
        let raw = self.0.entity_id.as_deref()?;
        Some(entity_global(
            self.0.entity_type.as_deref().unwrap_or(""),
            raw,
        ))
    }
    /// A summary of the change, with secrets redacted.
    async fn summary(&self) -> Json {
        Json(self.0.payload.clone())
    }
    /// The `x-request-id` of the request that made it.
    async fn request_id(&self) -> Option<&str> {
        self.0.request_id.as_deref()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// Audit events among `ids` (admins only), for `node(id:)`.
pub async fn events_by_ids(
    ctx: &Context<'_>,
    ids: &[String],
) -> ApiResult<HashMap<String, AuditEvent>> {
    let caller = ctx.request()?.caller.as_ref();
    let rows = audit(ctx)?.events_by_ids(caller, ids).await?;
    Ok(rows
        .into_iter()
        .map(|e| (e.id.clone(), AuditEvent(Arc::new(e))))
        .collect())
}

/// Narrows the audit log; conditions combine with AND.
#[derive(InputObject, Default)]
pub struct AuditEventFilter {
    pub actor_id: Option<ID>,
    /// A type name such as `Journal`.
    pub entity_type: Option<String>,
    /// The record's global id (or, for types outside this API, its raw id).
    pub entity_id: Option<ID>,
    /// An action such as `journal.saved`.
    pub action: Option<String>,
    /// From this time, inclusive.
    pub from: Option<DateTime<Utc>>,
    /// Until this time, exclusive.
    pub to: Option<DateTime<Utc>>,
}

pub struct AuditEventTotal(EventFilter);

#[Object]
impl AuditEventTotal {
    async fn total_count(&self, ctx: &Context<'_>) -> ApiResult<u64> {
        let caller = ctx.request()?.require()?;
        audit(ctx)?.count_events(caller, &self.0).await
    }
}

pub type AuditEventConnection = Connection<String, AuditEvent, AuditEventTotal, EmptyFields>;

/// Kinds of record that are soft-deleted and can be restored.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum DeletedRecordType {
    User,
    Conversation,
    Project,
    Post,
}

impl From<DeletedRecordType> for DeletedKind {
    fn from(t: DeletedRecordType) -> Self {
        match t {
            DeletedRecordType::User => DeletedKind::User,
            DeletedRecordType::Conversation => DeletedKind::Conversation,
            DeletedRecordType::Project => DeletedKind::Project,
            DeletedRecordType::Post => DeletedKind::Post,
        }
    }
}

/// A soft-deleted record: invisible to everyone but admins until restored.
pub struct DeletedRecord(service::Deleted);

#[Object]
impl DeletedRecord {
    /// The record's global id (what `restoreRecord` takes).
    async fn record_id(&self) -> ID {
        match self.0.kind {
            DeletedKind::User => ids::encode(Kind::User, &self.0.id),
            DeletedKind::Conversation => ids::encode(Kind::Conversation, &self.0.id),
            DeletedKind::Project => ids::encode(Kind::Project, &self.0.id),
            DeletedKind::Post => ids::encode(Kind::Post, &self.0.id),
        }
    }
    async fn r#type(&self) -> DeletedRecordType {
        match self.0.kind {
            DeletedKind::User => DeletedRecordType::User,
            DeletedKind::Conversation => DeletedRecordType::Conversation,
            DeletedKind::Project => DeletedRecordType::Project,
            DeletedKind::Post => DeletedRecordType::Post,
        }
    }
    /// A user's email, a conversation's or post's title, a project's name.
    async fn label(&self) -> Option<&str> {
        self.0.label.as_deref()
    }
    /// A conversation's or project's owner, a post's author.
    async fn owner_id(&self) -> Option<ID> {
        self.0
            .owner_id
            .as_deref()
            .map(|id| ids::encode(Kind::User, id))
    }
    async fn deleted_at(&self) -> DateTime<Utc> {
        self.0.deleted_at
    }
}

pub struct DeletedTotal(DeletedKind);

#[Object]
impl DeletedTotal {
    async fn total_count(&self, ctx: &Context<'_>) -> ApiResult<u64> {
        let caller = ctx.request()?.require()?;
        audit(ctx)?.count_deleted(caller, self.0).await
    }
}

pub type DeletedRecordConnection = Connection<String, DeletedRecord, DeletedTotal, EmptyFields>;

#[derive(Default)]
pub struct AuditQuery;

#[Object]
impl AuditQuery {
    /// The audit log, newest first (admins).
    #[graphql(complexity = "first.or(last).unwrap_or(20).max(0) as usize * child_complexity + 1")]
    async fn audit_events(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<AuditEventFilter>,
    ) -> ApiResult<AuditEventConnection> {
        let args = page_args(first, after, last, before)?;
        let f = filter.unwrap_or_default();
        let entity_id = f
            .entity_id
            .as_ref()
            .map(|id| match ids::parse(id, "entityId") {
                Ok((_, raw)) => raw,
                Err(_) => id.to_string(),
            });
        let filter = EventFilter {
            actor_id: ids::decode_opt(f.actor_id.as_ref(), Kind::User, "actorId")?,
            entity_type: f.entity_type,
            entity_id,
            action: f.action,
            from: f.from,
            to: f.to,
        };
        let caller = ctx.request()?.require()?;
        let page = audit(ctx)?.events(caller, &filter, &args).await?;
        let name = AuditService::event_ordering();
        Ok(connection(
            page,
            AuditEventTotal(filter),
            |e| cursor(name, e.created_at, &e.id),
            |e| AuditEvent(Arc::new(e)),
        ))
    }

    /// Soft-deleted records of one type, most recently deleted first (admins).
    #[graphql(complexity = "first.or(last).unwrap_or(20).max(0) as usize * child_complexity + 1")]
    async fn deleted_records(
        &self,
        ctx: &Context<'_>,
        r#type: DeletedRecordType,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> ApiResult<DeletedRecordConnection> {
        let args = page_args(first, after, last, before)?;
        let kind: DeletedKind = r#type.into();
        let caller = ctx.request()?.require()?;
        let page = audit(ctx)?.deleted(caller, kind, &args).await?;
        let name = AuditService::deleted_ordering(kind);
        Ok(connection(
            page,
            DeletedTotal(kind),
            |d| cursor(name, d.deleted_at, &d.id),
            DeletedRecord,
        ))
    }
}

#[derive(InputObject)]
pub struct RestoreRecordInput {
    /// A deleted user's or conversation's global id.
    pub id: ID,
}

#[derive(SimpleObject)]
pub struct RestoreRecordPayload {
    pub record_id: ID,
    pub r#type: DeletedRecordType,
}

#[derive(Default)]
pub struct AuditMutation;

#[Object]
impl AuditMutation {
    /// Restores a soft-deleted user, conversation, project or post (admins).
    async fn restore_record(
        &self,
        ctx: &Context<'_>,
        input: RestoreRecordInput,
    ) -> ApiResult<RestoreRecordPayload> {
        let (kind, raw) = ids::parse(&input.id, "id")?;
        let t = match kind {
            Kind::User => DeletedRecordType::User,
            Kind::Conversation => DeletedRecordType::Conversation,
            Kind::Project => DeletedRecordType::Project,
            Kind::Post => DeletedRecordType::Post,
            _ => return Err(ApiError::NotFound),
        };
        let caller = ctx.request()?.require()?;
        audit(ctx)?.restore(caller, t.into(), &raw).await?;
        Ok(RestoreRecordPayload {
            record_id: input.id,
            r#type: t,
        })
    }
}
