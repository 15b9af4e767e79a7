//! Password accounts and sessions over GraphQL: `register`, `login`, `logout`.

use async_graphql::{Context, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use crate::accounts::{self, SignedIn};
use crate::error::{ApiError, ApiResult};
use crate::graphql::context::ContextExt;
use crate::graphql::users::User;

#[derive(InputObject)]
pub struct RegisterInput {
    pub email: String,
    /// At least 10 characters; common passwords are refused.
    pub password: String,
    pub name: Option<String>,
}

#[derive(InputObject)]
pub struct LoginInput {
    pub email: String,
    pub password: String,
}

/// A new session: send `token` as `Authorization: Bearer <token>`. It is shown only here.
#[derive(SimpleObject)]
pub struct AuthPayload {
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub user: User,
}

impl From<SignedIn> for AuthPayload {
    fn from(s: SignedIn) -> Self {
        AuthPayload {
            token: s.token,
            expires_at: s.expires_at,
            user: User(s.user),
        }
    }
}

#[derive(Default)]
pub struct AuthMutation;

#[Object]
impl AuthMutation {
    /// Creates an account with a password and signs it in. Called with a guest's token, it
    /// upgrades that guest in place: same id, same data, role USER.
    async fn register(&self, ctx: &Context<'_>, input: RegisterInput) -> ApiResult<AuthPayload> {
        let services = ctx.services()?;
        let request = ctx.request()?;
        let signed_in = accounts::register(
            &services.db,
            request.actor(),
            &input.email,
            &input.password,
            input.name.as_deref(),
            services.config.auth.session_ttl,
            request.origin.clone(),
        )
        .await?;
        Ok(signed_in.into())
    }

    /// Signs in with email and password. Wrong credentials answer UNAUTHENTICATED without saying
    /// which part was wrong.
    async fn login(&self, ctx: &Context<'_>, input: LoginInput) -> ApiResult<AuthPayload> {
        let services = ctx.services()?;
        let request = ctx.request()?;
        let signed_in = accounts::login(
            &services.db,
            &services.attempts,
            &input.email,
            &input.password,
            services.config.auth.session_ttl,
            request.origin.clone(),
        )
        .await?;
        Ok(signed_in.into())
    }

    /// Ends the current session; its token stops working at once.
    async fn logout(&self, ctx: &Context<'_>) -> ApiResult<bool> {
        let caller = ctx
            .request()?
            .caller
            .as_ref()
            .ok_or(ApiError::Unauthenticated)?;
        accounts::logout(&ctx.services()?.db, caller).await?;
        Ok(true)
    }
}
