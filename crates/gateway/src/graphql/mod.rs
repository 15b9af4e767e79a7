//! The GraphQL schema: one module per area, each with its own `XQuery`/`XMutation`/
//! `XSubscription`, merged here. Resolvers are thin: they check access with the policy from
//! `core-domain` and call stores or use cases.

pub mod admin;
pub mod auth;
pub mod catalogue;
pub mod chat;
pub mod connection;
pub mod context;
pub mod conversations;
pub mod identity;
pub mod limits;
pub mod loaders;
pub mod messages;
pub mod scalars;
pub mod scopes;
pub mod users;

use async_graphql::extensions::apollo_persisted_queries::{
    ApolloPersistedQueries, LruCacheStorage,
};
use async_graphql::{MergedObject, MergedSubscription, Schema};

use crate::config::LimitsConfig;
use context::Services;

#[derive(MergedObject, Default)]
pub struct Query(
    users::UserQuery,
    conversations::ConversationQuery,
    catalogue::CatalogueQuery,
    chat::ChatQuery,
    identity::IdentityQuery,
    admin::AdminQuery,
);

#[derive(MergedObject, Default)]
pub struct Mutation(
    auth::AuthMutation,
    conversations::ConversationMutation,
    messages::MessageMutation,
    chat::ChatMutation,
    identity::IdentityMutation,
    admin::AdminMutation,
);

#[derive(MergedSubscription, Default)]
pub struct Subscription(messages::MessageSubscription, chat::ChatSubscription);

pub type ColloquySchema = Schema<Query, Mutation, Subscription>;

/// Builds the schema with its limits. `services` is `None` only for printing the SDL.
pub fn build(limits: &LimitsConfig, services: Option<Services>) -> ColloquySchema {
    let mut builder = Schema::build(
        Query::default(),
        Mutation::default(),
        Subscription::default(),
    )
    // Depth and complexity are enforced by `limits::QueryLimits`, which leaves introspection out.
    .extension(limits::QueryLimits {
        max_depth: limits.max_depth,
        max_complexity: limits.max_complexity,
        introspection: limits.introspection,
    })
    .limit_recursive_depth(32)
    .limit_directives(50)
    .extension(ApolloPersistedQueries::new(LruCacheStorage::new(1024)))
    .extension(scopes::TokenScopes);
    if let Some(services) = services {
        builder = builder.data(services);
    }
    if !limits.introspection {
        builder = builder.disable_introspection();
    }
    builder.finish()
}

/// The schema as SDL: what `colloquy schema` prints and `schema.graphql` holds.
pub fn sdl() -> String {
    let limits = crate::config::Config::for_tests("sqlite::memory:").limits;
    build(&limits, None).sdl()
}
