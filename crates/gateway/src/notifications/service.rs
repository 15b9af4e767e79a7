//! The notifications area's use cases. A notification is its recipient's alone: anyone else
//! gets null from a look-up and nothing from a list, exactly as for one that does not exist.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use core_domain::Role;
use core_domain::pagination::PageArgs;
use futures::{Stream, StreamExt as _};
use persistence::notifications::{self as writes, NewNotification};
use persistence::sea_orm::{ConnectionTrait, TransactionTrait};
use persistence::{Db, Page, notification_reads as reads, users};

use crate::accounts::Caller;
use crate::error::{ApiError, ApiResult};
use crate::platform::audit;
use crate::platform::events::{ChangeEvent, EventBus, Wanted};

pub use persistence::notifications::Notification;

/// The kind of change event a new notification is published as.
pub const KIND: &str = "notification";

/// Longest title and body of a staff notification.
const MAX_TITLE: usize = 200;
const MAX_BODY: usize = 4000;

pub struct NotificationService {
    db: Db,
    events: EventBus,
    /// Live `notificationAdded` subscriptions on this instance.
    live: Arc<AtomicUsize>,
}

/// Counts a live subscription while it exists.
struct Live(Arc<AtomicUsize>);

impl Drop for Live {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl NotificationService {
    pub fn new(db: Db, events: EventBus) -> Self {
        Self {
            db,
            events,
            live: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// The bus new notifications are published on.
    pub fn events(&self) -> &EventBus {
        &self.events
    }

    /// How many `notificationAdded` subscriptions are live on this instance.
    pub fn subscribers(&self) -> usize {
        self.live.load(Ordering::SeqCst)
    }

    /// Creates `new` on `conn` (the transaction of the change it tells about). Publish it with
    /// [`NotificationService::published`] once that transaction is committed.
    pub async fn create_in(
        conn: &impl ConnectionTrait,
        new: NewNotification,
    ) -> ApiResult<Notification> {
        Ok(writes::create(conn, new).await?)
    }

    /// Tells live subscribers on every instance about `n` (after its transaction committed).
    pub fn published(&self, n: &Notification) {
        self.events.publish_change(ChangeEvent {
            kind: KIND.to_owned(),
            id: n.id.clone(),
            owner_id: Some(n.user_id.clone()),
        });
    }

    /// A page of the caller's notifications, newest first.
    pub async fn list(
        &self,
        caller: &Caller,
        unread_only: bool,
        args: &PageArgs,
    ) -> ApiResult<Page<Notification>> {
        Ok(reads::page_own(self.db.conn(), &caller.actor.user_id, unread_only, args).await?)
    }

    pub async fn count(&self, caller: &Caller, unread_only: bool) -> ApiResult<u64> {
        Ok(reads::count_own(self.db.conn(), &caller.actor.user_id, unread_only).await?)
    }

    /// The cursor name of the list.
    pub fn ordering() -> &'static str {
        reads::keyset().name
    }

    /// The caller's notifications among `ids` (others' are left out).
    pub async fn find_many(
        &self,
        caller: Option<&Caller>,
        ids: &[String],
    ) -> ApiResult<Vec<Notification>> {
        let Some(caller) = caller else {
            return Ok(Vec::new());
        };
        Ok(reads::own_by_ids(self.db.conn(), &caller.actor.user_id, ids).await?)
    }

    /// Marks the caller's notifications read: `ids` (NOT_FOUND when one is not the caller's,
    /// exactly as for one that does not exist), or all of them. Returns how many were unread.
    pub async fn mark_read(&self, caller: &Caller, ids: Option<Vec<String>>) -> ApiResult<u64> {
        if let Some(ids) = &ids
            && ids.len() > 100
        {
            return Err(ApiError::bad_input("ids", "at most 100 at a time"));
        }
        let me = &caller.actor.user_id;
        if let Some(ids) = &ids {
            let mut wanted = ids.clone();
            wanted.sort();
            wanted.dedup();
            // Someone else's notification answers as one that does not exist.
            if reads::own_by_ids(self.db.conn(), me, &wanted).await?.len() != wanted.len() {
                return Err(ApiError::NotFound);
            }
        }
        let txn = self.db.conn().begin().await?;
        let n = reads::mark_read(&txn, me, ids.as_deref()).await?;
        audit::record(
            &txn,
            Some(me),
            "notification.read",
            "User",
            me,
            serde_json::json!({ "all": ids.is_none(), "marked": n }),
        )
        .await?;
        txn.commit().await?;
        Ok(n)
    }

    /// A SYSTEM notification from staff or an admin to `user_id` (FORBIDDEN for anyone else,
    /// NOT_FOUND for a user who does not exist).
    pub async fn notify_user(
        &self,
        caller: &Caller,
        user_id: &str,
        title: String,
        body: String,
    ) -> ApiResult<Notification> {
        if !matches!(caller.actor.role, Role::Staff | Role::Admin) {
            return Err(ApiError::Forbidden("only staff and admins notify users"));
        }
        let title = title.trim().to_owned();
        if title.is_empty() || title.chars().count() > MAX_TITLE {
            return Err(ApiError::bad_input(
                "title",
                format!("must be 1 to {MAX_TITLE} characters"),
            ));
        }
        if body.trim().is_empty() || body.chars().count() > MAX_BODY {
            return Err(ApiError::bad_input(
                "body",
                format!("must be 1 to {MAX_BODY} characters"),
            ));
        }
        if users::find(self.db.conn(), user_id).await?.is_none() {
            return Err(ApiError::NotFound);
        }
        let txn = self.db.conn().begin().await?;
        let n = Self::create_in(
            &txn,
            NewNotification {
                user_id: user_id.to_owned(),
                kind: "SYSTEM".to_owned(),
                title,
                body,
                data: Some(serde_json::json!({ "from": caller.actor.user_id })),
            },
        )
        .await?;
        audit::record(
            &txn,
            Some(&caller.actor.user_id),
            "notification.sent",
            "Notification",
            &n.id,
            serde_json::json!({ "to": user_id, "type": "SYSTEM", "title": n.title }),
        )
        .await?;
        txn.commit().await?;
        self.published(&n);
        Ok(n)
    }

    /// The caller's new notifications as they are created, through any instance.
    pub fn added(&self, caller: &Caller) -> impl Stream<Item = ApiResult<Notification>> + use<> {
        let me = caller.actor.user_id.clone();
        let changes = self
            .events
            .changes(KIND, Wanted::OwnedBy(me.clone()), "notificationAdded");
        let db = self.db.clone();
        self.live.fetch_add(1, Ordering::SeqCst);
        let live = Live(Arc::clone(&self.live));
        async_stream::stream! {
            let _live = live;
            futures::pin_mut!(changes);
            while let Some(event) = changes.next().await {
                // Re-read under the subscriber's own scope: only their own ever arrives.
                match reads::own_by_ids(db.conn(), &me, std::slice::from_ref(&event.id)).await {
                    Ok(mut rows) => {
                        if let Some(n) = rows.pop() {
                            yield Ok(n);
                        }
                    }
                    Err(e) => yield Err(ApiError::from(e)),
                }
            }
        }
    }
}
