//! What a resolver can reach: the shared [`Services`] (schema data, one per server) and the
//! per-request [`RequestContext`] and [`Loaders`] (request data: a loader caches rows, so it
//! must never outlive the request whose caller may read them).

use std::sync::Arc;

use async_graphql::Context;
use core_domain::Actor;
use persistence::Db;
use persistence::sessions::Origin;

use crate::accounts::Caller;
use crate::attempts::AttemptLimits;
use crate::chat::ChatService;
use crate::config::Config;
use crate::error::{ApiError, ApiResult};
use crate::events::EventBus;
use crate::graphql::loaders::Loaders;
use crate::identity::OAuthProviders;
use crate::outbox::Outbox;
use crate::rate_limit::RateLimiter;

/// Shared by every request.
#[derive(Clone)]
pub struct Services {
    pub db: Db,
    pub events: EventBus,
    pub config: Arc<Config>,
    pub limiter: Arc<RateLimiter>,
    /// Chat: providers, replies being generated, reply streams.
    pub chat: Arc<ChatService>,
    /// Sign-in and one-time-token attempts, per account and per address.
    pub attempts: Arc<AttemptLimits>,
    pub oauth: Arc<OAuthProviders>,
    pub outbox: Arc<Outbox>,
}

/// Facts about the request being served.
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    pub caller: Option<Caller>,
    pub origin: Origin,
}

impl RequestContext {
    pub fn actor(&self) -> Option<&Actor> {
        self.caller.as_ref().map(|c| &c.actor)
    }

    /// The caller, or UNAUTHENTICATED.
    pub fn require(&self) -> ApiResult<&Caller> {
        self.caller.as_ref().ok_or(ApiError::Unauthenticated)
    }
}

/// Accessors that turn missing context into an INTERNAL error instead of a panic.
pub trait ContextExt {
    fn services(&self) -> ApiResult<&Services>;
    fn request(&self) -> ApiResult<&RequestContext>;
    fn loaders(&self) -> ApiResult<&Loaders>;
}

impl ContextExt for Context<'_> {
    fn services(&self) -> ApiResult<&Services> {
        self.data::<Services>()
            .map_err(|_| ApiError::internal(anyhow::anyhow!("services missing from schema data")))
    }

    fn request(&self) -> ApiResult<&RequestContext> {
        self.data::<RequestContext>()
            .map_err(|_| ApiError::internal(anyhow::anyhow!("request context missing")))
    }

    fn loaders(&self) -> ApiResult<&Loaders> {
        self.data::<Loaders>()
            .map_err(|_| ApiError::internal(anyhow::anyhow!("loaders missing from request data")))
    }
}
