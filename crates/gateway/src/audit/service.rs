//! Reading the audit log and recovering soft-deleted records, for administrators.

use core_domain::pagination::PageArgs;
use persistence::deleted::{self, DeletedType};
use persistence::events::{self as log};
use persistence::sea_orm::TransactionTrait;
use persistence::{Db, Page};
use serde_json::json;

use crate::accounts::Caller;
use crate::error::{ApiError, ApiResult};
use crate::platform::audit;

pub use persistence::audit::Event;
pub use persistence::deleted::Deleted;
pub use persistence::events::EventFilter;

/// The soft-deleted kinds of record, as the service names them.
pub type DeletedKind = DeletedType;

pub struct AuditService {
    db: Db,
}

fn require_admin(caller: &Caller) -> ApiResult<()> {
    if caller.actor.is_admin() {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "only admins read the audit log and deleted records",
        ))
    }
}

impl AuditService {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    pub async fn events(
        &self,
        caller: &Caller,
        filter: &EventFilter,
        args: &PageArgs,
    ) -> ApiResult<Page<Event>> {
        require_admin(caller)?;
        if let (Some(from), Some(to)) = (filter.from, filter.to)
            && from > to
        {
            return Err(ApiError::bad_input("to", "must not be before from"));
        }
        Ok(log::page(self.db.conn(), filter, args).await?)
    }

    pub async fn count_events(&self, caller: &Caller, filter: &EventFilter) -> ApiResult<u64> {
        require_admin(caller)?;
        Ok(log::count(self.db.conn(), filter).await?)
    }

    /// Events among `ids`, for admins (none for anyone else), for `node(id:)`.
    pub async fn events_by_ids(
        &self,
        caller: Option<&Caller>,
        ids: &[String],
    ) -> ApiResult<Vec<Event>> {
        if !caller.is_some_and(|c| c.actor.is_admin()) {
            return Ok(Vec::new());
        }
        Ok(log::by_ids(self.db.conn(), ids).await?)
    }

    pub fn event_ordering() -> &'static str {
        log::keyset().name
    }

    pub async fn deleted(
        &self,
        caller: &Caller,
        kind: DeletedKind,
        args: &PageArgs,
    ) -> ApiResult<Page<Deleted>> {
        require_admin(caller)?;
        Ok(deleted::page(self.db.conn(), kind, args).await?)
    }

    pub async fn count_deleted(&self, caller: &Caller, kind: DeletedKind) -> ApiResult<u64> {
        require_admin(caller)?;
        Ok(deleted::count(self.db.conn(), kind).await?)
    }

    pub fn deleted_ordering(kind: DeletedKind) -> &'static str {
        deleted::ordering(kind)
    }

    /// Restores a soft-deleted record (NOT_FOUND when it is not deleted or missing).
    pub async fn restore(&self, caller: &Caller, kind: DeletedKind, id: &str) -> ApiResult<()> {
        require_admin(caller)?;
        let txn = self.db.conn().begin().await?;
        if !deleted::restore(&txn, kind, id).await? {
            return Err(ApiError::NotFound);
        }
        let entity = match kind {
            DeletedType::User => "User",
            DeletedType::Conversation => "Conversation",
            DeletedType::Project => "Project",
            DeletedType::Post => "Post",
        };
        audit::record(
            &txn,
            Some(&caller.actor.user_id),
            "record.restored",
            entity,
            id,
            json!({}),
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }
}
