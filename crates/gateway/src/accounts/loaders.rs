//! The accounts area's loaders: users by id, for the links that lead to a user
//! (`Message.author`, `Conversation.owner`, `node(id:)`), one statement for all the keys of a
//! level. Whether the caller may see a user is the service's rule
//! ([`super::service::can_read_user`]), checked before a key is loaded.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use persistence::users::{self, User};
use persistence::{Db, StoreError};

/// A user by id (live users only: deleted ones are not found).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UserId(pub String);

/// Users by id.
pub struct UserRows(pub Db);

impl Loader<UserId> for UserRows {
    type Value = Arc<User>;
    type Error = Arc<StoreError>;
    async fn load(&self, keys: &[UserId]) -> Result<HashMap<UserId, Self::Value>, Self::Error> {
        let ids: Vec<String> = keys.iter().map(|k| k.0.clone()).collect();
        let rows = users::by_ids(self.0.conn(), &ids).await?;
        Ok(rows
            .into_iter()
            .map(|u| (UserId(u.id.clone()), Arc::new(u)))
            .collect())
    }
}
