//! The profiles area's use cases: a user changes only their own profile.

use persistence::profiles::{self, ProfilePatch};
use persistence::sea_orm::TransactionTrait;
use persistence::{Db, StoreError};
use serde_json::json;

use crate::accounts::Caller;
use crate::error::{ApiError, ApiResult};
use crate::platform::audit;

pub use persistence::profiles::Profile;

/// What `updateMyProfile` was given: `None` leaves a field alone, an empty text clears it.
#[derive(Debug, Clone, Default)]
pub struct ProfileChanges {
    pub name: Option<String>,
    pub avatar_url: Option<String>,
    pub bio: Option<String>,
    pub headline: Option<String>,
    pub location: Option<String>,
    pub timezone: Option<String>,
    pub locale: Option<String>,
    pub preferences: Option<serde_json::Value>,
}

pub struct ProfileService {
    db: Db,
}

/// A text field: trimmed, at most `max` characters; empty clears it.
fn field(
    value: Option<String>,
    name: &'static str,
    max: usize,
) -> ApiResult<Option<Option<String>>> {
    let Some(v) = value else {
        return Ok(None);
    };
    let v = v.trim().to_owned();
    if v.chars().count() > max {
        return Err(ApiError::bad_input(
            name,
            format!("must be at most {max} characters"),
        ));
    }
    Ok(Some((!v.is_empty()).then_some(v)))
}

impl ProfileService {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Profiles of `user_ids` (callers check who may see the users).
    pub async fn of_users(&self, user_ids: &[String]) -> ApiResult<Vec<Profile>> {
        Ok(profiles::of_users(self.db.conn(), user_ids).await?)
    }

    /// Changes the caller's own profile (created on first change).
    pub async fn update_mine(
        &self,
        caller: &Caller,
        changes: ProfileChanges,
    ) -> ApiResult<Profile> {
        let avatar_url = field(changes.avatar_url, "avatarUrl", 2000)?;
        if let Some(Some(url)) = &avatar_url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            return Err(ApiError::bad_input("avatarUrl", "must be an http(s) URL"));
        }
        let timezone = field(changes.timezone, "timezone", 64)?;
        if let Some(Some(tz)) = &timezone
            && !tz
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "/_+-".contains(c))
        {
            return Err(ApiError::bad_input(
                "timezone",
                "must be an IANA zone such as Africa/Johannesburg",
            ));
        }
        let locale = field(changes.locale, "locale", 35)?;
        if let Some(Some(l)) = &locale
            && !l
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(ApiError::bad_input(
                "locale",
                "must be a language tag such as en-ZA",
            ));
        }
        if let Some(p) = &changes.preferences {
            if !p.is_object() {
                return Err(ApiError::bad_input("preferences", "must be a JSON object"));
            }
            if serde_json::to_vec(p).map_or(0, |b| b.len()) > 16_000 {
                return Err(ApiError::bad_input("preferences", "must be at most 16 kB"));
            }
        }
        let patch = ProfilePatch {
            name: field(changes.name, "name", 100)?,
            avatar_url,
            bio: field(changes.bio, "bio", 2000)?,
            headline: field(changes.headline, "headline", 200)?,
            location: field(changes.location, "location", 200)?,
            timezone,
            locale,
            preferences: changes.preferences,
        };
        let me = &caller.actor.user_id;
        let txn = self.db.conn().begin().await.map_err(StoreError::from)?;
        let profile = profiles::update(&txn, me, patch.clone()).await?;
        audit::record(
            &txn,
            Some(me),
            "profile.updated",
            "User",
            me,
            json!({
                "nameChanged": patch.name.is_some(),
                "avatarChanged": patch.avatar_url.is_some(),
                "headline": profile.headline,
            }),
        )
        .await?;
        txn.commit().await.map_err(StoreError::from)?;
        Ok(profile)
    }
}
