//! The workspace's use cases (OptiMind): projects, generic analyses and the five business
//! solutions. Everything here is its owner's alone: anyone else (admins included) gets NOT_FOUND
//! from a mutation and null from a look-up, exactly as for a record that does not exist.
//!
//! Creating a run (an analysis or a solution run) checks the input and the caller's budgets,
//! then writes the row PENDING, queues its job and records the audit event in one transaction;
//! the job runner (`platform::jobs`, handler in `runner.rs`) does the AI work later, on any
//! instance. Status changes are published as `ChangeEvent`s of the run's kind, which
//! `analysisUpdated` / `aiRunUpdated` subscribers re-read under their own access rules.

use std::sync::Arc;

use core_domain::pagination::PageArgs;
use core_domain::workspace::ProjectStatus;
use futures::{Stream, StreamExt as _};
use persistence::budgets;
use persistence::sea_orm::{ConnectionTrait, TransactionTrait};
use persistence::subscriptions;
use persistence::workspace::{self, NewProject, NewRun, ProjectPatch};
use persistence::{Db, StoreError, jobs};
use serde_json::{Value, json};

use super::kinds::{self, RunKind};
use crate::accounts::Caller;
use crate::chat::ChatService;
use crate::error::{ApiError, ApiResult};
use crate::platform::audit;
use crate::platform::events::{ChangeEvent, EventBus, Wanted};
use crate::platform::jobs::{JobHandler, JobQueue, JobRunner};

pub use persistence::Page;
pub use persistence::workspace::{Project, ProjectFilter, ProjectOrder, RunFilter};
pub type Analysis = workspace::analyses::Row;
pub type ContractAnalysis = workspace::contracts::Row;
pub type LocalizationAnalysis = workspace::localizations::Row;
pub type CustomerBehaviorAnalysis = workspace::behaviors::Row;
pub type ComplianceMonitoring = workspace::compliance::Row;
pub type GeneratedLearningPath = workspace::learning_paths::Row;

/// Output tokens a run may use (structured answers are longer than chat replies).
pub const RUN_MAX_TOKENS: u32 = 2048;
/// Longest free text accepted as a run's input, in characters.
const MAX_INPUT: usize = 100_000;
/// Longest name or short text field.
const MAX_NAME: usize = 200;

/// Any run, for the fields that take a run of any kind.
#[derive(Debug, Clone)]
pub enum RunRow {
    Analysis(Analysis),
    Contract(ContractAnalysis),
    Localization(LocalizationAnalysis),
    Behavior(CustomerBehaviorAnalysis),
    Compliance(ComplianceMonitoring),
    LearningPath(GeneratedLearningPath),
}

impl RunRow {
    pub fn kind(&self) -> RunKind {
        match self {
            RunRow::Analysis(_) => RunKind::Analysis,
            RunRow::Contract(_) => RunKind::Contract,
            RunRow::Localization(_) => RunKind::Localization,
            RunRow::Behavior(_) => RunKind::Behavior,
            RunRow::Compliance(_) => RunKind::Compliance,
            RunRow::LearningPath(_) => RunKind::LearningPath,
        }
    }

    pub fn id(&self) -> &str {
        match self {
            RunRow::Analysis(r) => &r.id,
            RunRow::Contract(r) => &r.id,
            RunRow::Localization(r) => &r.id,
            RunRow::Behavior(r) => &r.id,
            RunRow::Compliance(r) => &r.id,
            RunRow::LearningPath(r) => &r.id,
        }
    }

    pub fn status(&self) -> &str {
        match self {
            RunRow::Analysis(r) => &r.status,
            RunRow::Contract(r) => &r.status,
            RunRow::Localization(r) => &r.status,
            RunRow::Behavior(r) => &r.status,
            RunRow::Compliance(r) => &r.status,
            RunRow::LearningPath(r) => &r.status,
        }
    }
}

/// `createProject`'s input.
#[derive(Debug, Clone, Default)]
pub struct ProjectDraft {
    pub name: String,
    pub description: Option<String>,
    pub metadata: Option<Value>,
}

/// `updateProject`'s changes: `None` leaves a field alone; an empty description clears it.
#[derive(Debug, Clone, Default)]
pub struct ProjectChanges {
    pub name: Option<String>,
    pub description: Option<String>,
    pub status: Option<ProjectStatus>,
    pub metadata: Option<Value>,
}

/// What a new run of one of the five solutions (or an analysis) is given.
#[derive(Debug, Clone)]
pub enum RunDraft {
    Analysis {
        kind: String,
        input: String,
        model: Option<String>,
    },
    Contract {
        title: String,
        contract_type: String,
        text: Option<String>,
        upload_id: Option<String>,
    },
    Localization {
        product_name: String,
        target_market: String,
        product_desc: Option<String>,
        product_images: Vec<String>,
    },
    Behavior {
        customer_segment: Option<String>,
        data_source: Value,
    },
    Compliance {
        business_type: String,
        jurisdiction: String,
        regulations: Vec<String>,
    },
    LearningPath {
        title: Option<String>,
        user_profile: Value,
    },
}

pub struct WorkspaceService {
    pub(super) db: Db,
    pub(super) chat: Arc<ChatService>,
    pub(super) events: EventBus,
    pub(super) queue: Arc<JobQueue>,
}

/// Generates the typed reads of one run kind.
macro_rules! run_reads {
    ($store:ident, $row:ty, $find:ident, $by_ids:ident, $list:ident, $count:ident) => {
        /// The caller's run `id`; `None` for a missing one or anyone else's.
        pub async fn $find(&self, caller: Option<&Caller>, id: &str) -> ApiResult<Option<$row>> {
            let Some(caller) = caller else {
                return Ok(None);
            };
            Ok(workspace::$store::find_own(self.db.conn(), &caller.actor.user_id, id).await?)
        }

        /// The caller's runs among `ids` (others' left out), for `node`/`nodes`.
        pub async fn $by_ids(
            &self,
            caller: Option<&Caller>,
            ids: &[String],
        ) -> ApiResult<Vec<$row>> {
            let Some(caller) = caller else {
                return Ok(Vec::new());
            };
            Ok(workspace::$store::own_by_ids(self.db.conn(), &caller.actor.user_id, ids).await?)
        }

        /// A page of the caller's runs under `filter`, newest first.
        pub async fn $list(
            &self,
            caller: &Caller,
            filter: &RunFilter,
            args: &PageArgs,
        ) -> ApiResult<persistence::Page<$row>> {
            self.check_project_filter(caller, filter).await?;
            Ok(
                workspace::$store::page_own(self.db.conn(), &caller.actor.user_id, filter, args)
                    .await?,
            )
        }

        /// How many runs the caller has under `filter`.
        pub async fn $count(&self, caller: &Caller, filter: &RunFilter) -> ApiResult<u64> {
            Ok(workspace::$store::count_own(self.db.conn(), &caller.actor.user_id, filter).await?)
        }
    };
}

impl WorkspaceService {
    pub fn new(
        db: Db,
        chat: Arc<ChatService>,
        events: EventBus,
        queue: Arc<JobQueue>,
    ) -> Arc<Self> {
        Arc::new(Self {
            db,
            chat,
            events,
            queue,
        })
    }

    pub fn queue(&self) -> &Arc<JobQueue> {
        &self.queue
    }

    /// A list filtered by a project must name one of the caller's live projects (NOT_FOUND
    /// otherwise, as for a missing one).
    async fn check_project_filter(&self, caller: &Caller, filter: &RunFilter) -> ApiResult<()> {
        if let Some(project) = &filter.project_id
            && workspace::find_project_own(self.db.conn(), &caller.actor.user_id, project)
                .await?
                .is_none()
        {
            return Err(ApiError::NotFound);
        }
        Ok(())
    }

    /// The cursor name of every run list (they all order newest first by creation).
    pub fn run_ordering(kind: RunKind) -> &'static str {
        match kind {
            RunKind::Analysis => workspace::analyses::KEYSET.name,
            RunKind::Contract => workspace::contracts::KEYSET.name,
            RunKind::Localization => workspace::localizations::KEYSET.name,
            RunKind::Behavior => workspace::behaviors::KEYSET.name,
            RunKind::Compliance => workspace::compliance::KEYSET.name,
            RunKind::LearningPath => workspace::learning_paths::KEYSET.name,
        }
    }

    // -----------------------------------------------------------------------------------------
    // Projects

    pub async fn create_project(&self, caller: &Caller, draft: ProjectDraft) -> ApiResult<Project> {
        let name = check_name(&draft.name, "name")?;
        let description = check_description(draft.description)?;
        let txn = self.db.conn().begin().await.map_err(StoreError::from)?;
        let project = workspace::create_project(
            &txn,
            NewProject {
                user_id: caller.actor.user_id.clone(),
                name,
                description,
                status: ProjectStatus::Active.as_str().to_owned(),
                metadata: draft.metadata,
            },
        )
        .await?;
        audit::record(
            &txn,
            Some(&caller.actor.user_id),
            "project.created",
            "Project",
            &project.id,
            json!({ "name": project.name }),
        )
        .await?;
        txn.commit().await.map_err(StoreError::from)?;
        Ok(project)
    }

    /// Changes one of the caller's projects; a status change must be one a user would expect
    /// (`ProjectStatus::can_become`), else BAD_USER_INPUT on `status`.
    pub async fn update_project(
        &self,
        caller: &Caller,
        id: &str,
        changes: ProjectChanges,
    ) -> ApiResult<Project> {
        let user = &caller.actor.user_id;
        let name = changes
            .name
            .as_deref()
            .map(|n| check_name(n, "name"))
            .transpose()?;
        let description = changes
            .description
            .map(|d| check_description(Some(d)))
            .transpose()?;
        let txn = self.db.conn().begin().await.map_err(StoreError::from)?;
        let current = workspace::find_project_own(&txn, user, id)
            .await?
            .ok_or(ApiError::NotFound)?;
        if let Some(to) = changes.status {
            let from: ProjectStatus = current
                .status
                .parse()
                .map_err(|e| ApiError::internal(anyhow::anyhow!("{e}")))?;
            if !from.can_become(to) {
                return Err(ApiError::bad_input(
                    "status",
                    format!("a {from} project cannot become {to}"),
                ));
            }
        }
        let patch = ProjectPatch {
            name,
            description,
            status: changes.status.map(|s| s.as_str().to_owned()),
            metadata: changes.metadata.map(Some),
        };
        let project = workspace::update_project_own(&txn, user, id, patch)
            .await?
            .ok_or(ApiError::NotFound)?;
        audit::record(
            &txn,
            Some(user),
            "project.updated",
            "Project",
            id,
            json!({ "name": project.name, "status": project.status, "from": current.status }),
        )
        .await?;
        txn.commit().await.map_err(StoreError::from)?;
        Ok(project)
    }

    /// Soft-deletes one of the caller's projects; its runs and uploads stay, unfiled.
    pub async fn delete_project(&self, caller: &Caller, id: &str) -> ApiResult<()> {
        let user = &caller.actor.user_id;
        let txn = self.db.conn().begin().await.map_err(StoreError::from)?;
        if !workspace::delete_project_own(&txn, user, id).await? {
            return Err(ApiError::NotFound);
        }
        audit::record(
            &txn,
            Some(user),
            "project.deleted",
            "Project",
            id,
            json!({}),
        )
        .await?;
        txn.commit().await.map_err(StoreError::from)?;
        Ok(())
    }

    pub async fn find_project(
        &self,
        caller: Option<&Caller>,
        id: &str,
    ) -> ApiResult<Option<Project>> {
        let Some(caller) = caller else {
            return Ok(None);
        };
        Ok(workspace::find_project_own(self.db.conn(), &caller.actor.user_id, id).await?)
    }

    pub async fn projects_by_ids(
        &self,
        caller: Option<&Caller>,
        ids: &[String],
    ) -> ApiResult<Vec<Project>> {
        let Some(caller) = caller else {
            return Ok(Vec::new());
        };
        Ok(workspace::projects_own_by_ids(self.db.conn(), &caller.actor.user_id, ids).await?)
    }

    pub async fn projects(
        &self,
        caller: &Caller,
        filter: &ProjectFilter,
        order: ProjectOrder,
        args: &PageArgs,
    ) -> ApiResult<Page<Project>> {
        let filter = check_project_filter(filter)?;
        Ok(workspace::page_projects_own(
            self.db.conn(),
            &caller.actor.user_id,
            &filter,
            order,
            args,
        )
        .await?)
    }

    pub async fn count_projects(&self, caller: &Caller, filter: &ProjectFilter) -> ApiResult<u64> {
        let filter = check_project_filter(filter)?;
        Ok(workspace::count_projects_own(self.db.conn(), &caller.actor.user_id, &filter).await?)
    }

    // -----------------------------------------------------------------------------------------
    // Runs: reads

    run_reads!(
        analyses,
        Analysis,
        find_analysis,
        analyses_by_ids,
        analyses,
        count_analyses
    );
    run_reads!(
        contracts,
        ContractAnalysis,
        find_contract,
        contracts_by_ids,
        contracts,
        count_contracts
    );
    run_reads!(
        localizations,
        LocalizationAnalysis,
        find_localization,
        localizations_by_ids,
        localizations,
        count_localizations
    );
    run_reads!(
        behaviors,
        CustomerBehaviorAnalysis,
        find_behavior,
        behaviors_by_ids,
        behaviors,
        count_behaviors
    );
    run_reads!(
        compliance,
        ComplianceMonitoring,
        find_compliance,
        compliance_by_ids,
        compliance_reviews,
        count_compliance
    );
    run_reads!(
        learning_paths,
        GeneratedLearningPath,
        find_learning_path,
        learning_paths_by_ids,
        learning_paths,
        count_learning_paths
    );

    /// The caller's run of `kind` with database id `id`.
    pub async fn find_run(
        &self,
        caller: Option<&Caller>,
        kind: RunKind,
        id: &str,
    ) -> ApiResult<Option<RunRow>> {
        Ok(match kind {
            RunKind::Analysis => self.find_analysis(caller, id).await?.map(RunRow::Analysis),
            RunKind::Contract => self.find_contract(caller, id).await?.map(RunRow::Contract),
            RunKind::Localization => self
                .find_localization(caller, id)
                .await?
                .map(RunRow::Localization),
            RunKind::Behavior => self.find_behavior(caller, id).await?.map(RunRow::Behavior),
            RunKind::Compliance => self
                .find_compliance(caller, id)
                .await?
                .map(RunRow::Compliance),
            RunKind::LearningPath => self
                .find_learning_path(caller, id)
                .await?
                .map(RunRow::LearningPath),
        })
    }

    // -----------------------------------------------------------------------------------------
    // Runs: creating, rerunning, cancelling

    /// Creates a run of the caller's (filed under their project `project_id` when given) and
    /// queues its job. QUOTA_EXCEEDED when a budget of theirs has no room for a run.
    pub async fn create_run(
        &self,
        caller: &Caller,
        project_id: Option<String>,
        draft: RunDraft,
    ) -> ApiResult<RunRow> {
        let user = caller.actor.user_id.clone();
        if let Some(project) = &project_id
            && workspace::find_project_own(self.db.conn(), &user, project)
                .await?
                .is_none()
        {
            return Err(ApiError::NotFound);
        }
        let draft = self.check_draft(&user, draft).await?;
        let model = match &draft {
            RunDraft::Analysis { model: Some(m), .. } => m.clone(),
            _ => self.chat.providers().default_model().to_owned(),
        };
        self.chat.check_model(&model)?;
        let keys = self.chat.budgets_for(&user, None).await?;
        let run = NewRun {
            user_id: user.clone(),
            project_id: project_id.clone(),
            metadata: Some(json!({ "model": model })),
        };
        let txn = self.db.conn().begin().await.map_err(StoreError::from)?;
        let row = match draft {
            RunDraft::Analysis { kind, input, .. } => RunRow::Analysis(
                workspace::create_analysis(&txn, run, &kind, input, Some(model.clone())).await?,
            ),
            RunDraft::Contract {
                title,
                contract_type,
                text,
                upload_id,
            } => RunRow::Contract(
                workspace::create_contract(
                    &txn,
                    run,
                    title,
                    &contract_type,
                    upload_id.map(|u| format!("upload:{u}")),
                    text.unwrap_or_default(),
                )
                .await?,
            ),
            RunDraft::Localization {
                product_name,
                target_market,
                product_desc,
                product_images,
            } => RunRow::Localization(
                workspace::create_localization(
                    &txn,
                    run,
                    product_name,
                    target_market,
                    product_desc,
                    product_images,
                )
                .await?,
            ),
            RunDraft::Behavior {
                customer_segment,
                data_source,
            } => RunRow::Behavior(
                workspace::create_behavior(&txn, run, customer_segment, data_source).await?,
            ),
            RunDraft::Compliance {
                business_type,
                jurisdiction,
                regulations,
            } => RunRow::Compliance(
                workspace::create_compliance(&txn, run, business_type, jurisdiction, regulations)
                    .await?,
            ),
            RunDraft::LearningPath {
                title,
                user_profile,
            } => RunRow::LearningPath(
                workspace::create_learning_path(&txn, run, title, user_profile).await?,
            ),
        };
        let kind = row.kind();
        // The reservation depends on the run's prompt, known once its row is.
        if let Some(scope) = no_room(&txn, &keys, self.reservation_for(&row)).await? {
            txn.rollback().await.map_err(StoreError::from)?;
            return Err(self.chat.refusal(&user, scope).await);
        }
        self.count_run(&txn, &user).await?;
        self.queue
            .enqueue(&txn, kind.job_kind(), row.id(), Some(&user))
            .await?;
        audit::record(
            &txn,
            Some(&user),
            &format!("{}.created", kind.job_kind()),
            kind.type_name(),
            row.id(),
            json!({ "projectId": project_id, "model": model }),
        )
        .await?;
        txn.commit().await.map_err(StoreError::from)?;
        self.queue.wake();
        self.publish(kind, row.id(), &user);
        Ok(row)
    }

    /// Queues a finished (or failed, or cancelled) run of the caller's again.
    pub async fn rerun(&self, caller: &Caller, kind: RunKind, id: &str) -> ApiResult<RunRow> {
        let user = caller.actor.user_id.clone();
        let row = self
            .find_run(Some(caller), kind, id)
            .await?
            .ok_or(ApiError::NotFound)?;
        if matches!(row.status(), "PENDING" | "PROCESSING") {
            return Err(ApiError::Conflict(
                "the run is still queued or running: cancel it first".into(),
            ));
        }
        let keys = self.chat.budgets_for(&user, None).await?;
        if let Some(scope) = no_room(self.db.conn(), &keys, self.reservation_for(&row)).await? {
            return Err(self.chat.refusal(&user, scope).await);
        }
        let txn = self.db.conn().begin().await.map_err(StoreError::from)?;
        set_status(&txn, kind, id, "PENDING").await?;
        self.count_run(&txn, &user).await?;
        self.queue
            .enqueue(&txn, kind.job_kind(), id, Some(&user))
            .await?;
        audit::record(
            &txn,
            Some(&user),
            &format!("{}.rerun", kind.job_kind()),
            kind.type_name(),
            id,
            json!({ "from": row.status() }),
        )
        .await?;
        txn.commit().await.map_err(StoreError::from)?;
        self.queue.wake();
        self.publish(kind, id, &user);
        self.find_run(Some(caller), kind, id)
            .await?
            .ok_or(ApiError::NotFound)
    }

    /// Cancels a queued or running run of the caller's. A queued run is never charged; a running
    /// one is charged what its provider call used, and its answer is dropped.
    pub async fn cancel(&self, caller: &Caller, kind: RunKind, id: &str) -> ApiResult<RunRow> {
        let user = caller.actor.user_id.clone();
        let row = self
            .find_run(Some(caller), kind, id)
            .await?
            .ok_or(ApiError::NotFound)?;
        if !matches!(row.status(), "PENDING" | "PROCESSING") {
            return Err(ApiError::Conflict(format!(
                "the run is {} already: only a queued or running run can be cancelled",
                row.status()
            )));
        }
        let txn = self.db.conn().begin().await.map_err(StoreError::from)?;
        jobs::cancel_active(&txn, id).await?;
        set_status(&txn, kind, id, "CANCELLED").await?;
        audit::record(
            &txn,
            Some(&user),
            &format!("{}.cancelled", kind.job_kind()),
            kind.type_name(),
            id,
            json!({ "from": row.status() }),
        )
        .await?;
        txn.commit().await.map_err(StoreError::from)?;
        self.publish(kind, id, &user);
        self.find_run(Some(caller), kind, id)
            .await?
            .ok_or(ApiError::NotFound)
    }

    /// Updates of one of the caller's runs (`kind`, `id`) as its status changes, on any instance.
    pub async fn run_updated(
        &self,
        caller: &Caller,
        kind: RunKind,
        id: &str,
    ) -> ApiResult<impl Stream<Item = ApiResult<RunRow>> + use<>> {
        let changes =
            self.events
                .changes(kind.job_kind(), Wanted::Id(id.to_owned()), "aiRunUpdated");
        if self.find_run(Some(caller), kind, id).await?.is_none() {
            return Err(ApiError::NotFound);
        }
        let caller = caller.clone();
        let id = id.to_owned();
        let db = self.db.clone();
        Ok(async_stream::stream! {
            futures::pin_mut!(changes);
            while changes.next().await.is_some() {
                match find_own(&db, &caller.actor.user_id, kind, &id).await {
                    Ok(Some(row)) => yield Ok(row),
                    Ok(None) => break,
                    Err(e) => yield Err(e),
                }
            }
        })
    }

    pub(super) fn publish(&self, kind: RunKind, id: &str, owner: &str) {
        self.events.publish_change(ChangeEvent {
            kind: kind.job_kind().to_owned(),
            id: id.to_owned(),
            owner_id: Some(owner.to_owned()),
        });
    }

    /// Counts a run against the user's plan (its monthly analyses), in the run's transaction:
    /// QUOTA_EXCEEDED naming the plan when it has no run left this period. Called after the
    /// transaction's first write (SQLite cannot upgrade a reading transaction under a writer).
    async fn count_run(&self, txn: &impl ConnectionTrait, user: &str) -> ApiResult<()> {
        let plan = crate::billing::service::plan_of(txn, user).await?;
        match self.chat.plans().get(plan).analyses_per_month {
            Some(limit) => {
                if !subscriptions::add_usage_within(txn, user, subscriptions::ANALYSES, 1, limit)
                    .await?
                {
                    return Err(ApiError::PlanLimit {
                        plan: plan.as_str(),
                        metric: subscriptions::ANALYSES,
                    });
                }
            }
            None => subscriptions::add_usage(txn, user, subscriptions::ANALYSES, 1).await?,
        }
        Ok(())
    }

    /// Checks a draft's fields; reads a contract's text from the caller's upload.
    async fn check_draft(&self, user: &str, draft: RunDraft) -> ApiResult<RunDraft> {
        Ok(match draft {
            RunDraft::Analysis { kind, input, model } => {
                if kinds::analysis_type(&kind).is_none() {
                    return Err(ApiError::bad_input("type", "is not an analysis type"));
                }
                RunDraft::Analysis {
                    kind,
                    input: check_text(&input, "input")?,
                    model: model.map(|m| m.trim().to_owned()).filter(|m| !m.is_empty()),
                }
            }
            RunDraft::Contract {
                title,
                contract_type,
                text,
                upload_id,
            } => {
                let text = match (text, &upload_id) {
                    (Some(t), None) => check_text(&t, "text")?,
                    (None, Some(upload)) => {
                        match workspace::upload_text_own(self.db.conn(), user, upload).await? {
                            None => return Err(ApiError::NotFound),
                            Some(None) => {
                                return Err(ApiError::bad_input(
                                    "uploadId",
                                    "the upload has no text to analyse",
                                ));
                            }
                            Some(Some(t)) => check_text(&t, "uploadId")?,
                        }
                    }
                    (Some(_), Some(_)) => {
                        return Err(ApiError::bad_input(
                            "text",
                            "give text or uploadId, not both",
                        ));
                    }
                    (None, None) => {
                        return Err(ApiError::bad_input(
                            "text",
                            "give the contract's text or an uploadId",
                        ));
                    }
                };
                RunDraft::Contract {
                    title: check_name(&title, "title")?,
                    contract_type,
                    text: Some(text),
                    upload_id,
                }
            }
            RunDraft::Localization {
                product_name,
                target_market,
                product_desc,
                product_images,
            } => RunDraft::Localization {
                product_name: check_name(&product_name, "productName")?,
                target_market: check_name(&target_market, "targetMarket")?,
                product_desc: product_desc
                    .map(|d| check_text(&d, "productDesc"))
                    .transpose()?,
                product_images: check_list(product_images, "productImages")?,
            },
            RunDraft::Behavior {
                customer_segment,
                data_source,
            } => RunDraft::Behavior {
                customer_segment: customer_segment
                    .map(|s| check_name(&s, "customerSegment"))
                    .transpose()?,
                data_source: check_json(data_source, "dataSource")?,
            },
            RunDraft::Compliance {
                business_type,
                jurisdiction,
                regulations,
            } => RunDraft::Compliance {
                business_type: check_name(&business_type, "businessType")?,
                jurisdiction: check_name(&jurisdiction, "jurisdiction")?,
                regulations: check_list(regulations, "regulations")?,
            },
            RunDraft::LearningPath {
                title,
                user_profile,
            } => RunDraft::LearningPath {
                title: title.map(|t| check_name(&t, "title")).transpose()?,
                user_profile: check_json(user_profile, "userProfile")?,
            },
        })
    }
}

/// The first budget among `keys` with no room for `tokens` (the job's reservation of a run),
/// by the rule the reservation itself applies (`used + reserved + tokens <= limit`). The job
/// reserves for real when it runs; this spares the user a run that would fail at once.
async fn no_room(
    db: &impl ConnectionTrait,
    keys: &[budgets::BudgetKey],
    tokens: i64,
) -> ApiResult<Option<&'static str>> {
    for key in keys {
        let (taken, limit) = match budgets::find(db, key).await? {
            Some(b) => (b.used + b.reserved, b.limit_tokens),
            None => (0, key.limit_tokens),
        };
        if taken + tokens > limit {
            return Ok(Some(key.scope));
        }
    }
    Ok(None)
}

/// The owner's run of `kind`.
pub(super) async fn find_own(
    db: &Db,
    user: &str,
    kind: RunKind,
    id: &str,
) -> ApiResult<Option<RunRow>> {
    let db = db.conn();
    Ok(match kind {
        RunKind::Analysis => workspace::analyses::find_own(db, user, id)
            .await?
            .map(RunRow::Analysis),
        RunKind::Contract => workspace::contracts::find_own(db, user, id)
            .await?
            .map(RunRow::Contract),
        RunKind::Localization => workspace::localizations::find_own(db, user, id)
            .await?
            .map(RunRow::Localization),
        RunKind::Behavior => workspace::behaviors::find_own(db, user, id)
            .await?
            .map(RunRow::Behavior),
        RunKind::Compliance => workspace::compliance::find_own(db, user, id)
            .await?
            .map(RunRow::Compliance),
        RunKind::LearningPath => workspace::learning_paths::find_own(db, user, id)
            .await?
            .map(RunRow::LearningPath),
    })
}

/// Moves a run of `kind` to `status`.
pub(super) async fn set_status(
    db: &impl persistence::sea_orm::ConnectionTrait,
    kind: RunKind,
    id: &str,
    status: &str,
) -> ApiResult<bool> {
    Ok(match kind {
        RunKind::Analysis => workspace::analyses::set_status(db, id, status).await?,
        RunKind::Contract => workspace::contracts::set_status(db, id, status).await?,
        RunKind::Localization => workspace::localizations::set_status(db, id, status).await?,
        RunKind::Behavior => workspace::behaviors::set_status(db, id, status).await?,
        RunKind::Compliance => workspace::compliance::set_status(db, id, status).await?,
        RunKind::LearningPath => workspace::learning_paths::set_status(db, id, status).await?,
    })
}

fn check_name(value: &str, field: &'static str) -> ApiResult<String> {
    let value = value.trim();
    if value.is_empty() {
        return Err(ApiError::bad_input(field, "must not be empty"));
    }
    if value.chars().count() > MAX_NAME {
        return Err(ApiError::bad_input(
            field,
            format!("must be at most {MAX_NAME} characters"),
        ));
    }
    Ok(value.to_owned())
}

fn check_description(value: Option<String>) -> ApiResult<Option<String>> {
    match value.map(|d| d.trim().to_owned()).filter(|d| !d.is_empty()) {
        None => Ok(None),
        Some(d) if d.chars().count() > 5_000 => Err(ApiError::bad_input(
            "description",
            "must be at most 5000 characters",
        )),
        Some(d) => Ok(Some(d)),
    }
}

fn check_text(value: &str, field: &'static str) -> ApiResult<String> {
    if value.trim().is_empty() {
        return Err(ApiError::bad_input(field, "must not be empty"));
    }
    if value.contains('\0') {
        return Err(ApiError::bad_input(
            field,
            "must not contain NUL characters",
        ));
    }
    if value.chars().count() > MAX_INPUT {
        return Err(ApiError::bad_input(
            field,
            format!("must be at most {MAX_INPUT} characters"),
        ));
    }
    Ok(value.to_owned())
}

fn check_list(values: Vec<String>, field: &'static str) -> ApiResult<Vec<String>> {
    if values.len() > 50 {
        return Err(ApiError::bad_input(field, "at most 50 entries"));
    }
    values.into_iter().map(|v| check_name(&v, field)).collect()
}

fn check_json(value: Value, field: &'static str) -> ApiResult<Value> {
    if value.to_string().len() > MAX_INPUT {
        return Err(ApiError::bad_input(
            field,
            format!("must be at most {MAX_INPUT} characters of JSON"),
        ));
    }
    Ok(value)
}

fn check_project_filter(filter: &ProjectFilter) -> ApiResult<ProjectFilter> {
    let search = match filter
        .search
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => None,
        Some(s) if s.chars().count() > 200 => {
            return Err(ApiError::bad_input(
                "search",
                "must be at most 200 characters",
            ));
        }
        Some(s) => Some(s.to_owned()),
    };
    Ok(ProjectFilter {
        status: filter.status.clone(),
        search,
    })
}

/// This instance's job pool, running every kind of workspace run with `service`.
pub fn job_runner(service: &Arc<WorkspaceService>) -> JobRunner {
    let mut runner = JobRunner::new(Arc::clone(&service.queue));
    for kind in RunKind::ALL {
        let handler: Arc<dyn JobHandler> = Arc::clone(service) as Arc<dyn JobHandler>;
        runner = runner.handle(kind.job_kind(), handler);
    }
    runner
}

/// Marks a run of `kind` PROCESSING unless it left the queue meanwhile (cancelled).
pub(super) async fn mark_processing(db: &Db, kind: RunKind, id: &str) -> ApiResult<bool> {
    let db = db.conn();
    Ok(match kind {
        RunKind::Analysis => workspace::analyses::mark_processing(db, id).await?,
        RunKind::Contract => workspace::contracts::mark_processing(db, id).await?,
        RunKind::Localization => workspace::localizations::mark_processing(db, id).await?,
        RunKind::Behavior => workspace::behaviors::mark_processing(db, id).await?,
        RunKind::Compliance => workspace::compliance::mark_processing(db, id).await?,
        RunKind::LearningPath => workspace::learning_paths::mark_processing(db, id).await?,
    })
}
