//! Administration: the admin PIN (OptiMind `SecuritySettings`), roles, deactivation and deletion
//! of accounts. Only ADMINs pass the policy's `Administration` check; destructive actions
//! (changing a role, deleting an account) also need the admin PIN, so a hijacked admin session
//! alone cannot do lasting damage. PIN attempts are limited per admin and per address.

use persistence::sea_orm::TransactionTrait as _;
use serde_json::json;

use crate::platform::audit;
use core_domain::enums::Role;
use core_domain::policy::Action;
use persistence::users::{self, User};
use persistence::{security, sessions};

use super::service::{AccountService, Caller, blocking};
use crate::error::{ApiError, ApiResult};
use crate::platform::events::AuthEvent;

impl AccountService {
    /// Whether an admin PIN has been set (admins only).
    pub async fn admin_pin_set(&self, caller: &Caller) -> ApiResult<bool> {
        Self::require_admin(caller, Action::Read)?;
        Ok(security::pin_hash(self.db.conn()).await?.is_some())
    }

    /// Sets the admin PIN, or changes it (then `current` must be the PIN in force).
    pub async fn set_pin(
        &self,
        caller: &Caller,
        new: &str,
        current: Option<&str>,
        address: Option<&str>,
    ) -> ApiResult<()> {
        Self::require_admin(caller, Action::Update)?;
        let db = &self.db;
        if !auth::password::is_valid_pin(new) {
            return Err(ApiError::bad_input("pin", "must be 4 to 12 digits"));
        }
        if security::pin_hash(db.conn()).await?.is_some() {
            let current = current.ok_or_else(|| {
                ApiError::bad_input("currentPin", "is required to change the PIN")
            })?;
            self.check_pin(caller, current, address).await?;
        }
        let new = new.to_owned();
        let hash = blocking(move || auth::password::hash_pin(&new)).await??;
        let txn = db.conn().begin().await?;
        security::set_pin_hash(&txn, hash).await?;
        audit::record(
            &txn,
            Some(&caller.actor.user_id),
            "admin.pin_set",
            "User",
            &caller.actor.user_id,
            json!({}),
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }

    /// FORBIDDEN unless `pin` is the admin PIN (and one is set).
    async fn check_pin(&self, caller: &Caller, pin: &str, address: Option<&str>) -> ApiResult<()> {
        let db = &self.db;
        self.attempts
            .check("pin", Some(&caller.actor.user_id), address)
            .await?;
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

    async fn target(&self, caller: &Caller, user_id: &str) -> ApiResult<User> {
        let db = &self.db;
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
    pub async fn set_role(
        &self,
        caller: &Caller,
        user_id: &str,
        role: Role,
        pin: &str,
        address: Option<&str>,
    ) -> ApiResult<User> {
        Self::require_admin(caller, Action::Update)?;
        self.check_pin(caller, pin, address).await?;
        let user = self.target(caller, user_id).await?;
        let db = &self.db;
        let txn = db.conn().begin().await?;
        users::set_role(&txn, &user.id, role).await?;
        audit::record(
            &txn,
            Some(&caller.actor.user_id),
            "admin.role_set",
            "User",
            &user.id,
            json!({ "from": user.role.as_str(), "to": role.as_str() }),
        )
        .await?;
        txn.commit().await?;

        // Open sockets hold the old role: they are closed, to reconnect with the new one.
        self.events.publish_auth(AuthEvent::UserChanged {
            user_id: user.id.clone(),
        });
        users::find(db.conn(), &user.id)
            .await?
            .ok_or(ApiError::NotFound)
    }

    /// Activates or deactivates a user; deactivation ends every session at once (API tokens stop
    /// working too, since they only authenticate active users).
    pub async fn set_active(
        &self,
        caller: &Caller,
        user_id: &str,
        active: bool,
    ) -> ApiResult<User> {
        Self::require_admin(caller, Action::Update)?;
        let user = self.target(caller, user_id).await?;
        let db = &self.db;
        let txn = db.conn().begin().await?;
        users::set_active(&txn, &user.id, active).await?;
        if !active {
            sessions::revoke_all(&txn, &user.id, None).await?;
        }
        audit::record(
            &txn,
            Some(&caller.actor.user_id),
            "admin.active_set",
            "User",
            &user.id,
            json!({ "active": active }),
        )
        .await?;
        txn.commit().await?;
        if !active {
            self.events.publish_auth(AuthEvent::UserChanged {
                user_id: user.id.clone(),
            });
        }
        users::find(db.conn(), &user.id)
            .await?
            .ok_or(ApiError::NotFound)
    }

    /// Deletes a user (soft: invisible everywhere, sessions ended). Needs the PIN.
    pub async fn delete_user(
        &self,
        caller: &Caller,
        user_id: &str,
        pin: &str,
        address: Option<&str>,
    ) -> ApiResult<()> {
        Self::require_admin(caller, Action::Delete)?;
        self.check_pin(caller, pin, address).await?;
        let user = self.target(caller, user_id).await?;
        let db = &self.db;
        let txn = db.conn().begin().await?;
        users::soft_delete(&txn, &user.id).await?;
        sessions::revoke_all(&txn, &user.id, None).await?;
        audit::record(
            &txn,
            Some(&caller.actor.user_id),
            "admin.user_deleted",
            "User",
            &user.id,
            json!({}),
        )
        .await?;
        txn.commit().await?;

        self.events.publish_auth(AuthEvent::UserChanged {
            user_id: user.id.clone(),
        });
        Ok(())
    }
}
