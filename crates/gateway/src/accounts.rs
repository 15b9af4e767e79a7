//! Use cases for password accounts and sessions: register, log in, log out, and turning a bearer
//! token into the caller. Passwords are hashed with argon2id off the async runtime (hashing takes
//! tens of milliseconds of CPU on purpose); session tokens are 256-bit random values of which only
//! a SHA-256 hash is stored.

use std::time::Duration;

use auth::tokens::{TokenKind, hash_token};
use chrono::{DateTime, Utc};
use core_domain::enums::Role;
use core_domain::{Actor, time, validation};
use persistence::sessions::{self, Origin};
use persistence::users::{self, NewUser, User};
use persistence::{Db, StoreError};

use crate::error::{ApiError, ApiResult};

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
    pub session_id: String,
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(ApiError::internal)
}

/// Creates a USER account with a password and signs it in.
pub async fn register(
    db: &Db,
    email: &str,
    password: &str,
    name: Option<&str>,
    ttl: Duration,
    origin: Origin,
) -> ApiResult<SignedIn> {
    let email = validation::normalize_email(email)?;
    let name = validation::normalize_name(name)?;
    validation::check_password(password, Some(&email))?;
    let password = password.to_owned();
    let hash = blocking(move || auth::password::hash_password(&password)).await??;
    let user = users::create(
        db.conn(),
        NewUser {
            email: Some(email),
            name,
            password_hash: Some(hash),
            role: Role::User,
        },
    )
    .await
    .map_err(|e| match e {
        StoreError::Conflict(_) => {
            ApiError::Conflict("an account with this email already exists".into())
        }
        other => other.into(),
    })?;
    start_session(db, user, ttl, origin).await
}

/// Checks an email and password. A wrong email and a wrong password answer the same
/// UNAUTHENTICATED and take the same time, so neither can be probed.
pub async fn login(
    db: &Db,
    email: &str,
    password: &str,
    ttl: Duration,
    origin: Origin,
) -> ApiResult<SignedIn> {
    let user = match validation::normalize_email(email) {
        Ok(email) => users::find_by_email(db.conn(), &email).await?,
        Err(_) => None,
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
            start_session(db, user, ttl, origin).await
        }
        _ => Err(ApiError::Unauthenticated),
    }
}

async fn start_session(db: &Db, user: User, ttl: Duration, origin: Origin) -> ApiResult<SignedIn> {
    let issued = TokenKind::Session.issue()?;
    let ttl = chrono::Duration::from_std(ttl).map_err(ApiError::internal)?;
    let expires_at = time::now() + ttl;
    sessions::create(db.conn(), &user.id, issued.hash, expires_at, origin).await?;
    Ok(SignedIn {
        user,
        token: issued.plaintext,
        expires_at,
    })
}

/// Resolves `Authorization: Bearer <token>`. `Ok(None)` means the token is unknown, expired or
/// revoked, or its user is inactive.
pub async fn authenticate(db: &Db, token: &str) -> Result<Option<Caller>, StoreError> {
    if TokenKind::of(token) != Some(TokenKind::Session) {
        return Ok(None);
    }
    let Some((session, user)) = sessions::authenticate(db.conn(), &hash_token(token)).await? else {
        return Ok(None);
    };
    let role = users::role_of(&user)?;
    Ok(Some(Caller {
        actor: Actor::new(user.id, role),
        session_id: session.id,
    }))
}

/// Ends the caller's current session.
pub async fn logout(db: &Db, caller: &Caller) -> ApiResult<()> {
    sessions::revoke(db.conn(), &caller.session_id).await?;
    Ok(())
}
