//! Use cases for identities: OAuth sign-in with linking and 002's merge on conflict, and contact
//! methods with single-use verification tokens.
//!
//! OAuth, decided once here:
//! - The sign-in remembers who started it (the bearer token sent to `/auth/{provider}/start` or
//!   to the `startOAuth` mutation). An identity nobody holds is linked to that user (a guest is
//!   upgraded to USER in place); without a starter, a new USER is created.
//! - An identity that already belongs to someone signs that someone in. If a guest started the
//!   sign-in, the guest's data is merged into that user first, in one transaction, and the guest
//!   is deleted. If another full user started it, the answer is CONFLICT: accounts are never
//!   merged without a guest on one side.
//! - A provider's email is copied to a new or upgraded account only when the provider says it is
//!   verified and no other account uses it; an existing account is never taken over by email.

use persistence::sea_orm::TransactionTrait as _;
use serde_json::json;

use crate::platform::audit;
use std::collections::HashMap;

use auth::tokens::{TokenKind, hash_token};
use auth::{AuthError, ExternalProfile, OAuthClient, OAuthProviderConfig, ProfileMapping};
use core_domain::enums::{ContactKind, Role, TokenPurpose};
use core_domain::policy::{Action, Resource, can};
use core_domain::{Actor, time, validation};
use persistence::contacts::{self, ContactMethod};
use persistence::sessions::Origin;
use persistence::tokens::{self, NewToken};
use persistence::users::{self, NewUser, Upgrade, User};
use persistence::{Db, StoreError};
use persistence::{identities, oauth_states};

use super::service::{AccountService, Caller, SignedIn, found};
use crate::error::{ApiError, ApiResult};
use crate::platform::events::AuthEvent;
use crate::platform::outbox::Purpose;

/// How long a contact-verification token works.
const VERIFY_TTL: chrono::Duration = chrono::Duration::hours(24);

/// How long a started sign-in may take before its callback is refused.
const SIGN_IN_TTL: chrono::Duration = chrono::Duration::minutes(10);
/// At most this many sign-ins in flight, so anonymous `start` calls cannot fill the table.
const MAX_PENDING_SIGN_INS: u64 = 10_000;

/// The configured OAuth providers. Sign-ins in flight live in the database
/// (`persistence::oauth_states`), so the provider's redirect can land on any instance.
pub struct OAuthProviders {
    clients: HashMap<String, OAuthClient>,
}

/// A configured OAuth provider: its id (a configured name, stored with the identities it
/// links) and the kind of server it is.
#[derive(Debug, Clone)]
pub struct OAuthProvider {
    pub id: String,
    pub kind: ProfileMapping,
}

/// A started sign-in: send the browser to `url`.
#[derive(Debug, Clone)]
pub struct Started {
    pub url: String,
    pub state: String,
}

/// How an OAuth sign-in ended.
#[derive(Debug, Clone)]
pub struct OAuthOutcome {
    pub signed_in: SignedIn,
    /// The identity was linked to the user by this sign-in.
    pub linked: bool,
    /// The guest whose data was merged into the user, if any.
    pub merged_guest_id: Option<String>,
}

impl OAuthProviders {
    /// Clients for `configs`, redirecting to `<public_url>/auth/<id>/callback`. A provider whose
    /// URLs are unusable is logged and left out rather than stopping the server.
    pub fn new(configs: &[OAuthProviderConfig], public_url: &str) -> Self {
        let mut clients = HashMap::new();
        for config in configs {
            let redirect = format!("{public_url}/auth/{}/callback", config.id);
            match OAuthClient::new(config.clone(), &redirect) {
                Ok(client) => {
                    clients.insert(config.id.clone(), client);
                }
                Err(error) => {
                    tracing::error!(provider = %config.id, %error, "OAuth provider disabled")
                }
            }
        }
        Self { clients }
    }

    /// The enabled providers' ids, sorted.
    pub fn ids(&self) -> Vec<String> {
        let mut ids: Vec<_> = self.clients.keys().cloned().collect();
        ids.sort();
        ids
    }

    /// The enabled providers, sorted by id, with the kind of server each is.
    pub fn list(&self) -> Vec<OAuthProvider> {
        let mut list: Vec<_> = self
            .clients
            .iter()
            .map(|(id, client)| OAuthProvider {
                id: id.clone(),
                kind: client.config().profile,
            })
            .collect();
        list.sort_by(|a, b| a.id.cmp(&b.id));
        list
    }

    /// Refuses a new sign-in while too many are pending (RATE_LIMITED), and an unknown provider
    /// (NOT_FOUND). A read of its own, before the transaction that writes the state: on SQLite a
    /// transaction that reads first and then writes cannot take the write lock while another
    /// instance writes (SQLITE_BUSY at once, not a wait). The cap is a flood guard, so starts that
    /// race past it together by a few rows are harmless.
    async fn check_start(
        &self,
        conn: &impl persistence::sea_orm::ConnectionTrait,
        provider: &str,
    ) -> ApiResult<()> {
        self.clients.get(provider).ok_or(ApiError::NotFound)?;
        if oauth_states::count_live(conn).await? >= MAX_PENDING_SIGN_INS {
            return Err(ApiError::RateLimited {
                retry_after: std::time::Duration::from_secs(60),
            });
        }
        Ok(())
    }

    /// Starts a sign-in with `provider` for `starter` (the caller, if signed in), after
    /// [`Self::check_start`]. Only a SHA-256 of the state is stored; the state itself travels
    /// with the browser.
    async fn start(
        &self,
        conn: &impl persistence::sea_orm::ConnectionTrait,
        provider: &str,
        starter: Option<&Actor>,
    ) -> ApiResult<Started> {
        let client = self.clients.get(provider).ok_or(ApiError::NotFound)?;
        let authorization = client.authorize();
        oauth_states::insert(
            conn,
            hash_token(&authorization.state),
            provider,
            authorization.pkce_verifier,
            starter.map(|a| a.user_id.clone()),
            time::now() + SIGN_IN_TTL,
        )
        .await?;
        Ok(Started {
            url: authorization.url.to_string(),
            state: authorization.state,
        })
    }

    /// Finishes a sign-in from the provider's redirect. A `state` works once and expires; one
    /// that was never issued, was issued for another provider, or was already used is refused.
    async fn finish(
        &self,
        accounts: &AccountService,
        provider: &str,
        code: &str,
        state: &str,
        origin: Origin,
    ) -> ApiResult<OAuthOutcome> {
        let db = &accounts.db;
        let bad_state = || ApiError::bad_input("state", "is unknown, expired or already used");
        let client = self.clients.get(provider).ok_or(ApiError::NotFound)?;
        let pending = oauth_states::take(db.conn(), &hash_token(state))
            .await?
            .ok_or_else(bad_state)?;
        if pending.provider != provider {
            return Err(bad_state());
        }
        let token = client
            .exchange(code, &pending.pkce_verifier)
            .await
            .map_err(provider_error)?;
        let profile = client.fetch_profile(&token).await.map_err(provider_error)?;
        let starter = match &pending.guest_user_id {
            Some(id) => Some(
                users::find(db.conn(), id)
                    .await?
                    .filter(|u| u.is_active)
                    .ok_or(ApiError::Unauthenticated)?,
            ),
            None => None,
        };
        accounts.sign_in_with(&profile, starter, origin).await
    }
}

fn provider_error(e: AuthError) -> ApiError {
    match e {
        AuthError::TokenRejected { .. } => {
            ApiError::bad_input("code", "was refused by the sign-in provider")
        }
        other => {
            tracing::warn!(error = %other, "OAuth provider exchange failed");
            ApiError::Provider {
                reason: "oauth_provider_failed",
                message: "the sign-in provider could not complete the sign-in".into(),
            }
        }
    }
}

fn is_guest(user: &User) -> bool {
    *user.role == Role::Guest
}

/// The profile's email, if verified and free.
async fn usable_email(db: &Db, profile: &ExternalProfile) -> ApiResult<Option<String>> {
    let Some(email) = profile
        .email
        .as_deref()
        .filter(|_| profile.email_verified)
        .and_then(|e| validation::normalize_email(e).ok())
    else {
        return Ok(None);
    };
    Ok(users::find_by_email(db.conn(), &email)
        .await?
        .is_none()
        .then_some(email))
}

impl AccountService {
    /// The OAuth providers this server signs in with, sorted.
    pub fn oauth_providers(&self) -> Vec<String> {
        self.oauth.ids()
    }

    /// The OAuth providers this server signs in with, sorted by id, with their kinds.
    pub fn oauth_provider_list(&self) -> Vec<OAuthProvider> {
        self.oauth.list()
    }

    /// Starts an OAuth sign-in with `provider` for `starter` (the caller, if signed in): the
    /// identity is then linked to them.
    pub async fn start_oauth(&self, provider: &str, starter: Option<&Actor>) -> ApiResult<Started> {
        self.oauth.check_start(self.db.conn(), provider).await?;
        // The pending sign-in's state row and its audit row are written in one transaction.
        let txn = self.db.conn().begin().await?;
        let started = self.oauth.start(&txn, provider, starter).await?;
        audit::record(
            &txn,
            starter.map(|a| a.user_id.as_str()),
            "account.oauth_started",
            "OAuthProvider",
            provider,
            json!({ "provider": provider }),
        )
        .await?;
        txn.commit().await?;
        Ok(started)
    }

    /// Finishes an OAuth sign-in from the provider's redirect (attempts limited per address).
    pub async fn finish_oauth(
        &self,
        provider: &str,
        code: &str,
        state: &str,
        origin: Origin,
    ) -> ApiResult<OAuthOutcome> {
        self.attempts
            .check("oauth", None, origin.ip_address.as_deref())
            .await?;
        self.oauth.finish(self, provider, code, state, origin).await
    }

    /// The OAuth identities linked to the caller.
    pub async fn identities(
        &self,
        caller: &Caller,
    ) -> ApiResult<Vec<identities::ExternalIdentity>> {
        Ok(identities::list(self.db.conn(), &caller.actor.user_id).await?)
    }

    /// Removes a linked OAuth identity of the caller's.
    pub async fn unlink_identity(&self, caller: &Caller, id: &str) -> ApiResult<()> {
        let txn = self.db.conn().begin().await?;
        found(identities::unlink(&txn, &caller.actor.user_id, id).await?)?;
        audit::record(
            &txn,
            Some(&caller.actor.user_id),
            "identity.unlinked",
            "ExternalIdentity",
            id,
            json!({}),
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }

    async fn sign_in_with(
        &self,
        profile: &ExternalProfile,
        starter: Option<User>,
        origin: Origin,
    ) -> ApiResult<OAuthOutcome> {
        let db = &self.db;
        let existing = identities::find(db.conn(), &profile.provider, &profile.external_id).await?;
        if let Some(identity) = existing {
            let owner = users::find(db.conn(), &identity.user_id)
                .await?
                .filter(|u| u.is_active)
                .ok_or(ApiError::Forbidden("this account is deactivated"))?;
            let merged_guest_id = match starter {
                Some(s) if s.id == owner.id => None,
                Some(s) if is_guest(&s) => {
                    identities::merge_guest(db.conn(), &s.id, &owner.id).await?;
                    // The guest is gone, and its sessions with it.
                    self.events.publish_auth(AuthEvent::UserChanged {
                        user_id: s.id.clone(),
                    });
                    tracing::info!(guest = %s.id, into = %owner.id, "merged a guest into an existing user");
                    Some(s.id)
                }
                Some(_) => {
                    return Err(ApiError::Conflict(
                        "this identity is linked to another account".into(),
                    ));
                }
                None => None,
            };
            let owner = record_login(db, owner).await?;
            let signed_in = self
                .start_session(owner, origin, "account.signed_in")
                .await?;
            return Ok(OAuthOutcome {
                signed_in,
                linked: false,
                merged_guest_id,
            });
        }
        let user = match starter {
            Some(s) if is_guest(&s) => {
                let upgrade = Upgrade {
                    email: usable_email(db, profile).await?,
                    password_hash: None,
                    name: if s.name.is_none() {
                        profile.name.clone()
                    } else {
                        None
                    },
                    avatar_url: profile.avatar_url.clone(),
                };
                users::upgrade_guest(db.conn(), &s.id, upgrade).await?;
                // The guest's own token now stands for a USER.
                self.events.publish_auth(AuthEvent::UserChanged {
                    user_id: s.id.clone(),
                });
                users::find(db.conn(), &s.id)
                    .await?
                    .ok_or(ApiError::Unauthenticated)?
            }
            Some(s) => s,
            None => {
                let new = |email| NewUser {
                    email,
                    name: profile.name.clone(),
                    password_hash: None,
                    role: Role::User,
                };
                match users::create(db.conn(), new(usable_email(db, profile).await?)).await {
                    Ok(u) => u,
                    // The email was taken in the meantime: the account starts without one.
                    Err(StoreError::Conflict(_)) => users::create(db.conn(), new(None)).await?,
                    Err(e) => return Err(e.into()),
                }
            }
        };
        identities::link(
            db.conn(),
            &user.id,
            &profile.provider,
            &profile.external_id,
            profile.email.clone(),
        )
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => {
                ApiError::Conflict("this identity was linked meanwhile".into())
            }
            other => other.into(),
        })?;
        let user = record_login(db, user).await?;
        let signed_in = self
            .start_session(user, origin, "account.registered")
            .await?;
        Ok(OAuthOutcome {
            signed_in,
            linked: true,
            merged_guest_id: None,
        })
    }
}

async fn record_login(db: &Db, mut user: User) -> ApiResult<User> {
    user.last_login_at = Some(users::record_login(db.conn(), &user.id).await?);
    Ok(user)
}

/// Checks and normalises a contact method's value: emails are normalised like account emails,
/// other values trimmed.
fn normalize_contact(kind: ContactKind, value: &str) -> ApiResult<String> {
    if kind == ContactKind::Email {
        return validation::normalize_email(value)
            .map_err(|e| ApiError::bad_input("value", e.message));
    }
    let v = value.trim();
    if v.is_empty() || v.chars().count() > 200 {
        return Err(ApiError::bad_input("value", "must be 1 to 200 characters"));
    }
    Ok(v.to_owned())
}

/// The kind of a stored contact method. Every method is added through [`ContactKind`], so a
/// spelling it does not know is a fault in the data (INTERNAL), never the client's.
pub fn contact_kind(method: &ContactMethod) -> ApiResult<ContactKind> {
    method.r#type.parse().map_err(ApiError::internal)
}

impl AccountService {
    /// The caller's contact methods.
    pub async fn contact_methods(&self, caller: &Caller) -> ApiResult<Vec<ContactMethod>> {
        Ok(contacts::list(self.db.conn(), &caller.actor.user_id).await?)
    }

    /// One of the caller's contact methods, for `action`; anyone else's answers NOT_FOUND.
    async fn own_contact(
        &self,
        caller: &Caller,
        id: &str,
        action: Action,
    ) -> ApiResult<ContactMethod> {
        let row = contacts::find(self.db.conn(), id)
            .await?
            .ok_or(ApiError::NotFound)?;
        if can(
            Some(&caller.actor),
            action,
            &Resource::Owned {
                owner_id: &row.user_id,
            },
        ) {
            Ok(row)
        } else {
            Err(ApiError::NotFound)
        }
    }

    /// Adds an unverified contact method and sends it a verification token.
    pub async fn add_contact(
        &self,
        caller: &Caller,
        kind: ContactKind,
        value: &str,
    ) -> ApiResult<ContactMethod> {
        let (db, actor) = (&self.db, &caller.actor);
        let value = normalize_contact(kind, value)?;
        let txn = db.conn().begin().await?;
        let method = contacts::add(&txn, &actor.user_id, kind.as_str(), &value)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => {
                    ApiError::Conflict("this contact method is already registered".into())
                }
                other => other.into(),
            })?;
        let token = Self::issue_verification(&txn, &method).await?;
        audit::record(
            &txn,
            Some(&actor.user_id),
            "contact.added",
            "ContactMethod",
            &method.id,
            json!({ "type": kind.as_str() }),
        )
        .await?;
        txn.commit().await?;
        self.outbox
            .send(&method.value, Purpose::VerifyContact, &token);
        Ok(method)
    }

    /// Sends a new verification token to one of the caller's contact methods; returns it.
    pub async fn resend_contact_verification(
        &self,
        caller: &Caller,
        id: &str,
    ) -> ApiResult<ContactMethod> {
        let row = self.own_contact(caller, id, Action::Update).await?;
        let txn = self.db.conn().begin().await?;
        let token = Self::issue_verification(&txn, &row).await?;
        audit::record(
            &txn,
            Some(&caller.actor.user_id),
            "contact.verification_sent",
            "ContactMethod",
            id,
            json!({}),
        )
        .await?;
        txn.commit().await?;
        self.outbox.send(&row.value, Purpose::VerifyContact, &token);
        Ok(row)
    }

    /// Makes a verified contact method the caller's primary one of its type.
    pub async fn set_primary_contact(&self, caller: &Caller, id: &str) -> ApiResult<ContactMethod> {
        let row = self.own_contact(caller, id, Action::Update).await?;
        if !row.verified {
            return Err(ApiError::bad_input(
                "id",
                "verify this contact method first",
            ));
        }
        let txn = self.db.conn().begin().await?;
        contacts::set_primary(&txn, &row).await?;
        audit::record(
            &txn,
            Some(&caller.actor.user_id),
            "contact.made_primary",
            "ContactMethod",
            id,
            json!({}),
        )
        .await?;
        txn.commit().await?;
        contacts::find(self.db.conn(), id)
            .await?
            .ok_or(ApiError::NotFound)
    }

    /// Removes one of the caller's contact methods.
    pub async fn remove_contact(&self, caller: &Caller, id: &str) -> ApiResult<()> {
        let row = self.own_contact(caller, id, Action::Delete).await?;
        let txn = self.db.conn().begin().await?;
        contacts::remove(&txn, &row.id).await?;
        audit::record(
            &txn,
            Some(&caller.actor.user_id),
            "contact.removed",
            "ContactMethod",
            id,
            json!({}),
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }

    /// Issues a fresh verification token for `method` on `conn` (the previous one stops
    /// working); returns its plaintext, for the caller to send once the change is committed.
    async fn issue_verification(
        conn: &impl persistence::sea_orm::ConnectionTrait,
        method: &ContactMethod,
    ) -> ApiResult<String> {
        tokens::revoke_purpose(conn, &method.user_id, TokenPurpose::EmailVerification).await?;
        let issued = TokenKind::EmailVerification.issue()?;
        tokens::create(
            conn,
            NewToken {
                user_id: method.user_id.clone(),
                purpose: TokenPurpose::EmailVerification,
                name: None,
                hash: issued.hash,
                prefix: issued.display_prefix,
                scopes: Vec::new(),
                contact_method_id: Some(method.id.clone()),
                expires_at: Some(time::now() + VERIFY_TTL),
            },
        )
        .await?;
        Ok(issued.plaintext)
    }

    /// Marks the contact method a verification token was sent to as verified (the token works once).
    pub async fn verify_contact(
        &self,
        token: &str,
        address: Option<&str>,
    ) -> ApiResult<ContactMethod> {
        let (db, limits) = (&self.db, &self.attempts);
        limits.check("verify", None, address).await?;
        let invalid = || ApiError::bad_input("token", "is invalid, expired or already used");
        if TokenKind::of(token) != Some(TokenKind::EmailVerification) {
            return Err(invalid());
        }
        let txn = db.conn().begin().await?;
        let row = tokens::consume(&txn, &hash_token(token), TokenPurpose::EmailVerification)
            .await?
            .ok_or_else(invalid)?;
        let id = row.contact_method_id.ok_or_else(invalid)?;
        contacts::mark_verified(&txn, &id).await?;
        audit::record(
            &txn,
            Some(&row.user_id),
            "contact.verified",
            "ContactMethod",
            &id,
            json!({}),
        )
        .await?;
        txn.commit().await?;
        contacts::find(db.conn(), &id).await?.ok_or_else(invalid)
    }
}
