//! The accounts area's use cases: guests, registration (which upgrades a guest in place), login,
//! sessions, personal API tokens, password change and reset, the disclaimer, reading accounts,
//! and turning a bearer token into the caller. Identities (OAuth, contact methods) are in
//! `identity.rs` and administration in `administration.rs`, as more methods of the same
//! [`AccountService`].
//!
//! Conventions: passwords and PINs are hashed with argon2id off the async runtime (hashing costs
//! tens of milliseconds of CPU on purpose); every token is 256 random bits of which only the
//! SHA-256 is stored, and is looked up by that hash, so no secret is ever compared in memory;
//! one-time tokens are consumed by one conditional UPDATE (single use even under races); sign-in
//! and token-verification attempts go through [`AttemptLimits`].

use persistence::sea_orm::TransactionTrait as _;
use serde_json::json;

use crate::platform::audit;
use std::sync::Arc;
use std::time::Duration;

use auth::tokens::{TokenKind, hash_token};
use chrono::{DateTime, Utc};
use core_domain::enums::{Role, TokenPurpose, TokenScope};
use core_domain::pagination::PageArgs;
use core_domain::policy::{Action, Resource, can};
use core_domain::{Actor, time, validation};
use persistence::disclaimers;
use persistence::sessions::{self, Origin};
use persistence::tokens::{self, NewToken};
use persistence::users::{self, NewUser, Upgrade};
use persistence::{Db, Page, StoreError};

use super::callers::KnownCallers;
use super::identity::OAuthProviders;
use crate::error::{ApiError, ApiResult};
use crate::platform::attempts::AttemptLimits;
use crate::platform::config::Config;
use crate::platform::events::{AuthEvent, EventBus};
use crate::platform::outbox::{Outbox, Purpose};

pub use persistence::contacts::ContactMethod;
pub use persistence::disclaimers::DisclaimerVersion;
pub use persistence::identities::ExternalIdentity;
pub use persistence::sessions::Session;
pub use persistence::tokens::Token;
pub use persistence::users::User;

/// How long a password-reset token works.
const RESET_TTL: chrono::Duration = chrono::Duration::hours(1);

/// A signed-in user and the token that proves it (shown to the client once).
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub user: User,
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

/// Who is calling, as established from the bearer token.
#[derive(Debug, Clone)]
pub struct Caller {
    pub actor: Actor,
    /// The login session, when the caller holds a session token.
    pub session_id: Option<String>,
    /// The scopes, when the caller holds a personal API token (a session may do everything its
    /// user may).
    pub scopes: Option<Vec<TokenScope>>,
    /// The personal API token, when the caller holds one.
    pub token_id: Option<String>,
}

impl Caller {
    /// Whether this caller may run mutations (read-only API tokens may not).
    pub fn can_write(&self) -> bool {
        self.scopes.as_deref().is_none_or(TokenScope::can_write)
    }

    /// Whether `event` ends this caller's right to be served (an open socket then closes).
    pub fn ended_by(&self, event: &AuthEvent) -> bool {
        let me = &self.actor.user_id;
        match event {
            AuthEvent::SessionEnded { session_id } => {
                self.session_id.as_deref() == Some(session_id.as_str())
            }
            AuthEvent::SessionsEnded { user_id, except } => {
                user_id == me
                    && (self.session_id.is_none()
                        || self.session_id.as_deref() != except.as_deref())
            }
            AuthEvent::UserChanged { user_id } => user_id == me,
            AuthEvent::TokenRevoked { token_id } => {
                self.token_id.as_deref() == Some(token_id.as_str())
            }
        }
    }
}

/// Runs CPU-heavy work (argon2) off the async runtime.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(ApiError::internal)
}

fn invalid_token() -> ApiError {
    ApiError::bad_input("token", "is invalid, expired or already used")
}

/// The accounts use cases, shared by every request.
pub struct AccountService {
    pub(super) db: Db,
    pub(super) config: Arc<Config>,
    pub(super) attempts: AttemptLimits,
    pub(super) outbox: Outbox,
    pub(super) oauth: OAuthProviders,
    pub(super) events: EventBus,
    /// Callers authenticated in the last seconds, so a token sent again is not read again.
    known: KnownCallers,
}

impl AccountService {
    pub fn new(db: Db, config: Arc<Config>, events: EventBus) -> anyhow::Result<Self> {
        Ok(Self {
            events,
            known: KnownCallers::new(config.auth.caller_cache),
            attempts: AttemptLimits::across_instances(config.auth.attempts_per_minute, &db),
            outbox: Outbox::new(&config.auth.mail)?,
            oauth: OAuthProviders::new(&config.auth.oauth_providers, &config.auth.public_url),
            db,
            config,
        })
    }

    /// The one-time messages sent (tests read tokens from it).
    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    /// Sign-in events (sessions and users that stop being valid), which open sockets follow.
    pub fn auth_events(&self) -> tokio::sync::broadcast::Receiver<AuthEvent> {
        self.events.subscribe_auth()
    }

    /// Sign-in and one-time-token attempt limits (the OAuth callback route uses them too).
    pub fn attempts(&self) -> &AttemptLimits {
        &self.attempts
    }

    fn session_ttl(&self) -> Duration {
        self.config.auth.session_ttl
    }

    /// A GUEST account with no credentials, signed in.
    pub async fn start_guest(&self, origin: Origin) -> ApiResult<SignedIn> {
        let user = users::create(
            self.db.conn(),
            NewUser {
                email: None,
                name: None,
                password_hash: None,
                role: Role::Guest,
            },
        )
        .await?;
        self.start_session(user, origin, "account.guest_started")
            .await
    }

    /// Creates a USER account with a password and signs it in. A guest caller is upgraded in place:
    /// the same user row, with all its data, becomes a USER.
    pub async fn register(
        &self,
        guest: Option<&Actor>,
        email: &str,
        password: &str,
        name: Option<&str>,
        origin: Origin,
    ) -> ApiResult<SignedIn> {
        let db = &self.db;
        let email = validation::normalize_email(email)?;
        let name = validation::normalize_name(name)?;
        validation::check_password(password, Some(&email))?;
        let password = password.to_owned();
        let hash = blocking(move || auth::password::hash_password(&password)).await??;
        let conflict = |e| match e {
            StoreError::Conflict(_) => {
                ApiError::Conflict("an account with this email already exists".into())
            }
            other => other.into(),
        };
        // The user row, its first session and the `account.registered` event are written in
        // one transaction: an account never exists without its audit row, nor the reverse.
        let guest = guest.filter(|a| a.role == Role::Guest);
        let txn = db.conn().begin().await?;
        let user = match guest {
            Some(guest) => {
                let upgraded = users::upgrade_guest(
                    &txn,
                    &guest.user_id,
                    Upgrade {
                        email: Some(email),
                        password_hash: Some(hash),
                        name,
                        avatar_url: None,
                    },
                )
                .await
                .map_err(conflict)?;
                if !upgraded {
                    return Err(ApiError::Unauthenticated);
                }
                users::find(&txn, &guest.user_id)
                    .await?
                    .ok_or(ApiError::Unauthenticated)?
            }
            None => users::create(
                &txn,
                NewUser {
                    email: Some(email),
                    name,
                    password_hash: Some(hash),
                    role: Role::User,
                },
            )
            .await
            .map_err(conflict)?,
        };
        let signed_in = self
            .start_session_in(&txn, user, origin, "account.registered")
            .await?;
        txn.commit().await?;
        if guest.is_some() {
            // The guest's own token now stands for a USER: callers kept as the guest end.
            self.events.publish_auth(AuthEvent::UserChanged {
                user_id: signed_in.user.id.clone(),
            });
        }
        Ok(signed_in)
    }

    /// Checks an email and password. A wrong email and a wrong password answer the same
    /// UNAUTHENTICATED and take the same time, so neither can be probed; attempts are limited per
    /// account and per address.
    pub async fn login(&self, email: &str, password: &str, origin: Origin) -> ApiResult<SignedIn> {
        let (db, limits) = (&self.db, &self.attempts);
        let email = validation::normalize_email(email).ok();
        limits
            .check("login", email.as_deref(), origin.ip_address.as_deref())
            .await?;
        let user = match &email {
            Some(email) => users::find_by_email(db.conn(), email).await?,
            None => None,
        };
        let stored = user
            .as_ref()
            .filter(|u| u.is_active)
            .and_then(|u| u.password_hash.clone());
        let password = password.to_owned();
        let ok = blocking(move || match stored {
            Some(hash) => auth::password::verify_password(&password, &hash),
            None => {
                auth::password::dummy_verify(&password);
                Ok(false)
            }
        })
        .await??;
        match user {
            Some(mut user) if ok => {
                user.last_login_at = Some(users::record_login(db.conn(), &user.id).await?);
                self.start_session(user, origin, "account.signed_in").await
            }
            _ => Err(ApiError::Unauthenticated),
        }
    }

    /// Opens a new session for `user`.
    /// The session and the audit row `action` (no secret in it) are written together.
    pub(crate) async fn start_session(
        &self,
        user: User,
        origin: Origin,
        action: &str,
    ) -> ApiResult<SignedIn> {
        let txn = self.db.conn().begin().await?;
        let signed_in = self.start_session_in(&txn, user, origin, action).await?;
        txn.commit().await?;
        Ok(signed_in)
    }

    /// [`Self::start_session`] on `txn`, the transaction of the change that signs the user in
    /// (registration writes the user row in it).
    async fn start_session_in(
        &self,
        txn: &impl persistence::sea_orm::ConnectionTrait,
        user: User,
        origin: Origin,
        action: &str,
    ) -> ApiResult<SignedIn> {
        let issued = TokenKind::Session.issue()?;
        let ttl = chrono::Duration::from_std(self.session_ttl()).map_err(ApiError::internal)?;
        let expires_at = time::now() + ttl;
        sessions::create(txn, &user.id, issued.hash, expires_at, origin).await?;
        audit::record(
            txn,
            Some(&user.id),
            action,
            "User",
            &user.id,
            json!({ "role": user.role.as_str() }),
        )
        .await?;
        Ok(SignedIn {
            user,
            token: issued.plaintext,
            expires_at,
        })
    }

    /// Resolves `Authorization: Bearer <token>`: a session token or a personal API token. `Ok(None)`
    /// means the token is unknown, expired or revoked, or its user is inactive or deleted. A token
    /// sent again within seconds is answered from the callers kept in memory ([`KnownCallers`]:
    /// when and why that is safe).
    pub async fn authenticate(&self, token: &str) -> Result<Option<Caller>, StoreError> {
        let Some(kind) = TokenKind::of(token) else {
            return Ok(None);
        };
        let hash = hash_token(token);
        let epoch = self.events.auth_epoch();
        if let Some(caller) = self.known.get(epoch, &hash) {
            return Ok(Some(caller));
        }
        // Taken before the read: a sign-in event published during it means the read may predate
        // the change, and the caller is not kept.
        let ticket = epoch.current();
        let Some((caller, valid_for)) = self.read_caller(kind, &hash).await? else {
            return Ok(None);
        };
        self.known
            .keep(epoch, ticket, hash, caller.clone(), valid_for);
        Ok(Some(caller))
    }

    /// The caller `token_hash` stands for, read from the database, and how long that may be kept:
    /// until the credential expires or its use mark is due, whichever comes first.
    async fn read_caller(
        &self,
        kind: TokenKind,
        token_hash: &str,
    ) -> Result<Option<(Caller, Duration)>, StoreError> {
        let db = &self.db;
        let now = time::now();
        let valid_for = |expires_at: Option<DateTime<Utc>>, used_at: Option<DateTime<Utc>>| {
            let mark_due = used_at.unwrap_or(now) + time::USE_MARK_INTERVAL;
            let until = expires_at.map_or(mark_due, |e| e.min(mark_due));
            (until - now).to_std().unwrap_or_default()
        };
        match kind {
            TokenKind::Session => {
                let Some(session) = sessions::authenticate(db.conn(), token_hash).await? else {
                    return Ok(None);
                };
                let mut used_at = session.last_used_at;
                if time::needs_use_mark(used_at, now) {
                    sessions::touch(db.conn(), &session.session_id).await?;
                    used_at = Some(now);
                }
                let caller = Caller {
                    actor: Actor::new(session.user_id, session.role),
                    session_id: Some(session.session_id),
                    scopes: None,
                    token_id: None,
                };
                Ok(Some((caller, valid_for(Some(session.expires_at), used_at))))
            }
            TokenKind::PersonalAccess => {
                let Some((token, user)) = tokens::authenticate(db.conn(), token_hash).await? else {
                    return Ok(None);
                };
                let mut used_at = token.last_used_at;
                if time::needs_use_mark(used_at, now) {
                    tokens::touch(db.conn(), &token.id).await?;
                    used_at = Some(now);
                }
                let scopes = scopes_of(&token);
                let role = TokenScope::effective_role(&scopes, *user.role);
                let caller = Caller {
                    actor: Actor::new(user.id, role),
                    session_id: None,
                    scopes: Some(scopes),
                    token_id: Some(token.id),
                };
                Ok(Some((caller, valid_for(token.expires_at, used_at))))
            }
            _ => Ok(None),
        }
    }

    /// Ends the caller's current session.
    pub async fn logout(&self, caller: &Caller) -> ApiResult<()> {
        match &caller.session_id {
            Some(id) => {
                let txn = self.db.conn().begin().await?;
                sessions::revoke(&txn, id).await?;
                audit::record(
                    &txn,
                    Some(&caller.actor.user_id),
                    "account.signed_out",
                    "Session",
                    id,
                    json!({}),
                )
                .await?;
                txn.commit().await?;
                self.events.publish_auth(AuthEvent::SessionEnded {
                    session_id: id.clone(),
                });
                Ok(())
            }
            None => Err(ApiError::bad_input(
                "token",
                "an API token has no session; revoke the token instead",
            )),
        }
    }

    /// A new personal API token (not for guests): the plaintext is returned once, the row stores
    /// its hash.
    pub async fn create_api_token(
        &self,
        caller: &Caller,
        name: &str,
        scopes: &[TokenScope],
        expires_at: Option<DateTime<Utc>>,
    ) -> ApiResult<(Token, String)> {
        let me = &caller.actor.user_id;
        if !can(
            Some(&caller.actor),
            Action::Create,
            &Resource::Credential { owner_id: me },
        ) {
            return Err(ApiError::Forbidden("guests cannot create API tokens"));
        }
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(ApiError::bad_input("name", "must be 1 to 100 characters"));
        }
        if scopes.is_empty() {
            return Err(ApiError::bad_input("scopes", "name at least one scope"));
        }
        if expires_at.is_some_and(|at| at <= time::now()) {
            return Err(ApiError::bad_input("expiresAt", "must be in the future"));
        }
        // A token cannot grant more than the credential that mints it.
        if let Some(own) = &caller.scopes
            && scopes.iter().any(|s| !own.contains(s))
        {
            return Err(ApiError::Forbidden(
                "a token cannot create a token with scopes it does not hold",
            ));
        }
        let mut scopes = scopes.to_vec();
        scopes.sort();
        scopes.dedup();
        let issued = TokenKind::PersonalAccess.issue()?;
        let txn = self.db.conn().begin().await?;
        let row = tokens::create(
            &txn,
            NewToken {
                user_id: caller.actor.user_id.clone(),
                purpose: TokenPurpose::PersonalAccess,
                name: Some(name.to_owned()),
                hash: issued.hash,
                prefix: issued.display_prefix,
                scopes: scopes.iter().map(|s| s.as_str().to_owned()).collect(),
                contact_method_id: None,
                expires_at,
            },
        )
        .await?;
        audit::record(
            &txn,
            Some(me),
            "api_token.created",
            "ApiToken",
            &row.id,
            json!({ "name": name, "scopes": scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>() }),
        )
        .await?;
        txn.commit().await?;
        Ok((row, issued.plaintext))
    }

    /// Changes the caller's password after checking the current one, and ends every other session
    /// (a stolen session does not survive the owner changing their password).
    pub async fn change_password(
        &self,
        caller: &Caller,
        current: &str,
        new: &str,
        address: Option<&str>,
    ) -> ApiResult<()> {
        let (db, limits) = (&self.db, &self.attempts);
        limits
            .check("password", Some(&caller.actor.user_id), address)
            .await?;
        let user = users::find(db.conn(), &caller.actor.user_id)
            .await?
            .ok_or(ApiError::Unauthenticated)?;
        let Some(stored) = user.password_hash.clone() else {
            return Err(ApiError::bad_input(
                "currentPassword",
                "this account has no password; use a password reset to set one",
            ));
        };
        let current = current.to_owned();
        let ok = blocking(move || auth::password::verify_password(&current, &stored)).await??;
        if !ok {
            return Err(ApiError::bad_input("currentPassword", "is not correct"));
        }
        let txn = db.conn().begin().await?;
        self.set_password(&txn, &user, new).await?;
        sessions::revoke_all(&txn, &user.id, caller.session_id.as_deref()).await?;
        audit::record(
            &txn,
            Some(&user.id),
            "account.password_changed",
            "User",
            &user.id,
            json!({}),
        )
        .await?;
        txn.commit().await?;
        self.events.publish_auth(AuthEvent::SessionsEnded {
            user_id: user.id.clone(),
            except: caller.session_id.clone(),
        });
        Ok(())
    }

    async fn set_password(
        &self,
        conn: &impl persistence::sea_orm::ConnectionTrait,
        user: &User,
        new: &str,
    ) -> ApiResult<()> {
        validation::check_password(new, user.email.as_deref())
            .map_err(|e| ApiError::bad_input("newPassword", e.message))?;
        let new = new.to_owned();
        let hash = blocking(move || auth::password::hash_password(&new)).await??;
        users::set_password_hash(conn, &user.id, hash).await?;
        tokens::revoke_purpose(conn, &user.id, TokenPurpose::PasswordReset).await?;
        Ok(())
    }

    /// Sends a single-use reset token to the account's email, if there is such an active account.
    /// Always succeeds, so it cannot be used to learn which emails have accounts.
    pub async fn request_password_reset(
        &self,
        email: &str,
        address: Option<&str>,
    ) -> ApiResult<()> {
        let (db, limits, outbox) = (&self.db, &self.attempts, &self.outbox);
        let Ok(email) = validation::normalize_email(email) else {
            return Ok(());
        };
        limits.check("reset", Some(&email), address).await?;
        let Some(user) = users::find_by_email(db.conn(), &email)
            .await?
            .filter(|u| u.is_active)
        else {
            return Ok(());
        };
        let txn = db.conn().begin().await?;
        tokens::revoke_purpose(&txn, &user.id, TokenPurpose::PasswordReset).await?;
        let issued = TokenKind::PasswordReset.issue()?;
        tokens::create(
            &txn,
            NewToken {
                user_id: user.id.clone(),
                purpose: TokenPurpose::PasswordReset,
                name: None,
                hash: issued.hash,
                prefix: issued.display_prefix,
                scopes: Vec::new(),
                contact_method_id: None,
                expires_at: Some(time::now() + RESET_TTL),
            },
        )
        .await?;
        audit::record(
            &txn,
            Some(&user.id),
            "account.password_reset_requested",
            "User",
            &user.id,
            json!({}),
        )
        .await?;
        txn.commit().await?;
        outbox.send(&email, Purpose::ResetPassword, &issued.plaintext);
        Ok(())
    }

    /// Sets a new password with a reset token (once), and ends every session of the account.
    pub async fn reset_password(
        &self,
        token: &str,
        new: &str,
        address: Option<&str>,
    ) -> ApiResult<()> {
        let (db, limits) = (&self.db, &self.attempts);
        limits.check("verify", None, address).await?;
        if TokenKind::of(token) != Some(TokenKind::PasswordReset) {
            return Err(invalid_token());
        }
        // Check the new password before spending the token, so a weak choice can be corrected.
        validation::check_password(new, None)
            .map_err(|e| ApiError::bad_input("newPassword", e.message))?;
        let txn = db.conn().begin().await?;
        let row = tokens::consume(&txn, &hash_token(token), TokenPurpose::PasswordReset)
            .await?
            .ok_or_else(invalid_token)?;
        let user = users::find(&txn, &row.user_id)
            .await?
            .filter(|u| u.is_active)
            .ok_or_else(invalid_token)?;
        self.set_password(&txn, &user, new).await?;
        sessions::revoke_all(&txn, &user.id, None).await?;
        audit::record(
            &txn,
            Some(&user.id),
            "account.password_reset",
            "User",
            &user.id,
            json!({}),
        )
        .await?;
        txn.commit().await?;
        self.events.publish_auth(AuthEvent::SessionsEnded {
            user_id: user.id.clone(),
            except: None,
        });
        Ok(())
    }

    /// The disclaimer users must accept before AI calls: the one published last, if any.
    pub async fn current_disclaimer(&self) -> ApiResult<Option<DisclaimerVersion>> {
        Ok(disclaimers::current(self.db.conn()).await?)
    }

    /// Publishes a new disclaimer version, which becomes the current one at once: every user must
    /// accept it before their next AI call. Admins only; a version published before is
    /// BAD_USER_INPUT on `version`.
    pub async fn publish_disclaimer(
        &self,
        caller: &Caller,
        version: &str,
        text: &str,
    ) -> ApiResult<DisclaimerVersion> {
        Self::require_admin(caller, Action::Create)?;
        let version = check_disclaimer_version(version)?;
        let text = text.trim();
        if text.is_empty() || text.chars().count() > MAX_DISCLAIMER_LEN {
            return Err(ApiError::bad_input(
                "text",
                format!("must be 1 to {MAX_DISCLAIMER_LEN} characters"),
            ));
        }
        let txn = self.db.conn().begin().await?;
        let row = match disclaimers::publish(&txn, version, text, Some(&caller.actor.user_id)).await
        {
            Err(StoreError::Conflict(_)) => {
                return Err(ApiError::bad_input(
                    "version",
                    "was published before: choose a new version",
                ));
            }
            other => other?,
        };
        audit::record(
            &txn,
            Some(&caller.actor.user_id),
            "disclaimer.published",
            "DisclaimerVersion",
            version,
            json!({ "version": version }),
        )
        .await?;
        txn.commit().await?;
        Ok(row)
    }

    /// Records that the caller accepted disclaimer `version`, which must be the current one
    /// (BAD_USER_INPUT on `version` otherwise, and when none is published).
    pub async fn accept_disclaimer(&self, caller: &Caller, version: &str) -> ApiResult<User> {
        let db = &self.db;
        let version = check_disclaimer_version(version)?;
        let current = disclaimers::current(db.conn()).await?;
        match current {
            None => {
                return Err(ApiError::bad_input("version", "no disclaimer is published"));
            }
            Some(current) if current.version != version => {
                return Err(ApiError::bad_input(
                    "version",
                    format!("the current disclaimer is version {}", current.version),
                ));
            }
            Some(_) => {}
        }
        let txn = db.conn().begin().await?;
        users::accept_disclaimer(&txn, &caller.actor.user_id, version).await?;
        audit::record(
            &txn,
            Some(&caller.actor.user_id),
            "disclaimer.accepted",
            "User",
            &caller.actor.user_id,
            json!({ "version": version }),
        )
        .await?;
        txn.commit().await?;
        users::find(db.conn(), &caller.actor.user_id)
            .await?
            .ok_or(ApiError::Unauthenticated)
    }

    /// Reads the signed-in user's own account.
    pub async fn me(&self, caller: &Caller) -> ApiResult<User> {
        users::find(self.db.conn(), &caller.actor.user_id)
            .await?
            .ok_or(ApiError::Unauthenticated)
    }

    /// The caller's own account; `None` for an anonymous caller.
    pub async fn viewer(&self, caller: Option<&Caller>) -> ApiResult<Option<User>> {
        match caller {
            Some(caller) => Ok(users::find(self.db.conn(), &caller.actor.user_id).await?),
            None => Ok(None),
        }
    }

    /// A user by id if `actor` may see it (themselves, or anyone for admins); `None` for a user
    /// who is missing or not visible alike.
    pub async fn find_user(&self, actor: Option<&Actor>, id: &str) -> ApiResult<Option<User>> {
        if !can_read_user(actor, id) {
            return Ok(None);
        }
        Ok(users::find(self.db.conn(), id).await?)
    }

    /// A user by id: yourself, or anyone for admins. Anyone else answers NOT_FOUND.
    pub async fn user(&self, actor: Option<&Actor>, id: &str) -> ApiResult<User> {
        if !can(actor, Action::Read, &Resource::User { id }) {
            return Err(ApiError::NotFound);
        }
        users::find(self.db.conn(), id)
            .await?
            .ok_or(ApiError::NotFound)
    }

    pub(super) fn require_admin(caller: &Caller, action: Action) -> ApiResult<()> {
        if can(Some(&caller.actor), action, &Resource::Administration) {
            Ok(())
        } else {
            Err(ApiError::Forbidden("only admins can do this"))
        }
    }

    /// A page of every user, oldest first (admins only).
    pub async fn users(&self, caller: &Caller, args: &PageArgs) -> ApiResult<Page<User>> {
        self.users_on(self.db.conn(), caller, args).await
    }

    /// [`Self::users`] read on `conn` (a planned read's held connection).
    pub async fn users_on(
        &self,
        conn: &impl persistence::sea_orm::ConnectionTrait,
        caller: &Caller,
        args: &PageArgs,
    ) -> ApiResult<Page<User>> {
        Self::require_admin(caller, Action::Read)?;
        Ok(users::page(conn, args).await?)
    }

    /// How many users there are (admins only).
    pub async fn count_users(&self, caller: &Caller) -> ApiResult<u64> {
        self.count_users_on(self.db.conn(), caller).await
    }

    /// [`Self::count_users`] read on `conn`.
    pub async fn count_users_on(
        &self,
        conn: &impl persistence::sea_orm::ConnectionTrait,
        caller: &Caller,
    ) -> ApiResult<u64> {
        Self::require_admin(caller, Action::Read)?;
        Ok(users::count(conn).await?)
    }

    /// The cursor name of the user list.
    pub fn users_ordering() -> &'static str {
        users::keyset().name
    }

    /// The caller's live sessions, newest first.
    pub async fn sessions(&self, caller: &Caller) -> ApiResult<Vec<Session>> {
        Ok(sessions::list_live(self.db.conn(), &caller.actor.user_id).await?)
    }

    /// Ends one of the caller's sessions (NOT_FOUND for anyone else's).
    pub async fn revoke_session(&self, caller: &Caller, id: &str) -> ApiResult<()> {
        let txn = self.db.conn().begin().await?;
        found(sessions::revoke_own(&txn, &caller.actor.user_id, id).await?)?;
        audit::record(
            &txn,
            Some(&caller.actor.user_id),
            "session.revoked",
            "Session",
            id,
            json!({}),
        )
        .await?;
        txn.commit().await?;
        self.events.publish_auth(AuthEvent::SessionEnded {
            session_id: id.to_owned(),
        });
        Ok(())
    }

    /// Ends every session of the caller's except the current one; returns how many ended.
    pub async fn revoke_other_sessions(&self, caller: &Caller) -> ApiResult<u64> {
        let txn = self.db.conn().begin().await?;
        let ended =
            sessions::revoke_all(&txn, &caller.actor.user_id, caller.session_id.as_deref()).await?;
        audit::record(
            &txn,
            Some(&caller.actor.user_id),
            "session.others_revoked",
            "User",
            &caller.actor.user_id,
            json!({ "ended": ended }),
        )
        .await?;
        txn.commit().await?;
        self.events.publish_auth(AuthEvent::SessionsEnded {
            user_id: caller.actor.user_id.clone(),
            except: caller.session_id.clone(),
        });
        Ok(ended)
    }

    /// The caller's personal API tokens that are not revoked, newest first.
    pub async fn api_tokens(&self, caller: &Caller) -> ApiResult<Vec<Token>> {
        Ok(tokens::list_personal(self.db.conn(), &caller.actor.user_id).await?)
    }

    /// Revokes one of the caller's API tokens; it stops working at once.
    pub async fn revoke_api_token(&self, caller: &Caller, id: &str) -> ApiResult<()> {
        let txn = self.db.conn().begin().await?;
        found(tokens::revoke(&txn, &caller.actor.user_id, id).await?)?;
        audit::record(
            &txn,
            Some(&caller.actor.user_id),
            "api_token.revoked",
            "ApiToken",
            id,
            json!({}),
        )
        .await?;
        txn.commit().await?;
        self.events.publish_auth(AuthEvent::TokenRevoked {
            token_id: id.to_owned(),
        });
        Ok(())
    }
}

/// Whether `actor` may see the user `id` (themselves; anyone for admins). Links to a user
/// (`Message.author`, `Conversation.owner`) check this before loading the row.
pub fn can_read_user(actor: Option<&Actor>, id: &str) -> bool {
    can(actor, Action::Read, &Resource::User { id })
}

/// The scopes of a stored token; unknown spellings are ignored (they grant nothing).
pub fn scopes_of(token: &Token) -> Vec<TokenScope> {
    tokens::scopes_of(token)
        .iter()
        .filter_map(|s| s.parse().ok())
        .collect()
}

/// NOT_FOUND when a change by owner touched no row (the record is missing or someone else's).
pub(super) fn found(changed: bool) -> ApiResult<()> {
    if changed {
        Ok(())
    } else {
        Err(ApiError::NotFound)
    }
}

/// The one disclaimer rule, applied before every AI call: when a disclaimer is published, the
/// user must have accepted exactly the current one (the one published last; accepting an older
/// one does not count). FORBIDDEN with reason DISCLAIMER_REQUIRED and the version needed
/// otherwise. One statement reads the user's acceptance and the current version together.
///
/// `configured` is `COLLOQUY_DISCLAIMER_VERSION`, which start-up publishes
/// ([`publish_configured_disclaimer`]); it only matters if that row is missing (required then
/// too, never weaker than the configuration).
pub async fn require_disclaimer(db: &Db, user_id: &str, configured: Option<&str>) -> ApiResult<()> {
    let standing = disclaimers::standing(db.conn(), user_id)
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    let standing = match (&standing.current_version, configured) {
        (None, Some(v)) => disclaimers::Standing {
            current_version: Some(v.to_owned()),
            ..standing
        },
        _ => standing,
    };
    match standing.missing() {
        None => Ok(()),
        Some(version) => Err(ApiError::DisclaimerRequired {
            version: version.to_owned(),
        }),
    }
}

/// The text start-up publishes for `COLLOQUY_DISCLAIMER_VERSION` when that version is new.
pub const CONFIGURED_DISCLAIMER_TEXT: &str = "Replies in Colloquy are written by AI models. They \
can be wrong, and they are not medical, legal, financial or mental-health advice. In a crisis, \
contact local emergency services.";

/// Publishes `COLLOQUY_DISCLAIMER_VERSION` (when set) as a disclaimer version unless it was
/// published before, so a deployment can name its first version in configuration. Safe with
/// several instances starting at once (one insert wins). Returns whether it was published now.
pub async fn publish_configured_disclaimer(
    db: &Db,
    configured: Option<&str>,
) -> Result<bool, StoreError> {
    let Some(version) = configured.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(false);
    };
    disclaimers::publish_if_new(db.conn(), version, CONFIGURED_DISCLAIMER_TEXT).await
}

/// Longest disclaimer text accepted.
const MAX_DISCLAIMER_LEN: usize = 20_000;

/// A disclaimer version as given: trimmed, 1 to 50 characters (BAD_USER_INPUT on `version`).
fn check_disclaimer_version(version: &str) -> ApiResult<&str> {
    let version = version.trim();
    if version.is_empty() || version.chars().count() > 50 {
        return Err(ApiError::bad_input("version", "must be 1 to 50 characters"));
    }
    Ok(version)
}
