//! The profiles area's loader: `User.profile` for every user of a level in one statement.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use persistence::{Db, StoreError};

use super::service::Profile;

/// A user's profile, by user id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProfileOf(pub String);

/// Profiles by user id, one statement per level.
pub struct ProfileRows(pub Db);

impl Loader<ProfileOf> for ProfileRows {
    type Value = Arc<Profile>;
    type Error = Arc<StoreError>;
    async fn load(
        &self,
        keys: &[ProfileOf],
    ) -> Result<HashMap<ProfileOf, Self::Value>, Self::Error> {
        let ids: Vec<String> = keys.iter().map(|k| k.0.clone()).collect();
        let rows = persistence::profiles::of_users(self.0.conn(), &ids).await?;
        Ok(rows
            .into_iter()
            .map(|p| (ProfileOf(p.user_id.clone()), Arc::new(p)))
            .collect())
    }
}
