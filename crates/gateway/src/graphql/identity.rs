//! Identity over GraphQL: guest sessions, sessions, personal API tokens, contact methods,
//! external identities (OAuth linking starts here or at `GET /auth/{provider}/start`), password
//! change and reset, and the disclaimer. Every list is the caller's own; every id that is not
//! the caller's answers NOT_FOUND.

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use core_domain::enums::TokenScope as DomainScope;
use core_domain::policy::{Action, Resource, can};
use persistence::{contacts, identities as identity_store, sessions, tokens};

use crate::accounts::{self, Caller};
use crate::error::{ApiError, ApiResult};
use crate::graphql::auth::AuthPayload;
use crate::graphql::context::{ContextExt, RequestContext};
use crate::graphql::users::User;
use crate::identity;

/// What a personal API token may do.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "TokenScope", remote = "core_domain::enums::TokenScope")]
pub enum TokenScope {
    /// Queries and subscriptions.
    Read,
    /// Also mutations.
    Write,
    /// Also the owner's elevated role (staff, moderator, admin...); without it a token acts as a
    /// USER at most.
    Admin,
}

/// A login session of the caller.
#[derive(SimpleObject)]
pub struct Session {
    pub id: ID,
    pub user_agent: Option<String>,
    pub ip_address: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub expires_at: DateTime<Utc>,
    /// The session this request is made with.
    pub current: bool,
}

/// A personal API token. The token itself is shown only once, when it is created.
#[derive(SimpleObject)]
pub struct ApiToken {
    pub id: ID,
    pub name: Option<String>,
    /// The first characters (`cq_pat_abcd`), to tell tokens apart.
    pub prefix: String,
    pub scopes: Vec<TokenScope>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
}

impl From<tokens::Token> for ApiToken {
    fn from(t: tokens::Token) -> Self {
        ApiToken {
            scopes: accounts::scopes_of(&t)
                .into_iter()
                .map(Into::into)
                .collect(),
            id: ID(t.id),
            name: t.name,
            prefix: t.prefix,
            created_at: t.created_at,
            last_used_at: t.last_used_at,
            expires_at: t.expires_at,
        }
    }
}

/// A new API token: send `token` as `Authorization: Bearer <token>`. It is shown only here.
#[derive(SimpleObject)]
pub struct CreatedApiToken {
    pub token: String,
    pub api_token: ApiToken,
}

/// A way to reach the user (002 `ContactMethod`).
#[derive(SimpleObject)]
pub struct ContactMethod {
    pub id: ID,
    /// `email`, `phone`, `whatsapp`, ...
    #[graphql(name = "type")]
    pub kind: String,
    pub value: String,
    pub verified: bool,
    /// At most one per type.
    pub primary: bool,
    pub created_at: DateTime<Utc>,
}

impl From<contacts::ContactMethod> for ContactMethod {
    fn from(c: contacts::ContactMethod) -> Self {
        ContactMethod {
            id: ID(c.id),
            kind: c.r#type,
            value: c.value,
            verified: c.verified,
            primary: c.is_primary,
            created_at: c.created_at,
        }
    }
}

/// An OAuth identity linked to the user (002 `ExternalIdentity`).
#[derive(SimpleObject)]
pub struct ExternalIdentity {
    pub id: ID,
    pub provider: String,
    pub external_id: String,
    pub email: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<identity_store::ExternalIdentity> for ExternalIdentity {
    fn from(i: identity_store::ExternalIdentity) -> Self {
        ExternalIdentity {
            id: ID(i.id),
            provider: i.provider,
            external_id: i.external_id,
            email: i.email,
            created_at: i.created_at,
        }
    }
}

/// The disclaimer users must accept before AI calls, when one is configured.
#[derive(SimpleObject)]
pub struct Disclaimer {
    /// The version to accept; null when none is required.
    pub required_version: Option<String>,
}

/// Where to send the browser to sign in with a provider.
#[derive(SimpleObject)]
pub struct OAuthStart {
    pub url: String,
}

fn caller<'a>(ctx: &'a Context<'_>) -> ApiResult<&'a Caller> {
    ctx.request()?.require()
}

fn address(request: &RequestContext) -> Option<&str> {
    request.origin.ip_address.as_deref()
}

/// NOT_FOUND unless the caller may `action` a record owned by `owner_id`.
fn owned(caller: &Caller, owner_id: &str, action: Action) -> ApiResult<()> {
    if can(Some(&caller.actor), action, &Resource::Owned { owner_id }) {
        Ok(())
    } else {
        Err(ApiError::NotFound)
    }
}

#[derive(Default)]
pub struct IdentityQuery;

#[Object]
impl IdentityQuery {
    /// The caller's live sessions, newest first.
    async fn my_sessions(&self, ctx: &Context<'_>) -> ApiResult<Vec<Session>> {
        let caller = caller(ctx)?;
        let rows = sessions::list_live(ctx.services()?.db.conn(), &caller.actor.user_id).await?;
        Ok(rows
            .into_iter()
            .map(|s| Session {
                current: caller.session_id.as_deref() == Some(s.id.as_str()),
                id: ID(s.id),
                user_agent: s.user_agent,
                ip_address: s.ip_address,
                created_at: s.created_at,
                last_used_at: s.last_used_at,
                expires_at: s.expires_at,
            })
            .collect())
    }

    /// The caller's personal API tokens that are not revoked, newest first.
    async fn my_api_tokens(&self, ctx: &Context<'_>) -> ApiResult<Vec<ApiToken>> {
        let caller = caller(ctx)?;
        let rows = tokens::list_personal(ctx.services()?.db.conn(), &caller.actor.user_id).await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// The caller's contact methods.
    async fn my_contact_methods(&self, ctx: &Context<'_>) -> ApiResult<Vec<ContactMethod>> {
        let caller = caller(ctx)?;
        let rows = contacts::list(ctx.services()?.db.conn(), &caller.actor.user_id).await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// The OAuth identities linked to the caller.
    async fn my_identities(&self, ctx: &Context<'_>) -> ApiResult<Vec<ExternalIdentity>> {
        let caller = caller(ctx)?;
        let rows = identity_store::list(ctx.services()?.db.conn(), &caller.actor.user_id).await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// The OAuth providers this server signs in with.
    async fn oauth_providers(&self, ctx: &Context<'_>) -> ApiResult<Vec<String>> {
        Ok(ctx.services()?.oauth.ids())
    }

    /// The disclaimer in force.
    async fn disclaimer(&self, ctx: &Context<'_>) -> ApiResult<Disclaimer> {
        Ok(Disclaimer {
            required_version: ctx.services()?.config.auth.disclaimer_version.clone(),
        })
    }
}

#[derive(InputObject)]
pub struct CreateApiTokenInput {
    pub name: String,
    pub scopes: Vec<TokenScope>,
    /// Never expires when null.
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(InputObject)]
pub struct AddContactMethodInput {
    /// `email`, `phone`, `whatsapp`, ...
    #[graphql(name = "type")]
    pub kind: String,
    pub value: String,
}

#[derive(InputObject)]
pub struct ChangePasswordInput {
    pub current_password: String,
    pub new_password: String,
}

#[derive(InputObject)]
pub struct ResetPasswordInput {
    /// The token from the reset message.
    pub token: String,
    pub new_password: String,
}

#[derive(Default)]
pub struct IdentityMutation;

#[Object]
impl IdentityMutation {
    /// Starts an anonymous GUEST account (no credentials) and signs it in. Registering or
    /// signing in with OAuth while holding its token upgrades the same account.
    async fn start_guest_session(&self, ctx: &Context<'_>) -> ApiResult<AuthPayload> {
        let services = ctx.services()?;
        let request = ctx.request()?;
        let signed_in = accounts::start_guest(
            &services.db,
            services.config.auth.session_ttl,
            request.origin.clone(),
        )
        .await?;
        Ok(signed_in.into())
    }

    /// Starts an OAuth sign-in; send the browser to the returned URL. When called signed in, the
    /// identity is linked to the caller (a guest's data is kept, or merged into the identity's
    /// existing account).
    #[graphql(name = "startOAuth")]
    async fn start_oauth(&self, ctx: &Context<'_>, provider: String) -> ApiResult<OAuthStart> {
        let services = ctx.services()?;
        let started = services
            .oauth
            .start(&services.db, &provider, ctx.request()?.actor())
            .await?;
        Ok(OAuthStart { url: started.url })
    }

    /// Removes a linked OAuth identity of the caller's.
    async fn unlink_identity(&self, ctx: &Context<'_>, id: ID) -> ApiResult<ID> {
        let caller = caller(ctx)?;
        if identity_store::unlink(ctx.services()?.db.conn(), &caller.actor.user_id, &id).await? {
            Ok(id)
        } else {
            Err(ApiError::NotFound)
        }
    }

    /// Ends one of the caller's sessions.
    async fn revoke_session(&self, ctx: &Context<'_>, id: ID) -> ApiResult<ID> {
        let caller = caller(ctx)?;
        if sessions::revoke_own(ctx.services()?.db.conn(), &caller.actor.user_id, &id).await? {
            Ok(id)
        } else {
            Err(ApiError::NotFound)
        }
    }

    /// Ends every session of the caller's except the current one; returns how many ended.
    async fn revoke_other_sessions(&self, ctx: &Context<'_>) -> ApiResult<u64> {
        let caller = caller(ctx)?;
        Ok(sessions::revoke_all(
            ctx.services()?.db.conn(),
            &caller.actor.user_id,
            caller.session_id.as_deref(),
        )
        .await?)
    }

    /// Creates a personal API token (not for guests).
    async fn create_api_token(
        &self,
        ctx: &Context<'_>,
        input: CreateApiTokenInput,
    ) -> ApiResult<CreatedApiToken> {
        let caller = caller(ctx)?;
        let me = &caller.actor.user_id;
        if !can(
            Some(&caller.actor),
            Action::Create,
            &Resource::Credential { owner_id: me },
        ) {
            return Err(ApiError::Forbidden("guests cannot create API tokens"));
        }
        let scopes: Vec<DomainScope> = input.scopes.into_iter().map(Into::into).collect();
        let (row, token) = accounts::create_api_token(
            &ctx.services()?.db,
            caller,
            &input.name,
            &scopes,
            input.expires_at,
        )
        .await?;
        Ok(CreatedApiToken {
            token,
            api_token: row.into(),
        })
    }

    /// Revokes one of the caller's API tokens; it stops working at once.
    async fn revoke_api_token(&self, ctx: &Context<'_>, id: ID) -> ApiResult<ID> {
        let caller = caller(ctx)?;
        if tokens::revoke(ctx.services()?.db.conn(), &caller.actor.user_id, &id).await? {
            Ok(id)
        } else {
            Err(ApiError::NotFound)
        }
    }

    /// Adds a contact method and sends it a verification token.
    async fn add_contact_method(
        &self,
        ctx: &Context<'_>,
        input: AddContactMethodInput,
    ) -> ApiResult<ContactMethod> {
        let caller = caller(ctx)?;
        let services = ctx.services()?;
        let row = identity::add_contact(
            &services.db,
            &services.outbox,
            &caller.actor,
            &input.kind,
            &input.value,
        )
        .await?;
        Ok(row.into())
    }

    /// Sends a new verification token to one of the caller's contact methods.
    async fn resend_contact_verification(&self, ctx: &Context<'_>, id: ID) -> ApiResult<ID> {
        let caller = caller(ctx)?;
        let services = ctx.services()?;
        let row = contacts::find(services.db.conn(), &id)
            .await?
            .ok_or(ApiError::NotFound)?;
        owned(caller, &row.user_id, Action::Update)?;
        identity::send_verification(&services.db, &services.outbox, &row).await?;
        Ok(id)
    }

    /// Verifies a contact method with the token sent to it (works once, without signing in).
    async fn verify_contact_method(
        &self,
        ctx: &Context<'_>,
        token: String,
    ) -> ApiResult<ContactMethod> {
        let services = ctx.services()?;
        let row = identity::verify_contact(
            &services.db,
            &services.attempts,
            &token,
            address(ctx.request()?),
        )
        .await?;
        Ok(row.into())
    }

    /// Makes a verified contact method the caller's primary one of its type.
    async fn set_primary_contact_method(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> ApiResult<ContactMethod> {
        let caller = caller(ctx)?;
        let db = &ctx.services()?.db;
        let row = contacts::find(db.conn(), &id)
            .await?
            .ok_or(ApiError::NotFound)?;
        owned(caller, &row.user_id, Action::Update)?;
        if !row.verified {
            return Err(ApiError::bad_input(
                "id",
                "verify this contact method first",
            ));
        }
        contacts::set_primary(db.conn(), &row).await?;
        let row = contacts::find(db.conn(), &id)
            .await?
            .ok_or(ApiError::NotFound)?;
        Ok(row.into())
    }

    /// Removes one of the caller's contact methods.
    async fn remove_contact_method(&self, ctx: &Context<'_>, id: ID) -> ApiResult<ID> {
        let caller = caller(ctx)?;
        let db = &ctx.services()?.db;
        let row = contacts::find(db.conn(), &id)
            .await?
            .ok_or(ApiError::NotFound)?;
        owned(caller, &row.user_id, Action::Delete)?;
        contacts::remove(db.conn(), &row.id).await?;
        Ok(id)
    }

    /// Changes the caller's password; every other session ends.
    async fn change_password(
        &self,
        ctx: &Context<'_>,
        input: ChangePasswordInput,
    ) -> ApiResult<bool> {
        let caller = caller(ctx)?;
        let services = ctx.services()?;
        accounts::change_password(
            &services.db,
            &services.attempts,
            caller,
            &input.current_password,
            &input.new_password,
            address(ctx.request()?),
        )
        .await?;
        Ok(true)
    }

    /// Sends a single-use password-reset token to the account's email. Always answers true, so
    /// it does not reveal which emails have accounts.
    async fn request_password_reset(&self, ctx: &Context<'_>, email: String) -> ApiResult<bool> {
        let services = ctx.services()?;
        accounts::request_password_reset(
            &services.db,
            &services.attempts,
            &services.outbox,
            &email,
            address(ctx.request()?),
        )
        .await?;
        Ok(true)
    }

    /// Sets a new password with a reset token (works once); every session of the account ends.
    async fn reset_password(
        &self,
        ctx: &Context<'_>,
        input: ResetPasswordInput,
    ) -> ApiResult<bool> {
        let services = ctx.services()?;
        accounts::reset_password(
            &services.db,
            &services.attempts,
            &input.token,
            &input.new_password,
            address(ctx.request()?),
        )
        .await?;
        Ok(true)
    }

    /// Accepts the disclaimer `version` (the one in force, when one is configured).
    async fn accept_disclaimer(&self, ctx: &Context<'_>, version: String) -> ApiResult<User> {
        let caller = caller(ctx)?;
        let services = ctx.services()?;
        let user = accounts::accept_disclaimer(
            &services.db,
            caller,
            &version,
            services.config.auth.disclaimer_version.as_deref(),
        )
        .await?;
        Ok(User(user))
    }
}
