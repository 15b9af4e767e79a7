//! Administration: the admin PIN (OptiMind `SecuritySettings`), roles, deactivation and deletion
//! of accounts. Only ADMINs pass the policy's `Administration` check; destructive actions
//! (changing a role, deleting an account) also need the admin PIN, so a hijacked admin session
//! alone cannot do lasting damage. PIN attempts are limited per admin and per address.

use core_domain::enums::Role;
use core_domain::policy::{Action, Resource, can};
use persistence::users::{self, User};
use persistence::{Db, security, sessions};

use crate::accounts::{Caller, blocking};
use crate::attempts::AttemptLimits;
use crate::error::{ApiError, ApiResult};

fn require_admin(caller: &Caller, action: Action) -> ApiResult<()> {
    if can(Some(&caller.actor), action, &Resource::Administration) {
        Ok(())
    } else {
        Err(ApiError::Forbidden("only admins can do this"))
    }
}

/// Whether an admin PIN has been set.
pub async fn pin_is_set(db: &Db) -> ApiResult<bool> {
    Ok(security::pin_hash(db.conn()).await?.is_some())
}

/// Sets the admin PIN, or changes it (then `current` must be the PIN in force).
pub async fn set_pin(
    db: &Db,
    limits: &AttemptLimits,
    caller: &Caller,
    new: &str,
    current: Option<&str>,
    address: Option<&str>,
) -> ApiResult<()> {
    require_admin(caller, Action::Update)?;
    if !auth::password::is_valid_pin(new) {
        return Err(ApiError::bad_input("pin", "must be 4 to 12 digits"));
    }
    if security::pin_hash(db.conn()).await?.is_some() {
        let current = current
            .ok_or_else(|| ApiError::bad_input("currentPin", "is required to change the PIN"))?;
        check_pin(db, limits, caller, current, address).await?;
    }
    let new = new.to_owned();
    let hash = blocking(move || auth::password::hash_pin(&new)).await??;
    security::set_pin_hash(db.conn(), hash).await?;
    Ok(())
}

/// FORBIDDEN unless `pin` is the admin PIN (and one is set).
async fn check_pin(
    db: &Db,
    limits: &AttemptLimits,
    caller: &Caller,
    pin: &str,
    address: Option<&str>,
) -> ApiResult<()> {
    limits.check("pin", Some(&caller.actor.user_id), address)?;
    let Some(stored) = security::pin_hash(db.conn()).await? else {
        return Err(ApiError::Forbidden(
            "set an admin PIN (setAdminPin) before destructive admin actions",
        ));
    };
    let pin = pin.to_owned();
    let ok = blocking(move || auth::password::verify_pin(&pin, &stored))
        .await?
        .unwrap_or(false);
    if ok {
        Ok(())
    } else {
        Err(ApiError::Forbidden("the admin PIN is not correct"))
    }
}

async fn target(db: &Db, caller: &Caller, user_id: &str) -> ApiResult<User> {
    if caller.actor.user_id == user_id {
        return Err(ApiError::bad_input(
            "userId",
            "admins cannot change, deactivate or delete their own account here",
        ));
    }
    users::find(db.conn(), user_id)
        .await?
        .ok_or(ApiError::NotFound)
}

/// Changes a user's role (needs the PIN).
#[allow(clippy::too_many_arguments)]
pub async fn set_role(
    db: &Db,
    limits: &AttemptLimits,
    caller: &Caller,
    user_id: &str,
    role: Role,
    pin: &str,
    address: Option<&str>,
) -> ApiResult<User> {
    require_admin(caller, Action::Update)?;
    check_pin(db, limits, caller, pin, address).await?;
    let user = target(db, caller, user_id).await?;
    users::set_role(db.conn(), &user.id, role).await?;
    users::find(db.conn(), &user.id)
        .await?
        .ok_or(ApiError::NotFound)
}

/// Activates or deactivates a user; deactivation ends every session at once (API tokens stop
/// working too, since they only authenticate active users).
pub async fn set_active(db: &Db, caller: &Caller, user_id: &str, active: bool) -> ApiResult<User> {
    require_admin(caller, Action::Update)?;
    let user = target(db, caller, user_id).await?;
    users::set_active(db.conn(), &user.id, active).await?;
    if !active {
        sessions::revoke_all(db.conn(), &user.id, None).await?;
    }
    users::find(db.conn(), &user.id)
        .await?
        .ok_or(ApiError::NotFound)
}

/// Deletes a user (soft: invisible everywhere, sessions ended). Needs the PIN.
pub async fn delete_user(
    db: &Db,
    limits: &AttemptLimits,
    caller: &Caller,
    user_id: &str,
    pin: &str,
    address: Option<&str>,
) -> ApiResult<()> {
    require_admin(caller, Action::Delete)?;
    check_pin(db, limits, caller, pin, address).await?;
    let user = target(db, caller, user_id).await?;
    users::soft_delete(db.conn(), &user.id).await?;
    sessions::revoke_all(db.conn(), &user.id, None).await?;
    Ok(())
}
