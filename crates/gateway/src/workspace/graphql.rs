//! The workspace over GraphQL: projects (`createProject`, `updateProject`, `deleteProject`,
//! `projects`, `project`), analyses (`createAnalysis`, `analyses`, `analysis`,
//! `analysisUpdated`), the five business solutions (`analyzeContract`, `analyzeLocalization`,
//! `predictCustomerBehavior`, `monitorCompliance`, `generateLearningPath`, their lists and
//! look-ups), and `rerunAiRun` / `cancelAiRun` / `aiRunUpdated` for a run of any kind.
//! Everything is the caller's own; a project's runs resolve through per-parent loaders.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::connection::{Connection, EmptyFields};
use async_graphql::dataloader::DataLoader;
use async_graphql::resolver_utils::EnumType;
use async_graphql::{
    Context, Enum, ID, InputObject, Lookahead, Object, SimpleObject, Subscription, Union,
};
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};
use serde_json::Value;

use super::kinds::RunKind;
use super::loaders::ProjectId;
use super::service::{
    self, ProjectChanges, ProjectDraft, ProjectFilter, ProjectOrder, RunDraft, RunFilter, RunRow,
    WorkspaceService,
};
use crate::conversations::graphql::connection_selection;
use crate::error::{ApiError, ApiResult};
use crate::graphql::connection::{connection, cursor, page_args};
use crate::graphql::context::{ContextExt, load_one};
use crate::graphql::ids::{self, Kind};
use crate::graphql::pages::{ChildList, Columns, CountKey, PageKey, PageQuery, Pages, count, page};
use crate::graphql::scalars::Json;
use crate::uploads::UploadService;
use crate::uploads::graphql::{FileUpload, FileUploadConnection, UploadTotal};

fn workspace<'a>(ctx: &'a Context<'_>) -> ApiResult<&'a Arc<WorkspaceService>> {
    Ok(&ctx.services()?.workspace)
}

/// The GraphQL value of a stored enum spelling.
fn from_stored<T: EnumType + Copy + 'static>(stored: &str) -> ApiResult<T> {
    T::items()
        .iter()
        .find(|i| i.name == stored)
        .map(|i| i.value)
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("unknown stored value {stored:?}")))
}

/// The stored spelling of a GraphQL enum value (the same words).
fn stored<T: EnumType + Copy + PartialEq + 'static>(value: T) -> String {
    T::items()
        .iter()
        .find(|i| i.value == value)
        .map(|i| i.name.to_owned())
        .unwrap_or_default()
}

/// Where a project stands.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum ProjectStatus {
    /// Being worked on.
    Active,
    /// Done (can be reopened or archived).
    Completed,
    /// Kept for reference (can be restored to active).
    Archived,
    /// Paused (can be resumed or archived).
    Suspended,
}

impl From<ProjectStatus> for core_domain::workspace::ProjectStatus {
    fn from(s: ProjectStatus) -> Self {
        use core_domain::workspace::ProjectStatus as P;
        match s {
            ProjectStatus::Active => P::Active,
            ProjectStatus::Completed => P::Completed,
            ProjectStatus::Archived => P::Archived,
            ProjectStatus::Suspended => P::Suspended,
        }
    }
}

/// Where an AI run (an analysis or a business solution's run) stands. Every kind uses PENDING,
/// PROCESSING, COMPLETED, FAILED and CANCELLED; analyses, contracts, localizations and compliance
/// reviews also REVIEW_REQUIRED (low confidence: a person should check it), customer behavior
/// INSUFFICIENT_DATA, compliance reviews URGENT_ATTENTION (high risk).
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum AiRunStatus {
    Pending,
    Processing,
    Completed,
    Failed,
    ReviewRequired,
    InsufficientData,
    UrgentAttention,
    InProgress,
    OnHold,
    Cancelled,
}

/// What a generic analysis looks at.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum AnalysisType {
    TextAnalysis,
    ImageAnalysis,
    CodeAnalysis,
    DataAnalysis,
    SentimentAnalysis,
    ContentOptimization,
    SeoAnalysis,
    MultimodalAnalysis,
}

/// The kind of contract ContractWise reviews.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum ContractType {
    Employment,
    ServiceAgreement,
    Nda,
    Partnership,
    SalesContract,
    LeaseAgreement,
    LicenseAgreement,
    Franchise,
    MergerAcquisition,
    Other,
}

/// The orders of a project list.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug, Default)]
pub enum ProjectOrderBy {
    /// Newest first (the default).
    #[default]
    CreatedAtDesc,
    CreatedAtAsc,
    /// Most recently changed first.
    UpdatedAtDesc,
}

impl From<ProjectOrderBy> for ProjectOrder {
    fn from(o: ProjectOrderBy) -> Self {
        match o {
            ProjectOrderBy::CreatedAtDesc => ProjectOrder::CreatedNewest,
            ProjectOrderBy::CreatedAtAsc => ProjectOrder::CreatedOldest,
            ProjectOrderBy::UpdatedAtDesc => ProjectOrder::UpdatedNewest,
        }
    }
}

fn json_field(v: &Option<Value>) -> Option<Json> {
    v.clone().map(Json)
}

fn meta_str(metadata: &Option<Value>, key: &str) -> Option<String> {
    metadata
        .as_ref()
        .and_then(|m| m.get(key))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// A run's project, if it is filed under one of the caller's live projects.
async fn project_link(ctx: &Context<'_>, id: Option<&str>) -> ApiResult<Option<Project>> {
    let Some(id) = id else {
        return Ok(None);
    };
    let Some(caller) = ctx.request()?.caller.as_ref() else {
        return Ok(None);
    };
    let row = load_one(&ctx.loaders()?.workspace.projects, ProjectId(id.to_owned())).await?;
    Ok(row
        .filter(|p| p.user_id == caller.actor.user_id && p.deleted_at.is_none())
        .map(Project))
}

/// The fields every run type shares, then its own.
macro_rules! run_object {
    ($ty:ident, $row:ty, $kind:expr, $doc:literal, { $($own:tt)* }) => {
        #[doc = $doc]
        #[derive(Clone)]
        pub struct $ty(pub Arc<$row>);

        impl From<$row> for $ty {
            fn from(r: $row) -> Self {
                $ty(Arc::new(r))
            }
        }

        impl From<Arc<$row>> for $ty {
            fn from(r: Arc<$row>) -> Self {
                $ty(r)
            }
        }

        #[Object]
        impl $ty {
            pub async fn id(&self) -> ID {
                ids::encode($kind, &self.0.id)
            }
            /// Where the run stands; poll it, or follow `aiRunUpdated`.
            async fn status(&self) -> ApiResult<AiRunStatus> {
                from_stored(&self.0.status)
            }
            async fn project_id(&self) -> Option<ID> {
                self.0.project_id.as_deref().map(|p| ids::encode(Kind::Project, p))
            }
            /// The project the run is filed under; null when none (or it was deleted).
            async fn project(&self, ctx: &Context<'_>) -> ApiResult<Option<Project>> {
                project_link(ctx, self.0.project_id.as_deref()).await
            }
            /// How sure the AI was, 0 to 1; null until it answered.
            async fn confidence(&self) -> Option<f64> {
                self.0.confidence
            }
            /// How long the AI work took, in milliseconds.
            async fn processing_time(&self) -> Option<i32> {
                self.0.processing_time
            }
            /// Why the run failed (or found too little data); null otherwise.
            async fn error(&self) -> Option<String> {
                meta_str(&self.0.metadata, "error")
            }
            async fn created_at(&self) -> DateTime<Utc> {
                self.0.created_at
            }
            async fn updated_at(&self) -> DateTime<Utc> {
                self.0.updated_at
            }
            $($own)*
        }
    };
}

run_object!(
    Analysis,
    service::Analysis,
    Kind::Analysis,
    "A generic AI analysis of text, an image, code, data or mixed content.",
    {
        #[graphql(name = "type")]
        async fn analysis_type(&self) -> ApiResult<AnalysisType> {
            from_stored(&self.0.r#type)
        }
        /// What was analysed.
        async fn input(&self) -> &str {
            &self.0.input
        }
        /// The structured result (valid against the type's JSON Schema); null until completed.
        async fn result(&self) -> Option<Json> {
            json_field(&self.0.result)
        }
        /// The AI model used.
        async fn model(&self) -> Option<&str> {
            self.0.model.as_deref()
        }
    }
);

run_object!(
    ContractAnalysis,
    service::ContractAnalysis,
    Kind::ContractAnalysis,
    "A ContractWise review of a contract: risk, clauses, plain language, compliance, recommendations.",
    {
        async fn contract_title(&self) -> &str {
            &self.0.contract_title
        }
        async fn contract_type(&self) -> ApiResult<ContractType> {
            from_stored(&self.0.contract_type)
        }
        /// The contract's text as reviewed (from the input, or extracted from an upload).
        async fn extracted_text(&self) -> Option<&str> {
            self.0.extracted_text.as_deref()
        }
        /// `overallRisk` (0 to 1), `level`, `summary` and the `risks` found.
        async fn risk_assessment(&self) -> Option<Json> {
            json_field(&self.0.risk_assessment)
        }
        /// The risk assessment's `overallRisk`, 0 (none) to 1 (severe).
        async fn overall_risk(&self) -> Option<f64> {
            self.0
                .risk_assessment
                .as_ref()
                .and_then(|r| r["overallRisk"].as_f64())
        }
        async fn clauses(&self) -> Option<Json> {
            json_field(&self.0.clauses)
        }
        async fn plain_language(&self) -> Option<Json> {
            json_field(&self.0.plain_language)
        }
        async fn compliance_check(&self) -> Option<Json> {
            json_field(&self.0.compliance_check)
        }
        async fn recommendations(&self) -> Option<Json> {
            json_field(&self.0.recommendations)
        }
        async fn model(&self) -> Option<String> {
            meta_str(&self.0.metadata, "model")
        }
    }
);

run_object!(
    LocalizationAnalysis,
    service::LocalizationAnalysis,
    Kind::LocalizationAnalysis,
    "A GlobalFit analysis of how to adapt a product for a market.",
    {
        async fn product_name(&self) -> &str {
            &self.0.product_name
        }
        async fn target_market(&self) -> &str {
            &self.0.target_market
        }
        async fn product_desc(&self) -> Option<&str> {
            self.0.product_desc.as_deref()
        }
        async fn product_images(&self) -> Option<Json> {
            json_field(&self.0.product_images)
        }
        async fn cultural_analysis(&self) -> Option<Json> {
            json_field(&self.0.cultural_analysis)
        }
        async fn visual_adaptation(&self) -> Option<Json> {
            json_field(&self.0.visual_adaptation)
        }
        async fn market_strategy(&self) -> Option<Json> {
            json_field(&self.0.market_strategy)
        }
        async fn compliance_check(&self) -> Option<Json> {
            json_field(&self.0.compliance_check)
        }
        async fn competitor_analysis(&self) -> Option<Json> {
            json_field(&self.0.competitor_analysis)
        }
        async fn model(&self) -> Option<String> {
            meta_str(&self.0.metadata, "model")
        }
    }
);

run_object!(
    CustomerBehaviorAnalysis,
    service::CustomerBehaviorAnalysis,
    Kind::CustomerBehaviorAnalysis,
    "A BehaviorPredict prediction of a customer segment's behavior.",
    {
        async fn customer_segment(&self) -> Option<&str> {
            self.0.customer_segment.as_deref()
        }
        /// The data the prediction is made from, as given.
        async fn data_source(&self) -> Option<Json> {
            json_field(&self.0.data_source)
        }
        async fn behavior_prediction(&self) -> Option<Json> {
            json_field(&self.0.behavior_prediction)
        }
        async fn sentiment_analysis(&self) -> Option<Json> {
            json_field(&self.0.sentiment_analysis)
        }
        async fn journey_mapping(&self) -> Option<Json> {
            json_field(&self.0.journey_mapping)
        }
        async fn recommendations(&self) -> Option<Json> {
            json_field(&self.0.recommendations)
        }
        /// 0 to 1.
        async fn conversion_probability(&self) -> Option<f64> {
            self.0.conversion_probability
        }
        /// 0 to 1.
        async fn churn_risk(&self) -> Option<f64> {
            self.0.churn_risk
        }
        async fn model(&self) -> Option<String> {
            meta_str(&self.0.metadata, "model")
        }
    }
);

run_object!(
    ComplianceReview,
    service::ComplianceMonitoring,
    Kind::ComplianceReview,
    "A ComplianceGuard review of a business's regulatory compliance in a jurisdiction.",
    {
        async fn business_type(&self) -> &str {
            &self.0.business_type
        }
        async fn jurisdiction(&self) -> &str {
            &self.0.jurisdiction
        }
        /// The regulations tracked: as given, then as the review found them.
        async fn regulations(&self) -> Option<Json> {
            json_field(&self.0.regulations)
        }
        /// `overallRisk` (0 to 1), `level` and `summary`.
        async fn risk_assessment(&self) -> Option<Json> {
            json_field(&self.0.risk_assessment)
        }
        async fn document_reviews(&self) -> Option<Json> {
            json_field(&self.0.document_reviews)
        }
        async fn action_plan(&self) -> Option<Json> {
            json_field(&self.0.action_plan)
        }
        async fn audit_preparation(&self) -> Option<Json> {
            json_field(&self.0.audit_preparation)
        }
        async fn training_materials(&self) -> Option<Json> {
            json_field(&self.0.training_materials)
        }
        /// When to review compliance again.
        async fn next_review_date(&self) -> Option<DateTime<Utc>> {
            self.0.next_review_date
        }
        async fn model(&self) -> Option<String> {
            meta_str(&self.0.metadata, "model")
        }
    }
);

run_object!(
    GeneratedLearningPath,
    service::GeneratedLearningPath,
    Kind::GeneratedLearningPath,
    "A SkillPath learning path generated for a learner's profile.",
    {
        async fn title(&self) -> Option<&str> {
            self.0.title.as_deref()
        }
        /// The learner's skills, experience and goals, as given.
        async fn user_profile(&self) -> Option<Json> {
            json_field(&self.0.user_profile)
        }
        async fn skill_assessment(&self) -> Option<Json> {
            json_field(&self.0.skill_assessment)
        }
        async fn learning_style(&self) -> Option<Json> {
            json_field(&self.0.learning_style)
        }
        /// The ordered `steps`, each with its `weeks`.
        async fn generated_path(&self) -> Option<Json> {
            json_field(&self.0.generated_path)
        }
        async fn certifications(&self) -> Option<Json> {
            json_field(&self.0.certifications)
        }
        async fn recommendations(&self) -> Option<Json> {
            json_field(&self.0.recommendations)
        }
        async fn estimated_completion(&self) -> Option<DateTime<Utc>> {
            self.0.estimated_completion
        }
        async fn model(&self) -> Option<String> {
            meta_str(&self.0.metadata, "model")
        }
    }
);

/// An AI run of any kind.
#[derive(Union, Clone)]
pub enum AiRun {
    Analysis(Analysis),
    ContractAnalysis(ContractAnalysis),
    LocalizationAnalysis(LocalizationAnalysis),
    CustomerBehaviorAnalysis(CustomerBehaviorAnalysis),
    ComplianceReview(ComplianceReview),
    GeneratedLearningPath(GeneratedLearningPath),
}

impl From<RunRow> for AiRun {
    fn from(row: RunRow) -> Self {
        match row {
            RunRow::Analysis(r) => AiRun::Analysis(r.into()),
            RunRow::Contract(r) => AiRun::ContractAnalysis(r.into()),
            RunRow::Localization(r) => AiRun::LocalizationAnalysis(r.into()),
            RunRow::Behavior(r) => AiRun::CustomerBehaviorAnalysis(r.into()),
            RunRow::Compliance(r) => AiRun::ComplianceReview(r.into()),
            RunRow::LearningPath(r) => AiRun::GeneratedLearningPath(r.into()),
        }
    }
}

/// The run kind a global id names (NOT_FOUND for an id of any other type).
fn run_id(id: &ID, field: &'static str) -> ApiResult<(RunKind, String)> {
    let (kind, raw) = ids::parse(id, field)?;
    let kind = match kind {
        Kind::Analysis => RunKind::Analysis,
        Kind::ContractAnalysis => RunKind::Contract,
        Kind::LocalizationAnalysis => RunKind::Localization,
        Kind::CustomerBehaviorAnalysis => RunKind::Behavior,
        Kind::ComplianceReview => RunKind::Compliance,
        Kind::GeneratedLearningPath => RunKind::LearningPath,
        _ => return Err(ApiError::NotFound),
    };
    Ok((kind, raw))
}

/// `totalCount` of a list of runs: the caller's under a filter, or one project's.
pub enum RunTotal {
    Filter(RunKind, RunFilter),
    Project(RunKind, String, String),
}

#[Object]
impl RunTotal {
    async fn total_count(&self, ctx: &Context<'_>) -> ApiResult<u64> {
        match self {
            RunTotal::Filter(kind, filter) => {
                let caller = ctx.request()?.require()?;
                let service = workspace(ctx)?;
                match kind {
                    RunKind::Analysis => service.count_analyses(caller, filter).await,
                    RunKind::Contract => service.count_contracts(caller, filter).await,
                    RunKind::Localization => service.count_localizations(caller, filter).await,
                    RunKind::Behavior => service.count_behaviors(caller, filter).await,
                    RunKind::Compliance => service.count_compliance(caller, filter).await,
                    RunKind::LearningPath => service.count_learning_paths(caller, filter).await,
                }
            }
            RunTotal::Project(kind, project, owner) => {
                let l = &ctx.loaders()?.workspace;
                let key = CountKey {
                    parent: project.clone(),
                    filter: Arc::new(owner.clone()),
                };
                match kind {
                    RunKind::Analysis => count(&l.analyses, key).await,
                    RunKind::Contract => count(&l.contracts, key).await,
                    RunKind::Localization => count(&l.localizations, key).await,
                    RunKind::Behavior => count(&l.behaviors, key).await,
                    RunKind::Compliance => count(&l.compliance, key).await,
                    RunKind::LearningPath => count(&l.learning_paths, key).await,
                }
            }
        }
    }
}

pub type AnalysisConnection = Connection<String, Analysis, RunTotal, EmptyFields>;
pub type ContractAnalysisConnection = Connection<String, ContractAnalysis, RunTotal, EmptyFields>;
pub type LocalizationAnalysisConnection =
    Connection<String, LocalizationAnalysis, RunTotal, EmptyFields>;
pub type CustomerBehaviorAnalysisConnection =
    Connection<String, CustomerBehaviorAnalysis, RunTotal, EmptyFields>;
pub type ComplianceReviewConnection = Connection<String, ComplianceReview, RunTotal, EmptyFields>;
pub type GeneratedLearningPathConnection =
    Connection<String, GeneratedLearningPath, RunTotal, EmptyFields>;

/// A project's page of runs of one kind.
async fn project_runs<L, N>(
    ctx: &Context<'_>,
    loader: &DataLoader<Pages<L>>,
    kind: RunKind,
    project: &service::Project,
    args: async_graphql::Result<core_domain::pagination::PageArgs, ApiError>,
    at: impl Fn(&L::Row) -> (DateTime<Utc>, String),
) -> ApiResult<Connection<String, N, RunTotal, EmptyFields>>
where
    L: ChildList<Filter = String, Order = ()>,
    N: From<Arc<L::Row>> + async_graphql::OutputType,
{
    let args = args?;
    let _ = ctx;
    let key = PageKey {
        parent: project.id.clone(),
        query: Arc::new(PageQuery {
            filter: project.user_id.clone(),
            order: (),
            args,
            columns: Columns::ALL,
        }),
    };
    let rows = page(loader, key).await?;
    let name = WorkspaceService::run_ordering(kind);
    let total = RunTotal::Project(kind, project.id.clone(), project.user_id.clone());
    Ok(connection(
        rows,
        total,
        |r| {
            let (t, id) = at(r);
            cursor(name, t, &id)
        },
        N::from,
    ))
}

/// Reads ahead, for the projects of one level, every run list the query selects on them: one
/// statement per list and distinct arguments, whatever the number of projects.
async fn prefetch_runs(
    ctx: &Context<'_>,
    node: &Lookahead<'_>,
    owner: &str,
    projects: &[String],
) -> ApiResult<()> {
    if projects.is_empty() {
        return Ok(());
    }
    async fn one<L: ChildList<Filter = String, Order = ()>>(
        node: &Lookahead<'_>,
        field: &str,
        loader: &DataLoader<Pages<L>>,
        owner: &str,
        projects: &[String],
    ) -> ApiResult<()> {
        for f in node.field(field).selection_fields() {
            let Ok((args, counted)) = connection_selection(&f) else {
                continue;
            };
            let query = Arc::new(PageQuery {
                filter: owner.to_owned(),
                order: (),
                args,
                columns: Columns::ALL,
            });
            loader.loader().prefetch(projects, &query).await?;
            if counted {
                loader
                    .loader()
                    .prefetch_counts(projects, &Arc::new(owner.to_owned()))
                    .await?;
            }
        }
        Ok(())
    }
    let l = &ctx.loaders()?.workspace;
    one(node, "analyses", &l.analyses, owner, projects).await?;
    one(node, "contractAnalyses", &l.contracts, owner, projects).await?;
    one(
        node,
        "localizationAnalyses",
        &l.localizations,
        owner,
        projects,
    )
    .await?;
    one(
        node,
        "customerBehaviorAnalyses",
        &l.behaviors,
        owner,
        projects,
    )
    .await?;
    one(node, "complianceReviews", &l.compliance, owner, projects).await?;
    one(
        node,
        "generatedLearningPaths",
        &l.learning_paths,
        owner,
        projects,
    )
    .await?;
    one(node, "uploads", &l.uploads, owner, projects).await?;
    Ok(())
}

/// A user's unit of work: its analyses and solution runs are filed under it.
#[derive(Clone)]
pub struct Project(pub Arc<service::Project>);

impl From<service::Project> for Project {
    fn from(p: service::Project) -> Self {
        Project(Arc::new(p))
    }
}

#[Object]
impl Project {
    pub async fn id(&self) -> ID {
        ids::encode(Kind::Project, &self.0.id)
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    async fn status(&self) -> ApiResult<ProjectStatus> {
        from_stored(&self.0.status)
    }
    /// The project's own settings, as the client stored them.
    async fn metadata(&self) -> Option<Json> {
        json_field(&self.0.metadata)
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// The project's analyses, newest first.
    #[graphql(complexity = "first.or(last).unwrap_or(20).max(0) as usize * child_complexity + 1")]
    async fn analyses(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> ApiResult<AnalysisConnection> {
        let l = &ctx.loaders()?.workspace.analyses;
        project_runs(
            ctx,
            l,
            RunKind::Analysis,
            &self.0,
            page_args(first, after, last, before),
            |r| (r.created_at, r.id.clone()),
        )
        .await
    }
    /// The project's contract reviews, newest first.
    #[graphql(complexity = "first.or(last).unwrap_or(20).max(0) as usize * child_complexity + 1")]
    async fn contract_analyses(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> ApiResult<ContractAnalysisConnection> {
        let l = &ctx.loaders()?.workspace.contracts;
        project_runs(
            ctx,
            l,
            RunKind::Contract,
            &self.0,
            page_args(first, after, last, before),
            |r| (r.created_at, r.id.clone()),
        )
        .await
    }
    /// The project's localization analyses, newest first.
    #[graphql(complexity = "first.or(last).unwrap_or(20).max(0) as usize * child_complexity + 1")]
    async fn localization_analyses(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> ApiResult<LocalizationAnalysisConnection> {
        let l = &ctx.loaders()?.workspace.localizations;
        project_runs(
            ctx,
            l,
            RunKind::Localization,
            &self.0,
            page_args(first, after, last, before),
            |r| (r.created_at, r.id.clone()),
        )
        .await
    }
    /// The project's customer-behavior predictions, newest first.
    #[graphql(complexity = "first.or(last).unwrap_or(20).max(0) as usize * child_complexity + 1")]
    async fn customer_behavior_analyses(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> ApiResult<CustomerBehaviorAnalysisConnection> {
        let l = &ctx.loaders()?.workspace.behaviors;
        project_runs(
            ctx,
            l,
            RunKind::Behavior,
            &self.0,
            page_args(first, after, last, before),
            |r| (r.created_at, r.id.clone()),
        )
        .await
    }
    /// The project's compliance reviews, newest first.
    #[graphql(complexity = "first.or(last).unwrap_or(20).max(0) as usize * child_complexity + 1")]
    async fn compliance_reviews(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> ApiResult<ComplianceReviewConnection> {
        let l = &ctx.loaders()?.workspace.compliance;
        project_runs(
            ctx,
            l,
            RunKind::Compliance,
            &self.0,
            page_args(first, after, last, before),
            |r| (r.created_at, r.id.clone()),
        )
        .await
    }
    /// The files filed under the project (deleted ones left out), newest first.
    #[graphql(complexity = "first.or(last).unwrap_or(20).max(0) as usize * child_complexity + 1")]
    async fn uploads(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> ApiResult<FileUploadConnection> {
        let args = page_args(first, after, last, before)?;
        let key = PageKey {
            parent: self.0.id.clone(),
            query: Arc::new(PageQuery {
                filter: self.0.user_id.clone(),
                order: (),
                args,
                columns: Columns::ALL,
            }),
        };
        let rows = page(&ctx.loaders()?.workspace.uploads, key).await?;
        let name = UploadService::ordering();
        let total = UploadTotal::Project(self.0.id.clone(), self.0.user_id.clone());
        Ok(connection(
            rows,
            total,
            |u| cursor(name, u.created_at, &u.id),
            FileUpload,
        ))
    }
    /// The project's generated learning paths, newest first.
    #[graphql(complexity = "first.or(last).unwrap_or(20).max(0) as usize * child_complexity + 1")]
    async fn generated_learning_paths(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> ApiResult<GeneratedLearningPathConnection> {
        let l = &ctx.loaders()?.workspace.learning_paths;
        project_runs(
            ctx,
            l,
            RunKind::LearningPath,
            &self.0,
            page_args(first, after, last, before),
            |r| (r.created_at, r.id.clone()),
        )
        .await
    }
}

/// `totalCount` of the caller's projects under the list's filter.
pub struct ProjectTotal(ProjectFilter);

#[Object]
impl ProjectTotal {
    async fn total_count(&self, ctx: &Context<'_>) -> ApiResult<u64> {
        let caller = ctx.request()?.require()?;
        workspace(ctx)?.count_projects(caller, &self.0).await
    }
}

pub type ProjectConnection = Connection<String, Project, ProjectTotal, EmptyFields>;

/// The caller's projects among `ids` (database ids), for `node(id:)`.
pub async fn projects_by_ids(
    ctx: &Context<'_>,
    ids: &[String],
) -> ApiResult<HashMap<String, Project>> {
    let caller = ctx.request()?.caller.as_ref();
    let rows = workspace(ctx)?.projects_by_ids(caller, ids).await?;
    Ok(rows
        .into_iter()
        .map(|p| (p.id.clone(), Project::from(p)))
        .collect())
}

/// The caller's runs of `kind` among `ids`, for `node(id:)`.
pub async fn runs_by_ids(
    ctx: &Context<'_>,
    kind: Kind,
    ids: &[String],
) -> ApiResult<HashMap<String, AiRun>> {
    let caller = ctx.request()?.caller.as_ref();
    let s = workspace(ctx)?;
    fn map<R, T: Into<AiRun>>(
        rows: Vec<R>,
        id: fn(&R) -> String,
        f: fn(R) -> T,
    ) -> HashMap<String, AiRun> {
        rows.into_iter().map(|r| (id(&r), f(r).into())).collect()
    }
    Ok(match kind {
        Kind::Analysis => map(
            s.analyses_by_ids(caller, ids).await?,
            |r| r.id.clone(),
            Analysis::from,
        ),
        Kind::ContractAnalysis => map(
            s.contracts_by_ids(caller, ids).await?,
            |r| r.id.clone(),
            ContractAnalysis::from,
        ),
        Kind::LocalizationAnalysis => map(
            s.localizations_by_ids(caller, ids).await?,
            |r| r.id.clone(),
            LocalizationAnalysis::from,
        ),
        Kind::CustomerBehaviorAnalysis => map(
            s.behaviors_by_ids(caller, ids).await?,
            |r| r.id.clone(),
            CustomerBehaviorAnalysis::from,
        ),
        Kind::ComplianceReview => map(
            s.compliance_by_ids(caller, ids).await?,
            |r| r.id.clone(),
            ComplianceReview::from,
        ),
        Kind::GeneratedLearningPath => map(
            s.learning_paths_by_ids(caller, ids).await?,
            |r| r.id.clone(),
            GeneratedLearningPath::from,
        ),
        _ => HashMap::new(),
    })
}

/// Narrows the caller's projects; conditions combine with AND.
#[derive(InputObject, Default)]
pub struct ProjectFilterInput {
    pub status: Option<ProjectStatus>,
    /// Text found in the name or description (case-insensitive).
    pub search: Option<String>,
}

/// Narrows a list of the caller's runs; conditions combine with AND.
#[derive(InputObject, Default)]
pub struct AiRunFilterInput {
    pub status: Option<AiRunStatus>,
    /// Runs filed under this project.
    pub project_id: Option<ID>,
}

/// Narrows the caller's analyses; conditions combine with AND.
#[derive(InputObject, Default)]
pub struct AnalysisFilterInput {
    pub status: Option<AiRunStatus>,
    pub project_id: Option<ID>,
    #[graphql(name = "type")]
    pub analysis_type: Option<AnalysisType>,
}

/// Narrows the caller's contract reviews; conditions combine with AND.
#[derive(InputObject, Default)]
pub struct ContractAnalysisFilterInput {
    pub status: Option<AiRunStatus>,
    pub project_id: Option<ID>,
    pub contract_type: Option<ContractType>,
    /// Only reviews whose `riskAssessment.overallRisk` is at least this (0 to 1).
    pub min_overall_risk: Option<f64>,
}

fn run_filter(
    status: Option<AiRunStatus>,
    project_id: Option<&ID>,
    kind: Option<String>,
    min_overall_risk: Option<f64>,
) -> ApiResult<RunFilter> {
    if let Some(r) = min_overall_risk
        && !(0.0..=1.0).contains(&r)
    {
        return Err(ApiError::bad_input(
            "filter.minOverallRisk",
            "must be between 0 and 1",
        ));
    }
    Ok(RunFilter {
        status: status.map(stored),
        project_id: ids::decode_opt(project_id, Kind::Project, "filter.projectId")?,
        kind,
        min_overall_risk,
    })
}

fn run_connection<R, N>(
    kind: RunKind,
    filter: RunFilter,
    rows: service::Page<R>,
    at: impl Fn(&R) -> (DateTime<Utc>, String),
    node: impl Fn(R) -> N,
) -> Connection<String, N, RunTotal, EmptyFields>
where
    N: async_graphql::OutputType,
{
    let name = WorkspaceService::run_ordering(kind);
    connection(
        rows,
        RunTotal::Filter(kind, filter),
        |r| {
            let (t, id) = at(r);
            cursor(name, t, &id)
        },
        node,
    )
}

#[derive(Default)]
pub struct WorkspaceQuery;

#[Object]
impl WorkspaceQuery {
    /// Your projects (deleted ones left out), newest first unless `orderBy` says otherwise.
    #[graphql(complexity = "first.or(last).unwrap_or(20).max(0) as usize * child_complexity + 1")]
    #[allow(clippy::too_many_arguments)]
    async fn projects(
        &self,
        ctx: &Context<'_>,
        filter: Option<ProjectFilterInput>,
        order_by: Option<ProjectOrderBy>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> ApiResult<ProjectConnection> {
        let args = page_args(first, after, last, before)?;
        let f = filter.unwrap_or_default();
        let filter = ProjectFilter {
            status: f.status.map(stored),
            search: f.search,
        };
        let order: ProjectOrder = order_by.unwrap_or_default().into();
        let caller = ctx.request()?.require()?;
        let rows = workspace(ctx)?
            .projects(caller, &filter, order, &args)
            .await?;
        let ids: Vec<String> = rows.items.iter().map(|p| p.id.clone()).collect();
        let node = ctx.look_ahead().field("edges").field("node");
        prefetch_runs(ctx, &node, &caller.actor.user_id, &ids).await?;
        let name = order.keyset().name;
        Ok(connection(
            rows,
            ProjectTotal(filter),
            |p| cursor(name, order.cursor_at(p), &p.id),
            Project::from,
        ))
    }

    /// One of your projects; null for anything else, or a deleted one.
    async fn project(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Option<Project>> {
        let Some(id) = ids::decode_lookup(&id, Kind::Project, "id")? else {
            return Ok(None);
        };
        let caller = ctx.request()?.caller.as_ref();
        let row = workspace(ctx)?.find_project(caller, &id).await?;
        if let (Some(p), Some(c)) = (&row, caller) {
            let node = ctx.look_ahead();
            prefetch_runs(ctx, &node, &c.actor.user_id, std::slice::from_ref(&p.id)).await?;
        }
        Ok(row.map(Project::from))
    }

    /// Your analyses, newest first.
    #[graphql(complexity = "first.or(last).unwrap_or(20).max(0) as usize * child_complexity + 1")]
    async fn analyses(
        &self,
        ctx: &Context<'_>,
        filter: Option<AnalysisFilterInput>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> ApiResult<AnalysisConnection> {
        let args = page_args(first, after, last, before)?;
        let f = filter.unwrap_or_default();
        let filter = run_filter(
            f.status,
            f.project_id.as_ref(),
            f.analysis_type.map(stored),
            None,
        )?;
        let caller = ctx.request()?.require()?;
        let rows = workspace(ctx)?.analyses(caller, &filter, &args).await?;
        Ok(run_connection(
            RunKind::Analysis,
            filter,
            rows,
            |r| (r.created_at, r.id.clone()),
            Analysis::from,
        ))
    }

    /// One of your analyses (poll it while it runs); null for anything else.
    async fn analysis(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Option<Analysis>> {
        let Some(id) = ids::decode_lookup(&id, Kind::Analysis, "id")? else {
            return Ok(None);
        };
        let caller = ctx.request()?.caller.as_ref();
        Ok(workspace(ctx)?
            .find_analysis(caller, &id)
            .await?
            .map(Analysis::from))
    }

    /// Your contract reviews, newest first; `filter.minOverallRisk` keeps the risky ones.
    #[graphql(complexity = "first.or(last).unwrap_or(20).max(0) as usize * child_complexity + 1")]
    async fn contract_analyses(
        &self,
        ctx: &Context<'_>,
        filter: Option<ContractAnalysisFilterInput>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> ApiResult<ContractAnalysisConnection> {
        let args = page_args(first, after, last, before)?;
        let f = filter.unwrap_or_default();
        let filter = run_filter(
            f.status,
            f.project_id.as_ref(),
            f.contract_type.map(stored),
            f.min_overall_risk,
        )?;
        let caller = ctx.request()?.require()?;
        let rows = workspace(ctx)?.contracts(caller, &filter, &args).await?;
        Ok(run_connection(
            RunKind::Contract,
            filter,
            rows,
            |r| (r.created_at, r.id.clone()),
            ContractAnalysis::from,
        ))
    }

    /// One of your contract reviews; null for anything else.
    async fn contract_analysis(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> ApiResult<Option<ContractAnalysis>> {
        let Some(id) = ids::decode_lookup(&id, Kind::ContractAnalysis, "id")? else {
            return Ok(None);
        };
        let caller = ctx.request()?.caller.as_ref();
        Ok(workspace(ctx)?
            .find_contract(caller, &id)
            .await?
            .map(ContractAnalysis::from))
    }

    /// Your localization analyses, newest first.
    #[graphql(complexity = "first.or(last).unwrap_or(20).max(0) as usize * child_complexity + 1")]
    async fn localization_analyses(
        &self,
        ctx: &Context<'_>,
        filter: Option<AiRunFilterInput>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> ApiResult<LocalizationAnalysisConnection> {
        let args = page_args(first, after, last, before)?;
        let f = filter.unwrap_or_default();
        let filter = run_filter(f.status, f.project_id.as_ref(), None, None)?;
        let caller = ctx.request()?.require()?;
        let rows = workspace(ctx)?
            .localizations(caller, &filter, &args)
            .await?;
        Ok(run_connection(
            RunKind::Localization,
            filter,
            rows,
            |r| (r.created_at, r.id.clone()),
            LocalizationAnalysis::from,
        ))
    }

    /// One of your localization analyses; null for anything else.
    async fn localization_analysis(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> ApiResult<Option<LocalizationAnalysis>> {
        let Some(id) = ids::decode_lookup(&id, Kind::LocalizationAnalysis, "id")? else {
            return Ok(None);
        };
        let caller = ctx.request()?.caller.as_ref();
        Ok(workspace(ctx)?
            .find_localization(caller, &id)
            .await?
            .map(LocalizationAnalysis::from))
    }

    /// Your customer-behavior predictions, newest first.
    #[graphql(complexity = "first.or(last).unwrap_or(20).max(0) as usize * child_complexity + 1")]
    async fn customer_behavior_analyses(
        &self,
        ctx: &Context<'_>,
        filter: Option<AiRunFilterInput>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> ApiResult<CustomerBehaviorAnalysisConnection> {
        let args = page_args(first, after, last, before)?;
        let f = filter.unwrap_or_default();
        let filter = run_filter(f.status, f.project_id.as_ref(), None, None)?;
        let caller = ctx.request()?.require()?;
        let rows = workspace(ctx)?.behaviors(caller, &filter, &args).await?;
        Ok(run_connection(
            RunKind::Behavior,
            filter,
            rows,
            |r| (r.created_at, r.id.clone()),
            CustomerBehaviorAnalysis::from,
        ))
    }

    /// One of your customer-behavior predictions; null for anything else.
    async fn customer_behavior_analysis(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> ApiResult<Option<CustomerBehaviorAnalysis>> {
        let Some(id) = ids::decode_lookup(&id, Kind::CustomerBehaviorAnalysis, "id")? else {
            return Ok(None);
        };
        let caller = ctx.request()?.caller.as_ref();
        Ok(workspace(ctx)?
            .find_behavior(caller, &id)
            .await?
            .map(CustomerBehaviorAnalysis::from))
    }

    /// Your compliance reviews, newest first.
    #[graphql(complexity = "first.or(last).unwrap_or(20).max(0) as usize * child_complexity + 1")]
    async fn compliance_reviews(
        &self,
        ctx: &Context<'_>,
        filter: Option<AiRunFilterInput>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> ApiResult<ComplianceReviewConnection> {
        let args = page_args(first, after, last, before)?;
        let f = filter.unwrap_or_default();
        let filter = run_filter(f.status, f.project_id.as_ref(), None, None)?;
        let caller = ctx.request()?.require()?;
        let rows = workspace(ctx)?
            .compliance_reviews(caller, &filter, &args)
            .await?;
        Ok(run_connection(
            RunKind::Compliance,
            filter,
            rows,
            |r| (r.created_at, r.id.clone()),
            ComplianceReview::from,
        ))
    }

    /// One of your compliance reviews; null for anything else.
    async fn compliance_review(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> ApiResult<Option<ComplianceReview>> {
        let Some(id) = ids::decode_lookup(&id, Kind::ComplianceReview, "id")? else {
            return Ok(None);
        };
        let caller = ctx.request()?.caller.as_ref();
        Ok(workspace(ctx)?
            .find_compliance(caller, &id)
            .await?
            .map(ComplianceReview::from))
    }

    /// Your generated learning paths, newest first.
    #[graphql(complexity = "first.or(last).unwrap_or(20).max(0) as usize * child_complexity + 1")]
    async fn generated_learning_paths(
        &self,
        ctx: &Context<'_>,
        filter: Option<AiRunFilterInput>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> ApiResult<GeneratedLearningPathConnection> {
        let args = page_args(first, after, last, before)?;
        let f = filter.unwrap_or_default();
        let filter = run_filter(f.status, f.project_id.as_ref(), None, None)?;
        let caller = ctx.request()?.require()?;
        let rows = workspace(ctx)?
            .learning_paths(caller, &filter, &args)
            .await?;
        Ok(run_connection(
            RunKind::LearningPath,
            filter,
            rows,
            |r| (r.created_at, r.id.clone()),
            GeneratedLearningPath::from,
        ))
    }

    /// One of your generated learning paths; null for anything else.
    async fn generated_learning_path(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> ApiResult<Option<GeneratedLearningPath>> {
        let Some(id) = ids::decode_lookup(&id, Kind::GeneratedLearningPath, "id")? else {
            return Ok(None);
        };
        let caller = ctx.request()?.caller.as_ref();
        Ok(workspace(ctx)?
            .find_learning_path(caller, &id)
            .await?
            .map(GeneratedLearningPath::from))
    }
}

#[derive(InputObject)]
pub struct CreateProjectInput {
    /// 1 to 200 characters.
    pub name: String,
    pub description: Option<String>,
    /// Your own settings for the project, kept as given.
    pub metadata: Option<Json>,
}

#[derive(SimpleObject)]
pub struct CreateProjectPayload {
    pub project: Project,
}

#[derive(InputObject)]
pub struct UpdateProjectInput {
    pub id: ID,
    pub name: Option<String>,
    /// An empty description removes it.
    pub description: Option<String>,
    /// ACTIVE can become COMPLETED, SUSPENDED or ARCHIVED; SUSPENDED can become ACTIVE or
    /// ARCHIVED; COMPLETED can become ACTIVE or ARCHIVED; ARCHIVED can become ACTIVE.
    pub status: Option<ProjectStatus>,
    pub metadata: Option<Json>,
}

#[derive(SimpleObject)]
pub struct UpdateProjectPayload {
    pub project: Project,
}

#[derive(InputObject)]
pub struct DeleteProjectInput {
    pub id: ID,
}

#[derive(SimpleObject)]
pub struct DeleteProjectPayload {
    pub deleted_project_id: ID,
}

#[derive(InputObject)]
pub struct CreateAnalysisInput {
    #[graphql(name = "type")]
    pub analysis_type: AnalysisType,
    /// What to analyse: text, code, data, or a description or URL of an image.
    pub input: String,
    /// File it under one of your projects.
    pub project_id: Option<ID>,
    /// The AI model (see `models`); the server's default when left out.
    pub model: Option<String>,
}

#[derive(SimpleObject)]
pub struct CreateAnalysisPayload {
    pub analysis: Analysis,
}

#[derive(InputObject)]
pub struct AnalyzeContractInput {
    pub title: String,
    pub contract_type: ContractType,
    /// The contract's text; or give `uploadId` instead.
    pub text: Option<String>,
    /// One of your completed uploads whose extracted text is the contract.
    pub upload_id: Option<ID>,
    pub project_id: Option<ID>,
}

#[derive(SimpleObject)]
pub struct AnalyzeContractPayload {
    pub contract_analysis: ContractAnalysis,
}

#[derive(InputObject)]
pub struct AnalyzeLocalizationInput {
    pub product_name: String,
    pub target_market: String,
    pub product_desc: Option<String>,
    /// Image URLs of the product.
    pub product_images: Option<Vec<String>>,
    pub project_id: Option<ID>,
}

#[derive(SimpleObject)]
pub struct AnalyzeLocalizationPayload {
    pub localization_analysis: LocalizationAnalysis,
}

#[derive(InputObject)]
pub struct PredictCustomerBehaviorInput {
    pub customer_segment: Option<String>,
    /// The customer data to predict from (CRM, email, social media...), as JSON. With fewer than
    /// two data sources and no segment the run ends INSUFFICIENT_DATA without calling the AI.
    pub data_source: Json,
    pub project_id: Option<ID>,
}

#[derive(SimpleObject)]
pub struct PredictCustomerBehaviorPayload {
    pub customer_behavior_analysis: CustomerBehaviorAnalysis,
}

#[derive(InputObject)]
pub struct MonitorComplianceInput {
    pub business_type: String,
    pub jurisdiction: String,
    /// Regulations you want tracked.
    pub regulations: Option<Vec<String>>,
    pub project_id: Option<ID>,
}

#[derive(SimpleObject)]
pub struct MonitorCompliancePayload {
    pub compliance_review: ComplianceReview,
}

#[derive(InputObject)]
pub struct GenerateLearningPathInput {
    pub title: Option<String>,
    /// The learner's skills, experience and goals, as JSON.
    pub user_profile: Json,
    pub project_id: Option<ID>,
}

#[derive(SimpleObject)]
pub struct GenerateLearningPathPayload {
    pub learning_path: GeneratedLearningPath,
}

#[derive(InputObject)]
pub struct RerunAiRunInput {
    /// The id of an analysis or of a solution run of yours that is not queued or running.
    pub id: ID,
}

#[derive(SimpleObject)]
pub struct RerunAiRunPayload {
    pub run: AiRun,
}

#[derive(InputObject)]
pub struct CancelAiRunInput {
    /// The id of a queued or running analysis or solution run of yours.
    pub id: ID,
}

#[derive(SimpleObject)]
pub struct CancelAiRunPayload {
    pub run: AiRun,
}

fn project_of(id: Option<&ID>) -> ApiResult<Option<String>> {
    ids::decode_opt(id, Kind::Project, "projectId")
}

fn expect<T>(row: RunRow, pick: fn(RunRow) -> Option<T>) -> ApiResult<T> {
    pick(row).ok_or_else(|| ApiError::internal(anyhow::anyhow!("a run of another kind")))
}

#[derive(Default)]
pub struct WorkspaceMutation;

#[Object]
impl WorkspaceMutation {
    /// Starts a project of yours (ACTIVE).
    async fn create_project(
        &self,
        ctx: &Context<'_>,
        input: CreateProjectInput,
    ) -> ApiResult<CreateProjectPayload> {
        let caller = ctx.request()?.require()?;
        let draft = ProjectDraft {
            name: input.name,
            description: input.description,
            metadata: input.metadata.map(|m| m.0),
        };
        let project = workspace(ctx)?.create_project(caller, draft).await?;
        Ok(CreateProjectPayload {
            project: project.into(),
        })
    }

    /// Changes one of your projects; fields left out stay as they are.
    async fn update_project(
        &self,
        ctx: &Context<'_>,
        input: UpdateProjectInput,
    ) -> ApiResult<UpdateProjectPayload> {
        let id = ids::decode(&input.id, Kind::Project, "id")?;
        let caller = ctx.request()?.require()?;
        let changes = ProjectChanges {
            name: input.name,
            description: input.description,
            status: input.status.map(Into::into),
            metadata: input.metadata.map(|m| m.0),
        };
        let project = workspace(ctx)?.update_project(caller, &id, changes).await?;
        Ok(UpdateProjectPayload {
            project: project.into(),
        })
    }

    /// Deletes one of your projects; its analyses, runs and uploads stay, filed under no project.
    async fn delete_project(
        &self,
        ctx: &Context<'_>,
        input: DeleteProjectInput,
    ) -> ApiResult<DeleteProjectPayload> {
        let id = ids::decode(&input.id, Kind::Project, "id")?;
        let caller = ctx.request()?.require()?;
        workspace(ctx)?.delete_project(caller, &id).await?;
        Ok(DeleteProjectPayload {
            deleted_project_id: ids::encode(Kind::Project, &id),
        })
    }

    /// Queues an AI analysis; it starts PENDING and ends COMPLETED (or REVIEW_REQUIRED when the
    /// AI is unsure, or FAILED). Follow it with `analysisUpdated` or poll `analysis(id)`.
    async fn create_analysis(
        &self,
        ctx: &Context<'_>,
        input: CreateAnalysisInput,
    ) -> ApiResult<CreateAnalysisPayload> {
        let project = project_of(input.project_id.as_ref())?;
        let caller = ctx.request()?.require()?;
        let draft = RunDraft::Analysis {
            kind: stored(input.analysis_type),
            input: input.input,
            model: input.model,
        };
        let row = workspace(ctx)?.create_run(caller, project, draft).await?;
        let analysis = expect(row, |r| match r {
            RunRow::Analysis(a) => Some(Analysis::from(a)),
            _ => None,
        })?;
        Ok(CreateAnalysisPayload { analysis })
    }

    /// ContractWise: queues a review of a contract (its text, or one of your uploads).
    async fn analyze_contract(
        &self,
        ctx: &Context<'_>,
        input: AnalyzeContractInput,
    ) -> ApiResult<AnalyzeContractPayload> {
        let project = project_of(input.project_id.as_ref())?;
        let upload_id = input
            .upload_id
            .as_ref()
            .map(|u| ids::decode(u, Kind::FileUpload, "uploadId"))
            .transpose()?;
        let caller = ctx.request()?.require()?;
        let draft = RunDraft::Contract {
            title: input.title,
            contract_type: stored(input.contract_type),
            text: input.text,
            upload_id,
        };
        let row = workspace(ctx)?.create_run(caller, project, draft).await?;
        let contract_analysis = expect(row, |r| match r {
            RunRow::Contract(a) => Some(ContractAnalysis::from(a)),
            _ => None,
        })?;
        Ok(AnalyzeContractPayload { contract_analysis })
    }

    /// GlobalFit: queues an analysis of adapting a product for a market.
    async fn analyze_localization(
        &self,
        ctx: &Context<'_>,
        input: AnalyzeLocalizationInput,
    ) -> ApiResult<AnalyzeLocalizationPayload> {
        let project = project_of(input.project_id.as_ref())?;
        let caller = ctx.request()?.require()?;
        let draft = RunDraft::Localization {
            product_name: input.product_name,
            target_market: input.target_market,
            product_desc: input.product_desc,
            product_images: input.product_images.unwrap_or_default(),
        };
        let row = workspace(ctx)?.create_run(caller, project, draft).await?;
        let localization_analysis = expect(row, |r| match r {
            RunRow::Localization(a) => Some(LocalizationAnalysis::from(a)),
            _ => None,
        })?;
        Ok(AnalyzeLocalizationPayload {
            localization_analysis,
        })
    }

    /// BehaviorPredict: queues a prediction of a customer segment's behavior.
    async fn predict_customer_behavior(
        &self,
        ctx: &Context<'_>,
        input: PredictCustomerBehaviorInput,
    ) -> ApiResult<PredictCustomerBehaviorPayload> {
        let project = project_of(input.project_id.as_ref())?;
        let caller = ctx.request()?.require()?;
        let draft = RunDraft::Behavior {
            customer_segment: input.customer_segment,
            data_source: input.data_source.0,
        };
        let row = workspace(ctx)?.create_run(caller, project, draft).await?;
        let customer_behavior_analysis = expect(row, |r| match r {
            RunRow::Behavior(a) => Some(CustomerBehaviorAnalysis::from(a)),
            _ => None,
        })?;
        Ok(PredictCustomerBehaviorPayload {
            customer_behavior_analysis,
        })
    }

    /// ComplianceGuard: queues a compliance review (URGENT_ATTENTION when the risk is high).
    async fn monitor_compliance(
        &self,
        ctx: &Context<'_>,
        input: MonitorComplianceInput,
    ) -> ApiResult<MonitorCompliancePayload> {
        let project = project_of(input.project_id.as_ref())?;
        let caller = ctx.request()?.require()?;
        let draft = RunDraft::Compliance {
            business_type: input.business_type,
            jurisdiction: input.jurisdiction,
            regulations: input.regulations.unwrap_or_default(),
        };
        let row = workspace(ctx)?.create_run(caller, project, draft).await?;
        let compliance_review = expect(row, |r| match r {
            RunRow::Compliance(a) => Some(ComplianceReview::from(a)),
            _ => None,
        })?;
        Ok(MonitorCompliancePayload { compliance_review })
    }

    /// SkillPath: queues a learning path generated from a learner's profile.
    async fn generate_learning_path(
        &self,
        ctx: &Context<'_>,
        input: GenerateLearningPathInput,
    ) -> ApiResult<GenerateLearningPathPayload> {
        let project = project_of(input.project_id.as_ref())?;
        let caller = ctx.request()?.require()?;
        let draft = RunDraft::LearningPath {
            title: input.title,
            user_profile: input.user_profile.0,
        };
        let row = workspace(ctx)?.create_run(caller, project, draft).await?;
        let learning_path = expect(row, |r| match r {
            RunRow::LearningPath(a) => Some(GeneratedLearningPath::from(a)),
            _ => None,
        })?;
        Ok(GenerateLearningPathPayload { learning_path })
    }

    /// Runs one of your finished, failed or cancelled runs (of any kind) again.
    async fn rerun_ai_run(
        &self,
        ctx: &Context<'_>,
        input: RerunAiRunInput,
    ) -> ApiResult<RerunAiRunPayload> {
        let (kind, id) = run_id(&input.id, "id")?;
        let caller = ctx.request()?.require()?;
        let row = workspace(ctx)?.rerun(caller, kind, &id).await?;
        Ok(RerunAiRunPayload { run: row.into() })
    }

    /// Cancels one of your queued or running runs (of any kind): a queued run costs nothing, a
    /// running one what its AI call used.
    async fn cancel_ai_run(
        &self,
        ctx: &Context<'_>,
        input: CancelAiRunInput,
    ) -> ApiResult<CancelAiRunPayload> {
        let (kind, id) = run_id(&input.id, "id")?;
        let caller = ctx.request()?.require()?;
        let row = workspace(ctx)?.cancel(caller, kind, &id).await?;
        Ok(CancelAiRunPayload { run: row.into() })
    }
}

#[derive(Default)]
pub struct WorkspaceSubscription;

#[Subscription]
impl WorkspaceSubscription {
    /// One of your analyses each time its status changes (on any server instance).
    async fn analysis_updated(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> Result<impl Stream<Item = ApiResult<Analysis>> + use<>, ApiError> {
        let id = ids::decode(&id, Kind::Analysis, "id")?;
        let caller = ctx.request()?.require()?;
        let stream = workspace(ctx)?
            .run_updated(caller, RunKind::Analysis, &id)
            .await?;
        Ok(stream.filter_map(|r| async move {
            match r {
                Ok(RunRow::Analysis(a)) => Some(Ok(Analysis::from(a))),
                Ok(_) => None,
                Err(e) => Some(Err(e)),
            }
        }))
    }

    /// One of your runs of any kind (an analysis or a solution run) each time its status changes.
    async fn ai_run_updated(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> Result<impl Stream<Item = ApiResult<AiRun>> + use<>, ApiError> {
        let (kind, id) = run_id(&id, "id")?;
        let caller = ctx.request()?.require()?;
        let stream = workspace(ctx)?.run_updated(caller, kind, &id).await?;
        Ok(stream.map(|r| r.map(AiRun::from)))
    }
}
