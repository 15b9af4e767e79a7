//! Notifications over GraphQL: `notifications(filter: {unread})`, `unreadNotificationCount`,
//! `markNotificationsRead`, `notifyUser` (staff and admins) and the live `notificationAdded`.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::connection::{Connection, EmptyFields};
use async_graphql::{Context, ID, InputObject, Object, SimpleObject, Subscription};
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};

use super::service::{self, NotificationService};
use crate::error::{ApiError, ApiResult};
use crate::graphql::connection::{connection, cursor, page_args};
use crate::graphql::context::ContextExt;
use crate::graphql::ids::{self, Kind};
use crate::graphql::scalars::Json;

fn notifications<'a>(ctx: &'a Context<'_>) -> ApiResult<&'a NotificationService> {
    Ok(&ctx.services()?.notifications)
}

/// Something that happened that concerns you: an application of yours moved, a report of yours
/// was handled, a word from staff, ...
#[derive(Clone)]
pub struct Notification(pub Arc<service::Notification>);

impl From<service::Notification> for Notification {
    fn from(n: service::Notification) -> Self {
        Notification(Arc::new(n))
    }
}

#[Object]
impl Notification {
    pub async fn id(&self) -> ID {
        ids::encode(Kind::Notification, &self.0.id)
    }
    /// What it is about: JOB, SAFETY, SYSTEM, COURSE, GRADE, REWARD, PAYMENT, ... (areas add
    /// their own, so this is text rather than a closed set).
    async fn r#type(&self) -> &str {
        &self.0.r#type
    }
    async fn title(&self) -> &str {
        &self.0.title
    }
    async fn body(&self) -> &str {
        &self.0.body
    }
    /// Structured details for the client, such as the record it links to.
    async fn data(&self) -> Option<Json> {
        self.0.data.clone().map(Json)
    }
    /// Whether you have marked it read.
    async fn read(&self) -> bool {
        self.0.read_at.is_some()
    }
    async fn read_at(&self) -> Option<DateTime<Utc>> {
        self.0.read_at
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// The caller's notifications among `ids` (database ids), for `node(id:)`.
pub async fn notifications_by_ids(
    ctx: &Context<'_>,
    ids: &[String],
) -> ApiResult<HashMap<String, Notification>> {
    let caller = ctx.request()?.caller.as_ref();
    let rows = notifications(ctx)?.find_many(caller, ids).await?;
    Ok(rows
        .into_iter()
        .map(|n| (n.id.clone(), Notification::from(n)))
        .collect())
}

#[derive(InputObject, Default)]
pub struct NotificationFilter {
    /// Only unread notifications (true) or every one (false or left out).
    pub unread: Option<bool>,
}

/// `totalCount` of the caller's notifications under the list's filter.
pub struct NotificationTotal(bool);

#[Object]
impl NotificationTotal {
    async fn total_count(&self, ctx: &Context<'_>) -> ApiResult<u64> {
        let caller = ctx.request()?.require()?;
        notifications(ctx)?.count(caller, self.0).await
    }
}

pub type NotificationConnection = Connection<String, Notification, NotificationTotal, EmptyFields>;

#[derive(Default)]
pub struct NotificationQuery;

#[Object]
impl NotificationQuery {
    /// Your notifications, newest first.
    #[graphql(complexity = "first.or(last).unwrap_or(20).max(0) as usize * child_complexity + 1")]
    async fn notifications(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<NotificationFilter>,
    ) -> ApiResult<NotificationConnection> {
        let args = page_args(first, after, last, before)?;
        let unread = filter.and_then(|f| f.unread).unwrap_or(false);
        let caller = ctx.request()?.require()?;
        let page = notifications(ctx)?.list(caller, unread, &args).await?;
        let name = NotificationService::ordering();
        Ok(connection(
            page,
            NotificationTotal(unread),
            |n| cursor(name, n.created_at, &n.id),
            Notification::from,
        ))
    }

    /// How many of your notifications are unread.
    async fn unread_notification_count(&self, ctx: &Context<'_>) -> ApiResult<u64> {
        let caller = ctx.request()?.require()?;
        notifications(ctx)?.count(caller, true).await
    }
}

#[derive(InputObject, Default)]
pub struct MarkNotificationsReadInput {
    /// The notifications to mark read (up to 100), all yours (NOT_FOUND otherwise).
    pub ids: Option<Vec<ID>>,
    /// Marks every notification of yours read instead.
    pub all: Option<bool>,
}

#[derive(SimpleObject)]
pub struct MarkNotificationsReadPayload {
    /// How many were unread and are now read.
    pub marked: u64,
    /// How many of your notifications are still unread.
    pub unread_count: u64,
}

#[derive(InputObject)]
pub struct NotifyUserInput {
    pub user_id: ID,
    /// Up to 200 characters.
    pub title: String,
    /// Up to 4000 characters.
    pub body: String,
}

#[derive(SimpleObject)]
pub struct NotifyUserPayload {
    pub notification: Notification,
}

#[derive(Default)]
pub struct NotificationMutation;

#[Object]
impl NotificationMutation {
    /// Marks some of your notifications (`ids`) or all of them (`all: true`) read.
    async fn mark_notifications_read(
        &self,
        ctx: &Context<'_>,
        input: MarkNotificationsReadInput,
    ) -> ApiResult<MarkNotificationsReadPayload> {
        let ids = match (input.ids, input.all.unwrap_or(false)) {
            (Some(_), true) => {
                return Err(ApiError::bad_input(
                    "all",
                    "give either ids or all, not both",
                ));
            }
            (None, false) => return Err(ApiError::bad_input("ids", "give ids, or all: true")),
            (None, true) => None,
            (Some(list), false) => Some(
                list.iter()
                    .map(|id| ids::decode(id, Kind::Notification, "ids"))
                    .collect::<ApiResult<Vec<_>>>()?,
            ),
        };
        let caller = ctx.request()?.require()?;
        let service = notifications(ctx)?;
        let marked = service.mark_read(caller, ids).await?;
        let unread_count = service.count(caller, true).await?;
        Ok(MarkNotificationsReadPayload {
            marked,
            unread_count,
        })
    }

    /// Sends a SYSTEM notification to a user (staff and admins).
    async fn notify_user(
        &self,
        ctx: &Context<'_>,
        input: NotifyUserInput,
    ) -> ApiResult<NotifyUserPayload> {
        let user_id = ids::decode(&input.user_id, Kind::User, "userId")?;
        let caller = ctx.request()?.require()?;
        let n = notifications(ctx)?
            .notify_user(caller, &user_id, input.title, input.body)
            .await?;
        Ok(NotifyUserPayload {
            notification: n.into(),
        })
    }
}

#[derive(Default)]
pub struct NotificationSubscription;

#[Subscription]
impl NotificationSubscription {
    /// Your new notifications as they are created, through any server instance.
    async fn notification_added(
        &self,
        ctx: &Context<'_>,
    ) -> Result<impl Stream<Item = ApiResult<Notification>> + use<>, ApiError> {
        let caller = ctx.request()?.require()?;
        let stream = notifications(ctx)?.added(caller);
        Ok(stream.map(|n| n.map(Notification::from)))
    }
}
