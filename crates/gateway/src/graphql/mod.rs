//! The GraphQL schema: each area (`accounts`, `conversations`, `chat`, `catalogue`, `journals`,
//! `research`) defines its own `XQuery`/`XMutation`/`XSubscription` in its `graphql.rs`; this
//! module only merges them and builds the schema with its limits. The other modules here are the
//! machinery every area's
//! resolvers share: the request context, global ids, connections, the generic page loader, planned
//! reads, the `Node` interface, scalars, the token-scope check, and the response's shape by the
//! spec.

pub mod connection;
pub mod context;
pub mod fast;
pub mod guard;
pub mod ids;
pub mod limits;
pub mod node;
pub mod pages;
pub mod plan;
pub mod response;
pub mod scalars;

use async_graphql::extensions::apollo_persisted_queries::{
    ApolloPersistedQueries, LruCacheStorage,
};
use async_graphql::{MergedObject, MergedSubscription, SDLExportOptions, Schema};
use chrono::{DateTime, Utc};

use crate::platform::config::LimitsConfig;
use crate::{accounts, analytics, catalogue, chat, conversations, journals, practice, research};
use crate::{audit, marketplace, notifications, safety};
use crate::{billing, education, finance, posts, profiles, uploads, workspace};
use context::Services;

#[derive(MergedObject, Default)]
pub struct Query(
    accounts::graphql::UserQuery,
    conversations::graphql::ConversationQuery,
    catalogue::graphql::CatalogueQuery,
    chat::graphql::ChatQuery,
    practice::graphql::PracticeQuery,
    accounts::graphql::IdentityQuery,
    accounts::graphql::AdminQuery,
    research::graphql::ResearchQuery,
    journals::graphql::JournalQuery,
    finance::graphql::FinanceQuery,
    education::graphql::EducationQuery,
    notifications::graphql::NotificationQuery,
    marketplace::graphql::MarketplaceQuery,
    safety::graphql::SafetyQuery,
    audit::graphql::AuditQuery,
    node::NodeQuery,
    analytics::graphql::AnalyticsQuery,
    uploads::graphql::UploadQuery,
    posts::graphql::PostQuery,
    billing::graphql::BillingQuery,
    workspace::graphql::WorkspaceQuery,
);

#[derive(MergedObject, Default)]
pub struct Mutation(
    accounts::graphql::AuthMutation,
    conversations::graphql::ConversationMutation,
    conversations::graphql::MessageMutation,
    chat::graphql::ChatMutation,
    practice::graphql::PracticeMutation,
    accounts::graphql::IdentityMutation,
    accounts::graphql::AdminMutation,
    research::graphql::ResearchMutation,
    accounts::graphql::DisclaimerMutation,
    catalogue::graphql::CatalogueMutation,
    journals::graphql::JournalMutation,
    uploads::graphql::UploadMutation,
    posts::graphql::PostMutation,
    billing::graphql::BillingMutation,
    workspace::graphql::WorkspaceMutation,
    finance::graphql::FinanceMutation,
    education::graphql::EducationMutation,
    profiles::graphql::ProfileMutation,
    notifications::graphql::NotificationMutation,
    marketplace::graphql::MarketplaceMutation,
    safety::graphql::SafetyMutation,
    audit::graphql::AuditMutation,
);

#[derive(MergedSubscription, Default)]
pub struct Subscription(
    conversations::graphql::MessageSubscription,
    chat::graphql::ChatSubscription,
    workspace::graphql::WorkspaceSubscription,
    uploads::graphql::UploadSubscription,
    notifications::graphql::NotificationSubscription,
    finance::graphql::FinanceSubscription,
);

pub type ColloquySchema = Schema<Query, Mutation, Subscription>;

/// Builds the schema with its limits. `services` is `None` only for printing the SDL.
pub fn build(limits: &LimitsConfig, services: Option<Services>) -> ColloquySchema {
    let mut builder = Schema::build(
        Query::default(),
        Mutation::default(),
        Subscription::default(),
    )
    // First, so it completes the response every other extension has seen: errored fields null,
    // nulls propagated, keys in selection order (async-graphql 7 does none of the three).
    .extension(response::SpecResponse)
    // Depth and complexity are enforced by `limits::QueryLimits`, which leaves introspection out.
    .extension(limits::QueryLimits {
        max_depth: limits.max_depth,
        max_complexity: limits.max_complexity,
        introspection: limits.introspection,
    })
    .limit_recursive_depth(32)
    .limit_directives(50)
    .extension(ApolloPersistedQueries::new(LruCacheStorage::new(1024)))
    .extension(guard::OperationGuard)
    .override_output_type_description::<DateTime<Utc>>(scalars::DATE_TIME_DESCRIPTION);
    if let Some(services) = services {
        // Resolver spans only when traces are exported: no cost otherwise.
        if services.config.ops.otel_endpoint.is_some() {
            builder = builder.extension(async_graphql::extensions::Tracing);
        }
        builder = builder.data(services);
    }
    if !limits.introspection {
        builder = builder.disable_introspection();
    }
    builder.finish()
}

/// The same schema with no extension, for the reads that qualify for [`fast::FastPath`]: the
/// operation guard, the limits and the variable defaults are applied by the fast path before it
/// runs, complexity by async-graphql's own limit (the same total the limits extension checks when
/// no introspection is selected, which never takes this path).
pub fn build_fast(limits: &LimitsConfig, services: Services) -> fast::FastPath {
    let mut builder = Schema::build(
        Query::default(),
        Mutation::default(),
        Subscription::default(),
    )
    .limit_complexity(limits.max_complexity)
    .limit_recursive_depth(32)
    .limit_directives(50)
    .override_output_type_description::<DateTime<Utc>>(scalars::DATE_TIME_DESCRIPTION);
    // Reads answered here get their resolver spans too when traces are exported.
    if services.config.ops.otel_endpoint.is_some() {
        builder = builder.extension(async_graphql::extensions::Tracing);
    }
    let mut builder = builder.data(services);
    if !limits.introspection {
        builder = builder.disable_introspection();
    }
    fast::FastPath::new(builder.finish(), limits.max_depth)
}

/// The schema as SDL: what `colloquy schema` prints and `schema.graphql` holds, with each
/// scalar's `@specifiedBy`.
pub fn sdl() -> String {
    let limits = crate::platform::config::Config::for_tests("sqlite::memory:").limits;
    build(&limits, None).sdl_with_options(SDLExportOptions::new().include_specified_by())
}
