//! Profiles: the optional 1:1 extension of a user (bio, headline, location, timezone, locale,
//! preferences), and the user's own name and avatar URL.

use core_domain::{ids, time};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::StoreError;
use crate::entity::{user_profiles, users};

pub use user_profiles::Model as Profile;

/// Changes to a profile: `Some` fields are written (`Some(None)` clears), `None` ones left alone.
#[derive(Debug, Clone, Default)]
pub struct ProfilePatch {
    pub name: Option<Option<String>>,
    pub avatar_url: Option<Option<String>>,
    pub bio: Option<Option<String>>,
    pub headline: Option<Option<String>>,
    pub location: Option<Option<String>>,
    pub timezone: Option<Option<String>>,
    pub locale: Option<Option<String>>,
    pub preferences: Option<serde_json::Value>,
}

/// The profiles of `user_ids` that exist, in one statement.
pub async fn of_users(
    db: &impl ConnectionTrait,
    user_ids: &[String],
) -> Result<Vec<Profile>, StoreError> {
    if user_ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(user_profiles::Entity::find()
        .filter(user_profiles::Column::UserId.is_in(user_ids.iter().cloned()))
        .all(db)
        .await?)
}

/// Applies `patch` to the user's row and profile (created when missing); the profile.
pub async fn update(
    db: &impl ConnectionTrait,
    user_id: &str,
    patch: ProfilePatch,
) -> Result<Profile, StoreError> {
    let now = time::now();
    if patch.name.is_some() || patch.avatar_url.is_some() {
        let mut update = users::Entity::update_many()
            .col_expr(users::Column::UpdatedAt, Expr::value(now))
            .filter(users::Column::Id.eq(user_id));
        if let Some(name) = patch.name {
            update = update.col_expr(users::Column::Name, Expr::value(name));
        }
        if let Some(url) = patch.avatar_url {
            update = update.col_expr(users::Column::AvatarUrl, Expr::value(url));
        }
        update.exec(db).await?;
    }
    user_profiles::Entity::insert(user_profiles::ActiveModel {
        id: Set(ids::new_id()),
        user_id: Set(user_id.to_owned()),
        bio: Set(None),
        headline: Set(None),
        location: Set(None),
        timezone: Set(None),
        locale: Set(None),
        preferences: Set(serde_json::json!({})),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .on_conflict_do_nothing_on([user_profiles::Column::UserId])
    .exec_without_returning(db)
    .await?;
    let mut update = user_profiles::Entity::update_many()
        .col_expr(user_profiles::Column::UpdatedAt, Expr::value(now))
        .filter(user_profiles::Column::UserId.eq(user_id));
    let fields = [
        (user_profiles::Column::Bio, patch.bio),
        (user_profiles::Column::Headline, patch.headline),
        (user_profiles::Column::Location, patch.location),
        (user_profiles::Column::Timezone, patch.timezone),
        (user_profiles::Column::Locale, patch.locale),
    ];
    for (column, value) in fields {
        if let Some(v) = value {
            update = update.col_expr(column, Expr::value(v));
        }
    }
    if let Some(p) = patch.preferences {
        update = update.col_expr(user_profiles::Column::Preferences, Expr::value(p));
    }
    update.exec(db).await?;
    user_profiles::Entity::find()
        .filter(user_profiles::Column::UserId.eq(user_id))
        .one(db)
        .await?
        .ok_or_else(|| StoreError::Db(sea_orm::DbErr::RecordNotFound("profile".into())))
}
