//! Profiles over GraphQL: `updateMyProfile` and the `UserProfile` behind `User.profile`.

use std::sync::Arc;

use async_graphql::{Context, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::loaders::ProfileOf;
use super::service::{self, ProfileChanges, ProfileService};
use crate::accounts::graphql::{User, user_link};
use crate::error::{ApiError, ApiResult};
use crate::graphql::context::{ContextExt, load_one};
use crate::graphql::scalars::Json;

fn profiles<'a>(ctx: &'a Context<'_>) -> ApiResult<&'a ProfileService> {
    Ok(&ctx.services()?.profiles)
}

/// What a user tells about themselves.
#[derive(Clone)]
pub struct UserProfile(pub Arc<service::Profile>);

#[Object]
impl UserProfile {
    async fn bio(&self) -> Option<&str> {
        self.0.bio.as_deref()
    }
    async fn headline(&self) -> Option<&str> {
        self.0.headline.as_deref()
    }
    async fn location(&self) -> Option<&str> {
        self.0.location.as_deref()
    }
    /// An IANA time zone, e.g. `Africa/Johannesburg`.
    async fn timezone(&self) -> Option<&str> {
        self.0.timezone.as_deref()
    }
    /// A language tag, e.g. `en-ZA`.
    async fn locale(&self) -> Option<&str> {
        self.0.locale.as_deref()
    }
    /// The user's own settings, a JSON object.
    async fn preferences(&self) -> Json {
        Json(self.0.preferences.clone())
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// The profile of a user the caller may see (for `User.profile`); null when they wrote none.
pub async fn profile_of(ctx: &Context<'_>, user_id: &str) -> ApiResult<Option<UserProfile>> {
    Ok(
        load_one(&ctx.loaders()?.profiles, ProfileOf(user_id.to_owned()))
            .await?
            .map(UserProfile),
    )
}

#[derive(InputObject, Default)]
pub struct UpdateMyProfileInput {
    /// Your display name (up to 100 characters; empty clears it).
    pub name: Option<String>,
    /// An http(s) URL of your picture (empty clears it).
    pub avatar_url: Option<String>,
    /// Up to 2000 characters.
    pub bio: Option<String>,
    pub headline: Option<String>,
    pub location: Option<String>,
    /// An IANA time zone, e.g. `Africa/Johannesburg`.
    pub timezone: Option<String>,
    /// A language tag, e.g. `en-ZA`.
    pub locale: Option<String>,
    /// A JSON object (replaces the stored one), up to 16 kB.
    pub preferences: Option<Json>,
}

#[derive(SimpleObject)]
pub struct UpdateMyProfilePayload {
    pub user: User,
    pub profile: UserProfile,
}

#[derive(Default)]
pub struct ProfileMutation;

#[Object]
impl ProfileMutation {
    /// Changes your own name, avatar and profile; fields left out stay as they are.
    async fn update_my_profile(
        &self,
        ctx: &Context<'_>,
        input: UpdateMyProfileInput,
    ) -> ApiResult<UpdateMyProfilePayload> {
        let changes = ProfileChanges {
            name: input.name,
            avatar_url: input.avatar_url,
            bio: input.bio,
            headline: input.headline,
            location: input.location,
            timezone: input.timezone,
            locale: input.locale,
            preferences: input.preferences.map(|p| p.0),
        };
        let caller = ctx.request()?.require()?;
        let profile = profiles(ctx)?.update_mine(caller, changes).await?;
        let user = user_link(ctx, Some(&caller.actor.user_id))
            .await?
            .ok_or(ApiError::NotFound)?;
        Ok(UpdateMyProfilePayload {
            user,
            profile: UserProfile(Arc::new(profile)),
        })
    }
}
