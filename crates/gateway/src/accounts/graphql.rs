//! Accounts over GraphQL: the signed-in user and user look-ups, password accounts and sessions
//! (`register`, `login`, `logout`), guest sessions, personal API tokens, contact methods, linked
//! OAuth identities (sign-in starts here or at `GET /auth/{provider}/start`), password change and
//! reset, the disclaimer, and administration. Every list is the caller's own; a look-up of a user
//! the caller may not see answers null, and a change to a record that is not the caller's
//! answers NOT_FOUND. Resolvers parse (ids are global, see `graphql::ids`), call
//! [`AccountService`], and wrap.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::connection::{Connection, EmptyFields};
use async_graphql::{
    Context, Enum, ID, InputObject, Object, OutputType, SelectionField, SimpleObject,
};
use chrono::{DateTime, Utc};
use core_domain::enums::TokenScope as DomainScope;

use super::identity::{self, OAuthProvider as ProviderRow};
use super::loaders::UserId;
use super::service::{self, AccountService, Caller, SignedIn};
use crate::conversations::graphql::{
    ConversationConnection, ConversationFilterInput, ConversationOrderBy, conversations_of,
    prefetch_conversations,
};
use crate::conversations::loaders::UserConversations;
use crate::error::ApiResult;
use crate::graphql::connection::{connection, cursor, page_args};
use crate::graphql::context::{ContextExt, RequestContext};
use crate::graphql::ids::{self, Kind};
use crate::graphql::plan::{self, FieldPlan, PlanType, Planned};
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
#[derive(Clone)]
pub struct User(pub Arc<service::User>);

impl From<service::User> for User {
    fn from(u: service::User) -> Self {
        User(Arc::new(u))
    }
}

#[Object]
impl User {
    pub async fn id(&self) -> ID {
        ids::encode(Kind::User, &self.0.id)
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
    /// What the user tells about themselves; null until they write a profile.
    async fn profile(
        &self,
        ctx: &Context<'_>,
    ) -> ApiResult<Option<crate::profiles::graphql::UserProfile>> {
        crate::profiles::graphql::profile_of(ctx, &self.0.id).await
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
    /// When the user last accepted a disclaimer (`disclaimerVersion`).
    async fn disclaimer_accepted_at(&self) -> Option<DateTime<Utc>> {
        self.0.disclaimer_accepted_at
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
    /// The user's AI usage within `[from, to)` (all time when neither is given): only the user
    /// and administrators see it (null for anyone else).
    async fn usage(
        &self,
        ctx: &Context<'_>,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> ApiResult<Option<crate::analytics::graphql::UsageSummary>> {
        crate::analytics::graphql::user_usage(ctx, &self.0.id, from, to).await
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

/// How a planned read writes a user (`graphql::plan`): the user's own values, and its
/// conversations; fields that load something else (`profile`, `usage`) are left to the resolvers.
impl PlanType for service::User {
    fn type_name() -> Cow<'static, str> {
        <User as OutputType>::type_name()
    }

    fn plan(field: &SelectionField<'_>) -> Option<FieldPlan<Self>> {
        use plan::{boolean, opt_string, value};
        let write: fn(&Self, &mut Vec<u8>) = match field.name() {
            "id" => |u, out| plan::id(ids::encode(Kind::User, &u.id), out),
            "email" => |u, out| opt_string(u.email.as_deref(), out),
            "name" => |u, out| opt_string(u.name.as_deref(), out),
            "avatarUrl" => |u, out| opt_string(u.avatar_url.as_deref(), out),
            "role" => |u, out| value(&Role::from(*u.role), out),
            "isActive" => |u, out| boolean(u.is_active, out),
            "disclaimerAccepted" => |u, out| boolean(u.disclaimer_accepted, out),
            "disclaimerVersion" => |u, out| opt_string(u.disclaimer_version.as_deref(), out),
            "disclaimerAcceptedAt" => |u, out| value(&u.disclaimer_accepted_at, out),
            "lastLoginAt" => |u, out| value(&u.last_login_at, out),
            "createdAt" => |u, out| value(&u.created_at, out),
            "updatedAt" => |u, out| value(&u.updated_at, out),
            "conversations" => return plan::list::<UserConversations>(field),
            _ => return None,
        };
        Some(FieldPlan::Value(write))
    }
}

/// The users among `ids` (database ids) the caller may see, through the request's users loader:
/// one statement for every link on a level. Users the caller may not see are not loaded.
pub async fn visible_users(ctx: &Context<'_>, ids: &[String]) -> ApiResult<HashMap<String, User>> {
    let actor = ctx.request()?.actor();
    let keys = ids
        .iter()
        .filter(|id| service::can_read_user(actor, id))
        .map(|id| UserId(id.clone()));
    let rows = ctx.loaders()?.users.load_many(keys).await?;
    Ok(rows.into_iter().map(|(k, u)| (k.0, User(u))).collect())
}

/// The user a link points at (`Message.author`, `Conversation.owner`): null when there is none,
/// or when the caller may not see that user.
pub async fn user_link(ctx: &Context<'_>, id: Option<&str>) -> ApiResult<Option<User>> {
    let Some(id) = id else {
        return Ok(None);
    };
    Ok(visible_users(ctx, &[id.to_owned()]).await?.remove(id))
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

/// How a contact method reaches its user.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "ContactMethodType", remote = "core_domain::enums::ContactKind")]
pub enum ContactMethodType {
    Email,
    Phone,
    #[graphql(name = "WHATSAPP")]
    WhatsApp,
    Sms,
    Telegram,
}

/// The kind of server an OAuth provider is, which decides how its profile is read.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "OAuthProviderKind", remote = "auth::ProfileMapping")]
pub enum OAuthProviderKind {
    /// Google's OpenID Connect.
    Google,
    /// GitHub's OAuth apps.
    #[graphql(name = "GITHUB")]
    GitHub,
    /// Any other OpenID Connect (or compatible OAuth 2.0) server.
    #[graphql(name = "OIDC")]
    Generic,
}

/// A login session of the caller.
#[derive(Clone)]
pub struct Session {
    row: service::Session,
    current: bool,
}

impl Session {
    /// `row`, seen by `caller` (whose session may be this one).
    pub fn of(row: service::Session, caller: &Caller) -> Self {
        Session {
            current: caller.session_id.as_deref() == Some(row.id.as_str()),
            row,
        }
    }
}

#[Object]
impl Session {
    pub async fn id(&self) -> ID {
        ids::encode(Kind::Session, &self.row.id)
    }
    async fn user_agent(&self) -> Option<&str> {
        self.row.user_agent.as_deref()
    }
    async fn ip_address(&self) -> Option<&str> {
        self.row.ip_address.as_deref()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }
    async fn last_used_at(&self) -> Option<DateTime<Utc>> {
        self.row.last_used_at
    }
    async fn expires_at(&self) -> DateTime<Utc> {
        self.row.expires_at
    }
    /// The session this request is made with.
    async fn current(&self) -> bool {
        self.current
    }
}

/// A personal API token. The token itself is shown only once, when it is created.
#[derive(Clone)]
pub struct ApiToken(pub service::Token);

impl From<service::Token> for ApiToken {
    fn from(t: service::Token) -> Self {
        ApiToken(t)
    }
}

#[Object]
impl ApiToken {
    pub async fn id(&self) -> ID {
        ids::encode(Kind::ApiToken, &self.0.id)
    }
    async fn name(&self) -> Option<&str> {
        self.0.name.as_deref()
    }
    /// The first characters (`cq_pat_abcd`), to tell tokens apart.
    async fn prefix(&self) -> &str {
        &self.0.prefix
    }
    async fn scopes(&self) -> Vec<TokenScope> {
        service::scopes_of(&self.0)
            .into_iter()
            .map(Into::into)
            .collect()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn last_used_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_used_at
    }
    async fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.0.expires_at
    }
}

/// A way to reach the user: an email address, a phone number, ...
#[derive(Clone)]
pub struct ContactMethod(pub service::ContactMethod);

impl From<service::ContactMethod> for ContactMethod {
    fn from(c: service::ContactMethod) -> Self {
        ContactMethod(c)
    }
}

#[Object]
impl ContactMethod {
    pub async fn id(&self) -> ID {
        ids::encode(Kind::ContactMethod, &self.0.id)
    }
    /// How it reaches the user; `value` is an address or number of that kind.
    #[graphql(name = "type")]
    async fn kind(&self) -> ApiResult<ContactMethodType> {
        Ok(identity::contact_kind(&self.0)?.into())
    }
    async fn value(&self) -> &str {
        &self.0.value
    }
    async fn verified(&self) -> bool {
        self.0.verified
    }
    /// At most one per type.
    async fn primary(&self) -> bool {
        self.0.is_primary
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// An account at an OAuth provider (Google, GitHub, ...) linked to the user, to sign in with.
#[derive(Clone)]
pub struct ExternalIdentity(pub service::ExternalIdentity);

impl From<service::ExternalIdentity> for ExternalIdentity {
    fn from(i: service::ExternalIdentity) -> Self {
        ExternalIdentity(i)
    }
}

#[Object]
impl ExternalIdentity {
    pub async fn id(&self) -> ID {
        ids::encode(Kind::ExternalIdentity, &self.0.id)
    }
    /// The id of the provider it was linked through: one of `oauthProviders { id }`. Provider
    /// ids are names the server is configured with (`google`, `github`, `acme-sso`), so this is
    /// a string, not an enum; the provider's `kind` is in `oauthProviders`.
    async fn provider(&self) -> &str {
        &self.0.provider
    }
    /// The account's id at the provider.
    async fn external_id(&self) -> &str {
        &self.0.external_id
    }
    async fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// An OAuth provider this server signs in with.
#[derive(SimpleObject)]
#[graphql(name = "OAuthProvider")]
pub struct OAuthProvider {
    /// The provider's configured name: `startOAuth(input: { provider })` takes it, and
    /// `GET /auth/{id}/start` starts a sign-in in a browser.
    pub id: String,
    pub kind: OAuthProviderKind,
}

impl From<ProviderRow> for OAuthProvider {
    fn from(p: ProviderRow) -> Self {
        OAuthProvider {
            id: p.id,
            kind: p.kind.into(),
        }
    }
}

/// A published version of the disclaimer.
#[derive(SimpleObject)]
pub struct DisclaimerVersion {
    /// The version users name to accept it (`acceptDisclaimer`).
    pub version: String,
    pub text: String,
    pub published_at: DateTime<Utc>,
}

impl From<service::DisclaimerVersion> for DisclaimerVersion {
    fn from(d: service::DisclaimerVersion) -> Self {
        Self {
            version: d.version,
            text: d.text,
            published_at: d.published_at,
        }
    }
}

#[derive(InputObject)]
pub struct PublishDisclaimerInput {
    /// A new version name (1 to 50 characters), e.g. `2026-01`; never one published before.
    pub version: String,
    /// What users accept (up to 20,000 characters).
    pub text: String,
}

#[derive(SimpleObject)]
pub struct PublishDisclaimerPayload {
    pub disclaimer: DisclaimerVersion,
}

/// The disclaimer users must accept before AI calls, when one is published.
#[derive(SimpleObject)]
pub struct Disclaimer {
    /// The version to accept; null when none is required.
    pub required_version: Option<String>,
}

#[derive(InputObject)]
pub struct RegisterInput {
    pub email: String,
    /// At least 10 characters; common passwords are refused.
    #[graphql(secret)]
    pub password: String,
    pub name: Option<String>,
}

#[derive(InputObject)]
pub struct LoginInput {
    pub email: String,
    #[graphql(secret)]
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
            user: s.user.into(),
        }
    }
}

#[derive(SimpleObject)]
pub struct LogoutPayload {
    /// The session that ended (the one the request was made with).
    pub revoked_session_id: ID,
}

#[derive(InputObject)]
pub struct StartOAuthInput {
    /// A provider id from `oauthProviders`.
    pub provider: String,
}

/// Where to send the browser to sign in with a provider.
#[derive(SimpleObject)]
pub struct StartOAuthPayload {
    pub url: String,
}

#[derive(InputObject)]
pub struct UnlinkIdentityInput {
    /// An `ExternalIdentity` id of the caller's.
    pub id: ID,
}

#[derive(SimpleObject)]
pub struct UnlinkIdentityPayload {
    pub unlinked_identity_id: ID,
}

#[derive(InputObject)]
pub struct RevokeSessionInput {
    /// A `Session` id of the caller's.
    pub id: ID,
}

#[derive(SimpleObject)]
pub struct RevokeSessionPayload {
    pub revoked_session_id: ID,
}

#[derive(SimpleObject)]
pub struct RevokeOtherSessionsPayload {
    /// How many sessions ended.
    pub revoked_session_count: u64,
}

#[derive(InputObject)]
pub struct CreateApiTokenInput {
    pub name: String,
    pub scopes: Vec<TokenScope>,
    /// Never expires when null.
    pub expires_at: Option<DateTime<Utc>>,
}

/// A new API token: send `token` as `Authorization: Bearer <token>`. It is shown only here.
#[derive(SimpleObject)]
pub struct CreateApiTokenPayload {
    pub token: String,
    pub api_token: ApiToken,
}

#[derive(InputObject)]
pub struct RevokeApiTokenInput {
    /// An `ApiToken` id of the caller's.
    pub id: ID,
}

#[derive(SimpleObject)]
pub struct RevokeApiTokenPayload {
    pub revoked_api_token_id: ID,
}

#[derive(InputObject)]
pub struct AddContactMethodInput {
    #[graphql(name = "type")]
    pub kind: ContactMethodType,
    /// An email address for EMAIL (normalised like account emails), else 1 to 200 characters.
    pub value: String,
}

#[derive(SimpleObject)]
pub struct AddContactMethodPayload {
    /// Unverified until `verifyContactMethod` is called with the token sent to it.
    pub contact_method: ContactMethod,
}

#[derive(InputObject)]
pub struct ResendContactVerificationInput {
    /// A `ContactMethod` id of the caller's.
    pub id: ID,
}

#[derive(SimpleObject)]
pub struct ResendContactVerificationPayload {
    pub contact_method: ContactMethod,
}

#[derive(InputObject)]
pub struct VerifyContactMethodInput {
    /// The token sent to the contact method.
    #[graphql(secret)]
    pub token: String,
}

#[derive(SimpleObject)]
pub struct VerifyContactMethodPayload {
    pub contact_method: ContactMethod,
}

#[derive(InputObject)]
pub struct SetPrimaryContactMethodInput {
    /// A verified `ContactMethod` id of the caller's.
    pub id: ID,
}

#[derive(SimpleObject)]
pub struct SetPrimaryContactMethodPayload {
    pub contact_method: ContactMethod,
}

#[derive(InputObject)]
pub struct RemoveContactMethodInput {
    /// A `ContactMethod` id of the caller's.
    pub id: ID,
}

#[derive(SimpleObject)]
pub struct RemoveContactMethodPayload {
    pub removed_contact_method_id: ID,
}

#[derive(InputObject)]
pub struct ChangePasswordInput {
    #[graphql(secret)]
    pub current_password: String,
    #[graphql(secret)]
    pub new_password: String,
}

/// The password changed and every other session of the caller's ended.
pub struct ChangePasswordPayload;

#[Object]
impl ChangePasswordPayload {
    /// The caller's account.
    async fn user(&self, ctx: &Context<'_>) -> ApiResult<User> {
        Ok(accounts(ctx)?.me(caller(ctx)?).await?.into())
    }
}

#[derive(InputObject)]
pub struct RequestPasswordResetInput {
    pub email: String,
}

#[derive(SimpleObject)]
pub struct RequestPasswordResetPayload {
    /// Always true, whether or not the email has an account, so it reveals nothing.
    pub success: bool,
}

#[derive(InputObject)]
pub struct ResetPasswordInput {
    /// The token from the reset message.
    #[graphql(secret)]
    pub token: String,
    #[graphql(secret)]
    pub new_password: String,
}

#[derive(SimpleObject)]
pub struct ResetPasswordPayload {
    /// True: the password is set and every session of the account has ended; sign in with it.
    pub success: bool,
}

#[derive(InputObject)]
pub struct AcceptDisclaimerInput {
    /// The current version (`currentDisclaimer { version }`); an older one is refused.
    pub version: String,
}

#[derive(SimpleObject)]
pub struct AcceptDisclaimerPayload {
    pub user: User,
}

#[derive(InputObject)]
pub struct SetAdminPinInput {
    /// 4 to 12 digits.
    #[graphql(secret)]
    pub pin: String,
    /// The PIN in force; needed to change it once set.
    #[graphql(secret)]
    pub current_pin: Option<String>,
}

#[derive(SimpleObject)]
pub struct SetAdminPinPayload {
    /// True: the PIN is set (`adminPinSet`).
    pub success: bool,
}

#[derive(InputObject)]
pub struct SetUserRoleInput {
    pub user_id: ID,
    pub role: Role,
    /// The admin PIN.
    #[graphql(secret)]
    pub pin: String,
}

#[derive(SimpleObject)]
pub struct SetUserRolePayload {
    pub user: User,
}

#[derive(InputObject)]
pub struct SetUserActiveInput {
    pub user_id: ID,
    pub active: bool,
}

#[derive(SimpleObject)]
pub struct SetUserActivePayload {
    pub user: User,
}

#[derive(InputObject)]
pub struct DeleteUserInput {
    pub user_id: ID,
    /// The admin PIN.
    #[graphql(secret)]
    pub pin: String,
}

#[derive(SimpleObject)]
pub struct DeleteUserPayload {
    pub deleted_user_id: ID,
}

// The queries and mutations are three objects each (users, identity, administration) so the
// merged schema lists its fields in a stable, grouped order.

#[derive(Default)]
pub struct UserQuery;

#[Object]
impl UserQuery {
    /// The signed-in user; null for anonymous callers.
    async fn me(&self, ctx: &Context<'_>) -> ApiResult<Option<Planned<User>>> {
        let Some(user) = accounts(ctx)?.viewer(request(ctx)?.caller.as_ref()).await? else {
            return Ok(None);
        };
        if let Some(plan) = plan::object::<service::User>(ctx) {
            return Ok(Some(Planned::Written(plan.answer(ctx, &user).await?)));
        }
        prefetch_conversations(ctx, &ctx.look_ahead(), std::slice::from_ref(&user.id)).await?;
        Ok(Some(Planned::Resolved(user.into())))
    }

    /// A user by id: yourself, or anyone for admins. Null for anyone else, exactly as for a user
    /// who does not exist.
    async fn user(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Option<User>> {
        let Some(id) = ids::decode_lookup(&id, Kind::User, "id")? else {
            return Ok(None);
        };
        let user = accounts(ctx)?.find_user(request(ctx)?.actor(), &id).await?;
        Ok(user.map(User::from))
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
    ) -> ApiResult<Planned<Connection<String, User, UserTotal, EmptyFields>>> {
        let args = page_args(first, after, last, before)?;
        let name = AccountService::users_ordering();
        let cursor_of = |u: &service::User| cursor(name, u.created_at, &u.id);
        let (accounts, caller) = (accounts(ctx)?, caller(ctx)?);
        if let Some(plan) = plan::connection::<service::User, User, UserTotal>(ctx) {
            // The page, its count and the levels below on one connection.
            let conn = plan::hold(ctx).await?;
            let page = accounts.users_on(&conn, caller, &args).await?;
            let total = if plan.counts_total() {
                Some(accounts.count_users_on(&conn, caller).await?)
            } else {
                None
            };
            let json = plan.answer(ctx, &conn, page, total, cursor_of).await?;
            return Ok(Planned::Written(json));
        }
        let page = accounts.users(caller, &args).await?;
        let ids: Vec<String> = page.items.iter().map(|u| u.id.clone()).collect();
        let node = ctx.look_ahead().field("edges").field("node");
        prefetch_conversations(ctx, &node, &ids).await?;
        Ok(Planned::Resolved(connection(
            page,
            UserTotal,
            cursor_of,
            User::from,
        )))
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

    /// The OAuth providers this server signs in with, by id.
    async fn oauth_providers(&self, ctx: &Context<'_>) -> ApiResult<Vec<OAuthProvider>> {
        let list = accounts(ctx)?.oauth_provider_list();
        Ok(list.into_iter().map(Into::into).collect())
    }

    /// The disclaimer in force (see `currentDisclaimer` for its text).
    async fn disclaimer(&self, ctx: &Context<'_>) -> ApiResult<Disclaimer> {
        let current = accounts(ctx)?.current_disclaimer().await?;
        Ok(Disclaimer {
            required_version: current.map(|d| d.version),
        })
    }

    /// The disclaimer users must accept (`acceptDisclaimer`) before talking to the AI: the
    /// version published last. Null while none is published.
    async fn current_disclaimer(&self, ctx: &Context<'_>) -> ApiResult<Option<DisclaimerVersion>> {
        let current = accounts(ctx)?.current_disclaimer().await?;
        Ok(current.map(Into::into))
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

    /// Ends the current session; its token stops working at once. (An API token has no
    /// session: revoke it with `revokeApiToken`.)
    async fn logout(&self, ctx: &Context<'_>) -> ApiResult<LogoutPayload> {
        let caller = caller(ctx)?;
        accounts(ctx)?.logout(caller).await?;
        Ok(LogoutPayload {
            revoked_session_id: ids::encode(
                Kind::Session,
                caller.session_id.as_deref().unwrap_or_default(),
            ),
        })
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
    async fn start_oauth(
        &self,
        ctx: &Context<'_>,
        input: StartOAuthInput,
    ) -> ApiResult<StartOAuthPayload> {
        let started = accounts(ctx)?
            .start_oauth(&input.provider, request(ctx)?.actor())
            .await?;
        Ok(StartOAuthPayload { url: started.url })
    }

    /// Removes a linked OAuth identity of the caller's.
    async fn unlink_identity(
        &self,
        ctx: &Context<'_>,
        input: UnlinkIdentityInput,
    ) -> ApiResult<UnlinkIdentityPayload> {
        let id = ids::decode(&input.id, Kind::ExternalIdentity, "id")?;
        accounts(ctx)?.unlink_identity(caller(ctx)?, &id).await?;
        Ok(UnlinkIdentityPayload {
            unlinked_identity_id: ids::encode(Kind::ExternalIdentity, &id),
        })
    }

    /// Ends one of the caller's sessions.
    async fn revoke_session(
        &self,
        ctx: &Context<'_>,
        input: RevokeSessionInput,
    ) -> ApiResult<RevokeSessionPayload> {
        let id = ids::decode(&input.id, Kind::Session, "id")?;
        accounts(ctx)?.revoke_session(caller(ctx)?, &id).await?;
        Ok(RevokeSessionPayload {
            revoked_session_id: ids::encode(Kind::Session, &id),
        })
    }

    /// Ends every session of the caller's except the current one.
    async fn revoke_other_sessions(
        &self,
        ctx: &Context<'_>,
    ) -> ApiResult<RevokeOtherSessionsPayload> {
        let n = accounts(ctx)?.revoke_other_sessions(caller(ctx)?).await?;
        Ok(RevokeOtherSessionsPayload {
            revoked_session_count: n,
        })
    }

    /// Creates a personal API token (not for guests).
    async fn create_api_token(
        &self,
        ctx: &Context<'_>,
        input: CreateApiTokenInput,
    ) -> ApiResult<CreateApiTokenPayload> {
        let scopes: Vec<DomainScope> = input.scopes.into_iter().map(Into::into).collect();
        let (row, token) = accounts(ctx)?
            .create_api_token(caller(ctx)?, &input.name, &scopes, input.expires_at)
            .await?;
        Ok(CreateApiTokenPayload {
            token,
            api_token: row.into(),
        })
    }

    /// Revokes one of the caller's API tokens; it stops working at once.
    async fn revoke_api_token(
        &self,
        ctx: &Context<'_>,
        input: RevokeApiTokenInput,
    ) -> ApiResult<RevokeApiTokenPayload> {
        let id = ids::decode(&input.id, Kind::ApiToken, "id")?;
        accounts(ctx)?.revoke_api_token(caller(ctx)?, &id).await?;
        Ok(RevokeApiTokenPayload {
            revoked_api_token_id: ids::encode(Kind::ApiToken, &id),
        })
    }

    /// Adds a contact method and sends it a verification token.
    async fn add_contact_method(
        &self,
        ctx: &Context<'_>,
        input: AddContactMethodInput,
    ) -> ApiResult<AddContactMethodPayload> {
        let row = accounts(ctx)?
            .add_contact(caller(ctx)?, input.kind.into(), &input.value)
            .await?;
        Ok(AddContactMethodPayload {
            contact_method: row.into(),
        })
    }

    /// Sends a new verification token to one of the caller's contact methods (the previous one
    /// stops working).
    async fn resend_contact_verification(
        &self,
        ctx: &Context<'_>,
        input: ResendContactVerificationInput,
    ) -> ApiResult<ResendContactVerificationPayload> {
        let id = ids::decode(&input.id, Kind::ContactMethod, "id")?;
        let row = accounts(ctx)?
            .resend_contact_verification(caller(ctx)?, &id)
            .await?;
        Ok(ResendContactVerificationPayload {
            contact_method: row.into(),
        })
    }

    /// Verifies a contact method with the token sent to it (works once, without signing in).
    async fn verify_contact_method(
        &self,
        ctx: &Context<'_>,
        input: VerifyContactMethodInput,
    ) -> ApiResult<VerifyContactMethodPayload> {
        let row = accounts(ctx)?
            .verify_contact(&input.token, request(ctx)?.address())
            .await?;
        Ok(VerifyContactMethodPayload {
            contact_method: row.into(),
        })
    }

    /// Makes a verified contact method the caller's primary one of its type.
    async fn set_primary_contact_method(
        &self,
        ctx: &Context<'_>,
        input: SetPrimaryContactMethodInput,
    ) -> ApiResult<SetPrimaryContactMethodPayload> {
        let id = ids::decode(&input.id, Kind::ContactMethod, "id")?;
        let row = accounts(ctx)?
            .set_primary_contact(caller(ctx)?, &id)
            .await?;
        Ok(SetPrimaryContactMethodPayload {
            contact_method: row.into(),
        })
    }

    /// Removes one of the caller's contact methods.
    async fn remove_contact_method(
        &self,
        ctx: &Context<'_>,
        input: RemoveContactMethodInput,
    ) -> ApiResult<RemoveContactMethodPayload> {
        let id = ids::decode(&input.id, Kind::ContactMethod, "id")?;
        accounts(ctx)?.remove_contact(caller(ctx)?, &id).await?;
        Ok(RemoveContactMethodPayload {
            removed_contact_method_id: ids::encode(Kind::ContactMethod, &id),
        })
    }

    /// Changes the caller's password; every other session ends.
    async fn change_password(
        &self,
        ctx: &Context<'_>,
        input: ChangePasswordInput,
    ) -> ApiResult<ChangePasswordPayload> {
        accounts(ctx)?
            .change_password(
                caller(ctx)?,
                &input.current_password,
                &input.new_password,
                request(ctx)?.address(),
            )
            .await?;
        Ok(ChangePasswordPayload)
    }

    /// Sends a single-use password-reset token to the account's email. Always succeeds, so it
    /// does not reveal which emails have accounts.
    async fn request_password_reset(
        &self,
        ctx: &Context<'_>,
        input: RequestPasswordResetInput,
    ) -> ApiResult<RequestPasswordResetPayload> {
        accounts(ctx)?
            .request_password_reset(&input.email, request(ctx)?.address())
            .await?;
        Ok(RequestPasswordResetPayload { success: true })
    }

    /// Sets a new password with a reset token (works once); every session of the account ends.
    async fn reset_password(
        &self,
        ctx: &Context<'_>,
        input: ResetPasswordInput,
    ) -> ApiResult<ResetPasswordPayload> {
        accounts(ctx)?
            .reset_password(&input.token, &input.new_password, request(ctx)?.address())
            .await?;
        Ok(ResetPasswordPayload { success: true })
    }

    /// Accepts the disclaimer `version`, which must be the current one.
    async fn accept_disclaimer(
        &self,
        ctx: &Context<'_>,
        input: AcceptDisclaimerInput,
    ) -> ApiResult<AcceptDisclaimerPayload> {
        let user = accounts(ctx)?
            .accept_disclaimer(caller(ctx)?, &input.version)
            .await?;
        Ok(AcceptDisclaimerPayload { user: user.into() })
    }
}

#[derive(Default)]
pub struct AdminMutation;

#[derive(Default)]
pub struct DisclaimerMutation;

#[Object]
impl DisclaimerMutation {
    /// Publishes a new disclaimer version (admins only). It is current at once: every user must
    /// accept it before their next AI call.
    async fn publish_disclaimer(
        &self,
        ctx: &Context<'_>,
        input: PublishDisclaimerInput,
    ) -> ApiResult<PublishDisclaimerPayload> {
        let row = accounts(ctx)?
            .publish_disclaimer(caller(ctx)?, &input.version, &input.text)
            .await?;
        Ok(PublishDisclaimerPayload {
            disclaimer: row.into(),
        })
    }
}

#[Object]
impl AdminMutation {
    /// Sets the admin PIN (4 to 12 digits); changing it needs the current one.
    async fn set_admin_pin(
        &self,
        ctx: &Context<'_>,
        input: SetAdminPinInput,
    ) -> ApiResult<SetAdminPinPayload> {
        accounts(ctx)?
            .set_pin(
                caller(ctx)?,
                &input.pin,
                input.current_pin.as_deref(),
                request(ctx)?.address(),
            )
            .await?;
        Ok(SetAdminPinPayload { success: true })
    }

    /// Changes a user's role. Needs the admin PIN.
    async fn set_user_role(
        &self,
        ctx: &Context<'_>,
        input: SetUserRoleInput,
    ) -> ApiResult<SetUserRolePayload> {
        let user_id = ids::decode(&input.user_id, Kind::User, "userId")?;
        let user = accounts(ctx)?
            .set_role(
                caller(ctx)?,
                &user_id,
                input.role.into(),
                &input.pin,
                request(ctx)?.address(),
            )
            .await?;
        Ok(SetUserRolePayload { user: user.into() })
    }

    /// Activates or deactivates a user; deactivation ends their sessions at once.
    async fn set_user_active(
        &self,
        ctx: &Context<'_>,
        input: SetUserActiveInput,
    ) -> ApiResult<SetUserActivePayload> {
        let user_id = ids::decode(&input.user_id, Kind::User, "userId")?;
        let user = accounts(ctx)?
            .set_active(caller(ctx)?, &user_id, input.active)
            .await?;
        Ok(SetUserActivePayload { user: user.into() })
    }

    /// Deletes a user. Needs the admin PIN.
    async fn delete_user(
        &self,
        ctx: &Context<'_>,
        input: DeleteUserInput,
    ) -> ApiResult<DeleteUserPayload> {
        let user_id = ids::decode(&input.user_id, Kind::User, "userId")?;
        accounts(ctx)?
            .delete_user(caller(ctx)?, &user_id, &input.pin, request(ctx)?.address())
            .await?;
        Ok(DeleteUserPayload {
            deleted_user_id: ids::encode(Kind::User, &user_id),
        })
    }
}
