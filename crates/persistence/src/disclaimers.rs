//! Published disclaimer versions. The current disclaimer is the one published last; the rule
//! every AI call applies reads it together with the user's acceptance in one statement
//! ([`standing`]).

use core_domain::{ids, time};
use sea_orm::sea_query::{Expr, Query, SubQueryStatement};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, Order, QueryFilter, QueryOrder,
    QuerySelect, Set, TryInsertResult,
};

use crate::StoreError;
use crate::entity::{disclaimer_versions, users};

pub use disclaimer_versions::Model as DisclaimerVersion;

/// The disclaimer in force: the one published last (none before the first is published).
pub async fn current(db: &impl ConnectionTrait) -> Result<Option<DisclaimerVersion>, StoreError> {
    Ok(disclaimer_versions::Entity::find()
        .order_by_desc(disclaimer_versions::Column::PublishedAt)
        .order_by_desc(disclaimer_versions::Column::Id)
        .one(db)
        .await?)
}

/// Publishes `version` now; it becomes the current one. A version published before is
/// `Conflict("disclaimer version")`.
pub async fn publish(
    db: &impl ConnectionTrait,
    version: &str,
    text: &str,
    created_by: Option<&str>,
) -> Result<DisclaimerVersion, StoreError> {
    use sea_orm::ActiveModelTrait;
    disclaimer_versions::ActiveModel {
        id: Set(ids::new_id()),
        version: Set(version.to_owned()),
        text: Set(text.to_owned()),
        published_at: Set(time::now()),
        created_by: Set(created_by.map(str::to_owned)),
    }
    .insert(db)
    .await
    .map_err(|e| StoreError::conflict_or_db(e, "disclaimer version"))
}

/// Publishes `version` unless it was published before (by any instance): for the version named
/// by configuration at start-up. Returns whether it was published now.
pub async fn publish_if_new(
    db: &impl ConnectionTrait,
    version: &str,
    text: &str,
) -> Result<bool, StoreError> {
    use disclaimer_versions::Column as C;
    let res = disclaimer_versions::Entity::insert(disclaimer_versions::ActiveModel {
        id: Set(ids::new_id()),
        version: Set(version.to_owned()),
        text: Set(text.to_owned()),
        published_at: Set(time::now()),
        created_by: Set(None),
    })
    .on_conflict_do_nothing_on([C::Version])
    .exec_without_returning(db)
    .await?;
    Ok(matches!(res, TryInsertResult::Inserted(n) if n > 0))
}

/// A user's acceptance and the version in force, read together.
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct Standing {
    pub disclaimer_accepted: bool,
    pub disclaimer_version: Option<String>,
    /// The version in force; none before the first is published.
    pub current_version: Option<String>,
}

impl Standing {
    /// The version the user must still accept, if any.
    pub fn missing(&self) -> Option<&str> {
        let current = self.current_version.as_deref()?;
        let accepted =
            self.disclaimer_accepted && self.disclaimer_version.as_deref() == Some(current);
        (!accepted).then_some(current)
    }
}

/// The user's acceptance and the current version in one statement (the current version is a
/// scalar subquery); `None` for a user that does not exist.
pub async fn standing(
    db: &impl ConnectionTrait,
    user_id: &str,
) -> Result<Option<Standing>, StoreError> {
    use disclaimer_versions::Column as D;
    let latest = Query::select()
        .column((disclaimer_versions::Entity, D::Version))
        .from(disclaimer_versions::Entity)
        .order_by((disclaimer_versions::Entity, D::PublishedAt), Order::Desc)
        .order_by((disclaimer_versions::Entity, D::Id), Order::Desc)
        .limit(1)
        .to_owned();
    Ok(users::Entity::find()
        .select_only()
        .column(users::Column::DisclaimerAccepted)
        .column(users::Column::DisclaimerVersion)
        .expr_as(
            Expr::SubQuery(None, Box::new(SubQueryStatement::SelectStatement(latest))),
            "current_version",
        )
        .filter(users::Column::Id.eq(user_id))
        .into_model::<Standing>()
        .one(db)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::Standing;

    #[test]
    fn only_the_current_version_counts() {
        let s = |accepted: bool, version: Option<&str>, current: Option<&str>| Standing {
            disclaimer_accepted: accepted,
            disclaimer_version: version.map(str::to_owned),
            current_version: current.map(str::to_owned),
        };
        assert_eq!(s(false, None, None).missing(), None);
        assert_eq!(s(true, Some("v1"), Some("v1")).missing(), None);
        assert_eq!(s(true, Some("v1"), Some("v2")).missing(), Some("v2"));
        assert_eq!(s(false, Some("v2"), Some("v2")).missing(), Some("v2"));
        assert_eq!(s(false, None, Some("v1")).missing(), Some("v1"));
    }
}
