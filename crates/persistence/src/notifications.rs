//! Notifications' writes: a notification is created on the connection (the transaction) of the
//! change it tells about, so a user is never told of something that was rolled back. After the
//! commit, the service publishes a `ChangeEvent { kind: "notification" }` so live subscribers on
//! every instance hear of it. Reading, marking read and counting live with the notifications area.

use core_domain::{ids, time};
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait};

use crate::StoreError;
use crate::entity::notifications;

pub use notifications::Model as Notification;

/// A notification to create.
#[derive(Debug, Clone)]
pub struct NewNotification {
    pub user_id: String,
    /// What it is about: COURSE, GRADE, REWARD, PAYMENT, JOB, SAFETY, SYSTEM, ...
    pub kind: String,
    pub title: String,
    pub body: String,
    /// A link target or other structured data for the client.
    pub data: Option<serde_json::Value>,
}

/// Creates `new` on `conn` and returns it.
pub async fn create(
    conn: &impl ConnectionTrait,
    new: NewNotification,
) -> Result<Notification, StoreError> {
    let row = Notification {
        id: ids::new_id(),
        user_id: new.user_id,
        r#type: new.kind,
        title: new.title,
        body: new.body,
        data: new.data,
        read_at: None,
        created_at: time::now(),
    };
    notifications::Entity::insert(notifications::ActiveModel {
        id: Set(row.id.clone()),
        user_id: Set(row.user_id.clone()),
        r#type: Set(row.r#type.clone()),
        title: Set(row.title.clone()),
        body: Set(row.body.clone()),
        data: Set(row.data.clone()),
        read_at: Set(None),
        created_at: Set(row.created_at),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(row)
}
