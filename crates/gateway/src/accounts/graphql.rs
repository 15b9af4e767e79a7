//! Accounts over GraphQL: the signed-in user and user look-ups, password accounts and sessions
//! (`register`, `login`, `logout`), guest sessions, personal API tokens, contact methods, linked
//! OAuth identities (sign-in starts here or at `GET /auth/{provider}/start`), password change and
//! reset, the disclaimer, and administration. Every list is the caller's own; every id that is not
//! the caller's answers NOT_FOUND. Resolvers parse, call [`AccountService`], and wrap.

use async_graphql::connection::{Connection, EmptyFields};
use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use core_domain::enums::TokenScope as DomainScope;

use super::service::{self, AccountService, Caller, SignedIn};
use crate::conversations::graphql::{
    ConversationConnection, ConversationFilterInput, ConversationOrderBy, conversations_of,
    prefetch_conversations,
};
use crate::error::ApiResult;
use crate::graphql::connection::{connection, cursor, page_args};
use crate::graphql::context::{ContextExt, RequestContext};
use crate::graphql::scalars::Role;

fn accounts<'a>(ctx: &'a Context<'_>) -> ApiResult<&'a AccountService> {
    Ok(&ctx.services()?.accounts)
}

fn caller<'a>(ctx: &'a Context<'_>) -> ApiResult<&'a Caller> {
    ctx.request()?.require()
}

fn request<'a>(ctx: &'a Context<'_>) -> ApiResult<&'a RequestContext> {
    ctx.request()
}

/// An account. Only its owner and admins can see it at all.
pub struct User(pub service::User);

#[Object]
impl User {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    /// None for guests.
    async fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }
    async fn name(&self) -> Option<&str> {
        self.0.name.as_deref()
    }
    async fn avatar_url(&self) -> Option<&str> {
        self.0.avatar_url.as_deref()
    }
    async fn role(&self) -> ApiResult<Role> {
        Ok((*self.0.role).into())
    }
    async fn is_active(&self) -> bool {
        self.0.is_active
    }
    async fn disclaimer_accepted(&self) -> bool {
        self.0.disclaimer_accepted
    }
    async fn disclaimer_version(&self) -> Option<&str> {
        self.0.disclaimer_version.as_deref()
    }
    async fn last_login_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_login_at
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }

    /// The user's conversations, most recently active first unless `orderBy` says otherwise.
    #[graphql(complexity = "first.or(last).unwrap_or(20).max(0) as usize * child_complexity + 1")]
    #[allow(clippy::too_many_arguments)]
    async fn conversations(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<ConversationFilterInput>,
        order_by: Option<ConversationOrderBy>,
    ) -> ApiResult<ConversationConnection> {
        let args = page_args(first, after, last, before)?;
        conversations_of(ctx, &self.0.id, args, filter, order_by).await
    }
}

/// `totalCount` of the user list, counted only when asked for.
pub struct UserTotal;

#[Object]
impl UserTotal {
    async fn total_count(&self, ctx: &Context<'_>) -> ApiResult<u64> {
        accounts(ctx)?.count_users(caller(ctx)?).await
    }
}

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

impl From<service::Token> for ApiToken {
    fn from(t: service::Token) -> Self {
        ApiToken {
            scopes: service::scopes_of(&t).into_iter().map(Into::into).collect(),
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

/// A way to reach the user: an email address, a phone number, ...
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

impl From<service::ContactMethod> for ContactMethod {
    fn from(c: service::ContactMethod) -> Self {
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

/// An account at an OAuth provider (Google, GitHub, ...) linked to the user, to sign in with.
#[derive(SimpleObject)]
pub struct ExternalIdentity {
    pub id: ID,
    pub provider: String,
    pub external_id: String,
    pub email: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<service::ExternalIdentity> for ExternalIdentity {
    fn from(i: service::ExternalIdentity) -> Self {
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

impl Session {
    fn of(s: service::Session, caller: &Caller) -> Self {
        Session {
            current: caller.session_id.as_deref() == Some(s.id.as_str()),
            id: ID(s.id),
            user_agent: s.user_agent,
            ip_address: s.ip_address,
            created_at: s.created_at,
            last_used_at: s.last_used_at,
            expires_at: s.expires_at,
        }
    }
}

// The queries and mutations are three objects each (users, identity, administration) so the
// merged schema lists its fields in a stable, grouped order.

#[derive(Default)]
pub struct UserQuery;

#[Object]
impl UserQuery {
    /// The signed-in user.
    async fn me(&self, ctx: &Context<'_>) -> ApiResult<User> {
        let user = accounts(ctx)?.me(caller(ctx)?).await?;
        prefetch_conversations(ctx, &ctx.look_ahead(), std::slice::from_ref(&user.id)).await?;
        Ok(User(user))
    }

    /// A user by id: yourself, or anyone for admins. Anyone else answers NOT_FOUND.
    async fn user(&self, ctx: &Context<'_>, id: ID) -> ApiResult<User> {
        Ok(User(accounts(ctx)?.user(request(ctx)?.actor(), &id).await?))
    }

    /// Every user, oldest first. Admins only.
    #[graphql(complexity = "first.or(last).unwrap_or(20).max(0) as usize * child_complexity + 1")]
    async fn users(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> ApiResult<Connection<String, User, UserTotal, EmptyFields>> {
        let args = page_args(first, after, last, before)?;
        let page = accounts(ctx)?.users(caller(ctx)?, &args).await?;
        let ids: Vec<String> = page.items.iter().map(|u| u.id.clone()).collect();
        let node = ctx.look_ahead().field("edges").field("node");
        prefetch_conversations(ctx, &node, &ids).await?;
        let name = AccountService::users_ordering();
        Ok(connection(
            page,
            UserTotal,
            |u| cursor(name, u.created_at, &u.id),
            User,
        ))
    }
}

#[derive(Default)]
pub struct IdentityQuery;

#[Object]
impl IdentityQuery {
    /// The caller's live sessions, newest first.
    async fn my_sessions(&self, ctx: &Context<'_>) -> ApiResult<Vec<Session>> {
        let caller = caller(ctx)?;
        let rows = accounts(ctx)?.sessions(caller).await?;
        Ok(rows.into_iter().map(|s| Session::of(s, caller)).collect())
    }

    /// The caller's personal API tokens that are not revoked, newest first.
    async fn my_api_tokens(&self, ctx: &Context<'_>) -> ApiResult<Vec<ApiToken>> {
        let rows = accounts(ctx)?.api_tokens(caller(ctx)?).await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// The caller's contact methods.
    async fn my_contact_methods(&self, ctx: &Context<'_>) -> ApiResult<Vec<ContactMethod>> {
        let rows = accounts(ctx)?.contact_methods(caller(ctx)?).await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// The OAuth identities linked to the caller.
    async fn my_identities(&self, ctx: &Context<'_>) -> ApiResult<Vec<ExternalIdentity>> {
        let rows = accounts(ctx)?.identities(caller(ctx)?).await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// The OAuth providers this server signs in with.
    async fn oauth_providers(&self, ctx: &Context<'_>) -> ApiResult<Vec<String>> {
        Ok(accounts(ctx)?.oauth_providers())
    }

    /// The disclaimer in force.
    async fn disclaimer(&self, ctx: &Context<'_>) -> ApiResult<Disclaimer> {
        Ok(Disclaimer {
            required_version: accounts(ctx)?.required_disclaimer().map(str::to_owned),
        })
    }
}

#[derive(Default)]
pub struct AdminQuery;

#[Object]
impl AdminQuery {
    /// Whether the admin PIN has been set (admins only).
    async fn admin_pin_set(&self, ctx: &Context<'_>) -> ApiResult<bool> {
        accounts(ctx)?.admin_pin_set(caller(ctx)?).await
    }
}

#[derive(Default)]
pub struct AuthMutation;

#[Object]
impl AuthMutation {
    /// Creates an account with a password and signs it in. Called with a guest's token, it
    /// upgrades that guest in place: same id, same data, role USER.
    async fn register(&self, ctx: &Context<'_>, input: RegisterInput) -> ApiResult<AuthPayload> {
        let request = request(ctx)?;
        let signed_in = accounts(ctx)?
            .register(
                request.actor(),
                &input.email,
                &input.password,
                input.name.as_deref(),
                request.origin.clone(),
            )
            .await?;
        Ok(signed_in.into())
    }

    /// Signs in with email and password. Wrong credentials answer UNAUTHENTICATED without saying
    /// which part was wrong.
    async fn login(&self, ctx: &Context<'_>, input: LoginInput) -> ApiResult<AuthPayload> {
        let origin = request(ctx)?.origin.clone();
        let signed_in = accounts(ctx)?
            .login(&input.email, &input.password, origin)
            .await?;
        Ok(signed_in.into())
    }

    /// Ends the current session; its token stops working at once.
    async fn logout(&self, ctx: &Context<'_>) -> ApiResult<bool> {
        accounts(ctx)?.logout(caller(ctx)?).await?;
        Ok(true)
    }
}

#[derive(Default)]
pub struct IdentityMutation;

#[Object]
impl IdentityMutation {
    /// Starts an anonymous GUEST account (no credentials) and signs it in. Registering or
    /// signing in with OAuth while holding its token upgrades the same account.
    async fn start_guest_session(&self, ctx: &Context<'_>) -> ApiResult<AuthPayload> {
        let origin = request(ctx)?.origin.clone();
        Ok(accounts(ctx)?.start_guest(origin).await?.into())
    }

    /// Starts an OAuth sign-in; send the browser to the returned URL. When called signed in, the
    /// identity is linked to the caller (a guest's data is kept, or merged into the identity's
    /// existing account).
    #[graphql(name = "startOAuth")]
    async fn start_oauth(&self, ctx: &Context<'_>, provider: String) -> ApiResult<OAuthStart> {
        let started = accounts(ctx)?
            .start_oauth(&provider, request(ctx)?.actor())
            .await?;
        Ok(OAuthStart { url: started.url })
    }

    /// Removes a linked OAuth identity of the caller's.
    async fn unlink_identity(&self, ctx: &Context<'_>, id: ID) -> ApiResult<ID> {
        accounts(ctx)?.unlink_identity(caller(ctx)?, &id).await?;
        Ok(id)
    }

    /// Ends one of the caller's sessions.
    async fn revoke_session(&self, ctx: &Context<'_>, id: ID) -> ApiResult<ID> {
        accounts(ctx)?.revoke_session(caller(ctx)?, &id).await?;
        Ok(id)
    }

    /// Ends every session of the caller's except the current one; returns how many ended.
    async fn revoke_other_sessions(&self, ctx: &Context<'_>) -> ApiResult<u64> {
        accounts(ctx)?.revoke_other_sessions(caller(ctx)?).await
    }

    /// Creates a personal API token (not for guests).
    async fn create_api_token(
        &self,
        ctx: &Context<'_>,
        input: CreateApiTokenInput,
    ) -> ApiResult<CreatedApiToken> {
        let scopes: Vec<DomainScope> = input.scopes.into_iter().map(Into::into).collect();
        let (row, token) = accounts(ctx)?
            .create_api_token(caller(ctx)?, &input.name, &scopes, input.expires_at)
            .await?;
        Ok(CreatedApiToken {
            token,
            api_token: row.into(),
        })
    }

    /// Revokes one of the caller's API tokens; it stops working at once.
    async fn revoke_api_token(&self, ctx: &Context<'_>, id: ID) -> ApiResult<ID> {
        accounts(ctx)?.revoke_api_token(caller(ctx)?, &id).await?;
        Ok(id)
    }

    /// Adds a contact method and sends it a verification token.
    async fn add_contact_method(
        &self,
        ctx: &Context<'_>,
        input: AddContactMethodInput,
    ) -> ApiResult<ContactMethod> {
        let row = accounts(ctx)?
            .add_contact(caller(ctx)?, &input.kind, &input.value)
            .await?;
        Ok(row.into())
    }

    /// Sends a new verification token to one of the caller's contact methods.
    async fn resend_contact_verification(&self, ctx: &Context<'_>, id: ID) -> ApiResult<ID> {
        accounts(ctx)?
            .resend_contact_verification(caller(ctx)?, &id)
            .await?;
        Ok(id)
    }

    /// Verifies a contact method with the token sent to it (works once, without signing in).
    async fn verify_contact_method(
        &self,
        ctx: &Context<'_>,
        token: String,
    ) -> ApiResult<ContactMethod> {
        let row = accounts(ctx)?
            .verify_contact(&token, request(ctx)?.address())
            .await?;
        Ok(row.into())
    }

    /// Makes a verified contact method the caller's primary one of its type.
    async fn set_primary_contact_method(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> ApiResult<ContactMethod> {
        let row = accounts(ctx)?
            .set_primary_contact(caller(ctx)?, &id)
            .await?;
        Ok(row.into())
    }

    /// Removes one of the caller's contact methods.
    async fn remove_contact_method(&self, ctx: &Context<'_>, id: ID) -> ApiResult<ID> {
        accounts(ctx)?.remove_contact(caller(ctx)?, &id).await?;
        Ok(id)
    }

    /// Changes the caller's password; every other session ends.
    async fn change_password(
        &self,
        ctx: &Context<'_>,
        input: ChangePasswordInput,
    ) -> ApiResult<bool> {
        accounts(ctx)?
            .change_password(
                caller(ctx)?,
                &input.current_password,
                &input.new_password,
                request(ctx)?.address(),
            )
            .await?;
        Ok(true)
    }

    /// Sends a single-use password-reset token to the account's email. Always answers true, so
    /// it does not reveal which emails have accounts.
    async fn request_password_reset(&self, ctx: &Context<'_>, email: String) -> ApiResult<bool> {
        accounts(ctx)?
            .request_password_reset(&email, request(ctx)?.address())
            .await?;
        Ok(true)
    }

    /// Sets a new password with a reset token (works once); every session of the account ends.
    async fn reset_password(
        &self,
        ctx: &Context<'_>,
        input: ResetPasswordInput,
    ) -> ApiResult<bool> {
        accounts(ctx)?
            .reset_password(&input.token, &input.new_password, request(ctx)?.address())
            .await?;
        Ok(true)
    }

    /// Accepts the disclaimer `version` (the one in force, when one is configured).
    async fn accept_disclaimer(&self, ctx: &Context<'_>, version: String) -> ApiResult<User> {
        let user = accounts(ctx)?
            .accept_disclaimer(caller(ctx)?, &version)
            .await?;
        Ok(User(user))
    }
}

#[derive(Default)]
pub struct AdminMutation;

#[Object]
impl AdminMutation {
    /// Sets the admin PIN (4 to 12 digits); changing it needs the current one.
    async fn set_admin_pin(
        &self,
        ctx: &Context<'_>,
        pin: String,
        current_pin: Option<String>,
    ) -> ApiResult<bool> {
        accounts(ctx)?
            .set_pin(
                caller(ctx)?,
                &pin,
                current_pin.as_deref(),
                request(ctx)?.address(),
            )
            .await?;
        Ok(true)
    }

    /// Changes a user's role. Needs the admin PIN.
    async fn set_user_role(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
        role: Role,
        pin: String,
    ) -> ApiResult<User> {
        let user = accounts(ctx)?
            .set_role(
                caller(ctx)?,
                &user_id,
                role.into(),
                &pin,
                request(ctx)?.address(),
            )
            .await?;
        Ok(User(user))
    }

    /// Activates or deactivates a user; deactivation ends their sessions at once.
    async fn set_user_active(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
        active: bool,
    ) -> ApiResult<User> {
        let user = accounts(ctx)?
            .set_active(caller(ctx)?, &user_id, active)
            .await?;
        Ok(User(user))
    }

    /// Deletes a user. Needs the admin PIN.
    async fn delete_user(&self, ctx: &Context<'_>, user_id: ID, pin: String) -> ApiResult<ID> {
        accounts(ctx)?
            .delete_user(caller(ctx)?, &user_id, &pin, request(ctx)?.address())
            .await?;
        Ok(user_id)
    }
}
