//! Administration over GraphQL: the admin PIN, roles, deactivation and deletion. ADMINs only;
//! changing a role and deleting a user also need the PIN.

use async_graphql::{Context, ID, Object};

use crate::administration;
use crate::error::ApiResult;
use crate::graphql::context::ContextExt;
use crate::graphql::scalars::Role;
use crate::graphql::users::User;

#[derive(Default)]
pub struct AdminQuery;

#[Object]
impl AdminQuery {
    /// Whether the admin PIN has been set (admins only).
    async fn admin_pin_set(&self, ctx: &Context<'_>) -> ApiResult<bool> {
        let caller = ctx.request()?.require()?;
        if !caller.actor.is_admin() {
            return Err(crate::error::ApiError::Forbidden("only admins can do this"));
        }
        administration::pin_is_set(&ctx.services()?.db).await
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
        let request = ctx.request()?;
        let services = ctx.services()?;
        administration::set_pin(
            &services.db,
            &services.attempts,
            request.require()?,
            &pin,
            current_pin.as_deref(),
            request.origin.ip_address.as_deref(),
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
        let request = ctx.request()?;
        let services = ctx.services()?;
        let user = administration::set_role(
            &services.db,
            &services.attempts,
            request.require()?,
            &user_id,
            role.into(),
            &pin,
            request.origin.ip_address.as_deref(),
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
        let request = ctx.request()?;
        let user =
            administration::set_active(&ctx.services()?.db, request.require()?, &user_id, active)
                .await?;
        Ok(User(user))
    }

    /// Deletes a user. Needs the admin PIN.
    async fn delete_user(&self, ctx: &Context<'_>, user_id: ID, pin: String) -> ApiResult<ID> {
        let request = ctx.request()?;
        let services = ctx.services()?;
        administration::delete_user(
            &services.db,
            &services.attempts,
            request.require()?,
            &user_id,
            &pin,
            request.origin.ip_address.as_deref(),
        )
        .await?;
        Ok(user_id)
    }
}
