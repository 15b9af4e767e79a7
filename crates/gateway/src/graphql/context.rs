//! What a resolver can reach: the shared [`Services`] (schema data, one per server) and the
//! per-request [`RequestContext`] and [`Loaders`] (request data: a loader caches rows, so it
//! must never outlive the request whose caller may read them).

use std::sync::Arc;

use async_graphql::Context;
use async_graphql::dataloader::{DataLoader, Loader};
use core_domain::Actor;
use persistence::Db;
pub use persistence::sessions::Origin;

use crate::accounts::loaders::UserRows;
use crate::accounts::{AccountService, Caller};
use crate::analytics::AnalyticsService;
use crate::analytics::loaders::UsageTotalsRows;
use crate::audit::AuditService;
use crate::catalogue::CatalogueService;
use crate::catalogue::loaders::CatalogueRows;
use crate::chat::ChatService;
use crate::conversations::ConversationService;
use crate::conversations::loaders::ConversationLoaders;
use crate::education::EducationService;
use crate::education::loaders::EducationLoaders;
use crate::error::{ApiError, ApiResult};
use crate::finance::FinanceService;
use crate::finance::loaders::FinanceLoaders;
use crate::journals::JournalService;
use crate::marketplace::MarketplaceService;
use crate::marketplace::loaders::MarketplaceLoaders;
use crate::notifications::NotificationService;
use crate::platform::config::Config;
use crate::platform::rate_limit::RateLimiter;
use crate::practice::PracticeService;
use crate::practice::loaders::PracticeLoaders;
use crate::profiles::ProfileService;
use crate::profiles::loaders::ProfileRows;
use crate::research::ResearchService;
use crate::research::loaders::ResearchLoaders;
use crate::safety::SafetyService;
use crate::workspace::WorkspaceService;
use crate::workspace::loaders::WorkspaceLoaders;

/// Shared by every request: the areas' services and what the transport needs.
#[derive(Clone)]
pub struct Services {
    pub db: Db,
    pub config: Arc<Config>,
    /// GraphQL requests per caller per minute.
    pub limiter: Arc<RateLimiter>,
    pub accounts: Arc<AccountService>,
    pub conversations: Arc<ConversationService>,
    pub catalogue: Arc<CatalogueService>,
    /// Chat: providers, replies being generated, reply streams.
    pub chat: Arc<ChatService>,
    /// Research sessions, observation notes, telemetry.
    pub research: Arc<ResearchService>,
    /// Numira's journals.
    pub journals: Arc<JournalService>,
    /// The practice coach: scenarios, presets, invitations, sessions.
    pub practice: Arc<PracticeService>,
    /// Internal analytics, usage summaries, the server's status.
    pub analytics: Arc<AnalyticsService>,
    /// Uploaded files and their signed download links.
    pub uploads: Arc<crate::uploads::UploadService>,
    /// Posts: drafts, publishing, featuring.
    pub posts: Arc<crate::posts::PostService>,
    /// Plans, subscriptions and their usage.
    pub billing: Arc<crate::billing::BillingService>,
    pub workspace: Arc<WorkspaceService>,
    /// Azora's wallets, ledger, payments and mining rewards.
    pub finance: Arc<FinanceService>,
    /// Azora's courses, enrolments and assessments.
    pub education: Arc<EducationService>,
    /// Users' profiles.
    pub profiles: Arc<ProfileService>,
    /// Azora's notifications (lists, marks, the live subscription, staff notices).
    pub notifications: Arc<NotificationService>,
    /// Azora's job marketplace.
    pub marketplace: Arc<MarketplaceService>,
    /// Safety incidents and their triage.
    pub safety: Arc<SafetyService>,
    /// The audit log and deleted records, for admins.
    pub audit: Arc<AuditService>,
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

    /// The caller's address, for per-address attempt limits.
    pub fn address(&self) -> Option<&str> {
        self.origin.ip_address.as_deref()
    }
}

/// How long a loader waits for more keys before it loads. async-graphql resolves the items of a
/// list concurrently, but registering hundreds of them can take longer than the library's 1 ms
/// default on a busy machine, which splits one level into several statements; 5 ms keeps a level
/// in one batch at the cost of a few milliseconds per nested level.
const BATCH_WINDOW: std::time::Duration = std::time::Duration::from_millis(5);

/// Enough keys for the largest nested page (100 parents × 100 children), so the page cap, not the
/// batch size, bounds a level; both SQLite and PostgreSQL take that many bound parameters.
const MAX_BATCH: usize = 10_000;

/// A request's loader over `inner`, with the gateway's batching settings.
pub fn batching<L: Send + Sync + 'static>(inner: L) -> DataLoader<L> {
    DataLoader::new(inner, tokio::spawn)
        .delay(BATCH_WINDOW)
        .max_batch_size(MAX_BATCH)
}

/// The loaders of one request, one field per area that has any.
pub struct Loaders {
    pub users: DataLoader<UserRows>,
    pub conversations: ConversationLoaders,
    pub catalogue: DataLoader<CatalogueRows>,
    pub research: ResearchLoaders,
    pub practice: PracticeLoaders,
    pub usage_totals: DataLoader<UsageTotalsRows>,
    pub workspace: WorkspaceLoaders,
    pub finance: FinanceLoaders,
    pub education: EducationLoaders,
    pub profiles: DataLoader<ProfileRows>,
    pub marketplace: MarketplaceLoaders,
}

impl Loaders {
    pub fn new(db: &Db) -> Self {
        Self {
            users: batching(UserRows(db.clone())),
            conversations: ConversationLoaders::new(db),
            catalogue: batching(CatalogueRows(db.clone())),
            research: ResearchLoaders::new(db),
            practice: PracticeLoaders::new(db),
            usage_totals: batching(UsageTotalsRows(db.clone())),
            workspace: WorkspaceLoaders::new(db),
            finance: FinanceLoaders::new(db),
            education: EducationLoaders::new(db),
            profiles: batching(ProfileRows(db.clone())),
            marketplace: crate::marketplace::loaders::loaders(db),
        }
    }
}

/// Loads one key, turning a shared store error into the API's.
pub async fn load_one<L, K>(loader: &DataLoader<L>, key: K) -> ApiResult<Option<L::Value>>
where
    L: Loader<K, Error = Arc<persistence::StoreError>>,
    K: Send + Sync + std::hash::Hash + Eq + Clone + 'static,
{
    loader.load_one(key).await.map_err(ApiError::from)
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
