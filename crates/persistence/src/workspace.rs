//! The workspace (OptiMind, seed 003): projects, generic analyses and the five business
//! solutions' runs (contract, localization and customer-behavior analyses, compliance
//! monitoring, generated learning paths). Every read here is scoped by the owner's `user_id`.
//!
//! The six run tables share their shape (owner, optional project, status, confidence,
//! processing time, metadata), so one macro gives each its module of the same reads and
//! writes ([`analyses`], [`contracts`], [`localizations`], [`behaviors`], [`compliance`],
//! [`learning_paths`]); what differs (creation, the contract risk filter) is written out.
//! `learning_paths` also holds Azora's curated paths (no owner): only rows with an owner are ever
//! touched here.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use core_domain::pagination::PageArgs;
use core_domain::{ids, time};
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait,
    PaginatorTrait, QueryFilter, Select, Set,
};

use crate::cursor::Keyset;
use crate::entity::{projects, uploads};
use crate::{Page, StoreError};

pub use projects::Model as Project;

/// How a list of runs may be narrowed (conditions combine with AND).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunFilter {
    pub status: Option<String>,
    pub project_id: Option<String>,
    /// Analyses: the type; contracts: the contract type.
    pub kind: Option<String>,
    /// Contracts only: `risk_assessment.overallRisk` at least this (a JSON-path condition).
    pub min_overall_risk: Option<f64>,
}

fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

// ---------------------------------------------------------------------------------------------
// Projects

/// What a new project holds.
#[derive(Debug, Clone, Default)]
pub struct NewProject {
    pub user_id: String,
    pub name: String,
    pub description: Option<String>,
    pub status: String,
    pub metadata: Option<serde_json::Value>,
}

/// Changes to a project: `Some` fields are written.
#[derive(Debug, Clone, Default)]
pub struct ProjectPatch {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub status: Option<String>,
    pub metadata: Option<Option<serde_json::Value>>,
}

/// How a user's projects may be narrowed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ProjectFilter {
    pub status: Option<String>,
    /// Case-insensitive substring of the name or description.
    pub search: Option<String>,
}

/// The orderings of a project list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum ProjectOrder {
    #[default]
    CreatedNewest,
    CreatedOldest,
    UpdatedNewest,
}

impl ProjectOrder {
    pub fn keyset(self) -> Keyset<projects::Column> {
        use projects::Column;
        match self {
            ProjectOrder::CreatedNewest => Keyset {
                name: "projects.created_at.desc",
                at: Column::CreatedAt,
                id: Column::Id,
                descending: true,
            },
            ProjectOrder::CreatedOldest => Keyset {
                name: "projects.created_at.asc",
                at: Column::CreatedAt,
                id: Column::Id,
                descending: false,
            },
            ProjectOrder::UpdatedNewest => Keyset {
                name: "projects.updated_at.desc",
                at: Column::UpdatedAt,
                id: Column::Id,
                descending: true,
            },
        }
    }

    /// The timestamp a cursor for `row` carries under this order.
    pub fn cursor_at(self, row: &Project) -> DateTime<Utc> {
        match self {
            ProjectOrder::UpdatedNewest => row.updated_at,
            _ => row.created_at,
        }
    }
}

pub async fn create_project(
    db: &impl ConnectionTrait,
    new: NewProject,
) -> Result<Project, StoreError> {
    let now = time::now();
    Ok(projects::ActiveModel {
        id: Set(ids::new_id()),
        user_id: Set(new.user_id),
        name: Set(new.name),
        description: Set(new.description),
        status: Set(new.status),
        metadata: Set(new.metadata),
        created_at: Set(now),
        updated_at: Set(now),
        deleted_at: Set(None),
    }
    .insert(db)
    .await?)
}

fn own_projects(user_id: &str) -> Select<projects::Entity> {
    projects::Entity::find()
        .filter(projects::Column::UserId.eq(user_id))
        .filter(projects::Column::DeletedAt.is_null())
}

/// The owner's live project `id`.
pub async fn find_project_own(
    db: &impl ConnectionTrait,
    user_id: &str,
    id: &str,
) -> Result<Option<Project>, StoreError> {
    Ok(own_projects(user_id)
        .filter(projects::Column::Id.eq(id))
        .one(db)
        .await?)
}

/// The owner's live projects among `ids`, in one statement.
pub async fn projects_own_by_ids(
    db: &impl ConnectionTrait,
    user_id: &str,
    ids: &[String],
) -> Result<Vec<Project>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(own_projects(user_id)
        .filter(projects::Column::Id.is_in(ids.iter().cloned()))
        .all(db)
        .await?)
}

/// Applies `patch` to the owner's live project; `None` when it is not theirs, missing or deleted.
pub async fn update_project_own(
    db: &impl ConnectionTrait,
    user_id: &str,
    id: &str,
    patch: ProjectPatch,
) -> Result<Option<Project>, StoreError> {
    use projects::Column;
    let mut update = projects::Entity::update_many()
        .col_expr(Column::UpdatedAt, Expr::value(time::now()))
        .filter(Column::Id.eq(id))
        .filter(Column::UserId.eq(user_id))
        .filter(Column::DeletedAt.is_null());
    if let Some(name) = patch.name {
        update = update.col_expr(Column::Name, Expr::value(name));
    }
    if let Some(description) = patch.description {
        update = update.col_expr(Column::Description, Expr::value(description));
    }
    if let Some(status) = patch.status {
        update = update.col_expr(Column::Status, Expr::value(status));
    }
    if let Some(metadata) = patch.metadata {
        update = update.col_expr(Column::Metadata, Expr::value(metadata));
    }
    if update.exec(db).await?.rows_affected == 0 {
        return Ok(None);
    }
    find_project_own(db, user_id, id).await
}

/// Soft-deletes the owner's project: it is marked deleted and every row filed under it (analyses,
/// uploads, solution runs) keeps existing with its project cleared, as the seed's `SetNull` says.
/// False when it is not theirs, missing or deleted already. Run it in a transaction.
pub async fn delete_project_own(
    db: &impl ConnectionTrait,
    user_id: &str,
    id: &str,
) -> Result<bool, StoreError> {
    use projects::Column;
    let now = time::now();
    let res = projects::Entity::update_many()
        .col_expr(Column::DeletedAt, Expr::value(now))
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .filter(Column::Id.eq(id))
        .filter(Column::UserId.eq(user_id))
        .filter(Column::DeletedAt.is_null())
        .exec(db)
        .await?;
    if res.rows_affected == 0 {
        return Ok(false);
    }
    uploads::Entity::update_many()
        .col_expr(
            uploads::Column::ProjectId,
            Expr::value(Option::<String>::None),
        )
        .filter(uploads::Column::ProjectId.eq(id))
        .exec(db)
        .await?;
    analyses::clear_project(db, id).await?;
    contracts::clear_project(db, id).await?;
    localizations::clear_project(db, id).await?;
    behaviors::clear_project(db, id).await?;
    compliance::clear_project(db, id).await?;
    learning_paths::clear_project(db, id).await?;
    Ok(true)
}

fn filtered_projects(user_id: &str, filter: &ProjectFilter) -> Select<projects::Entity> {
    use projects::Column;
    let mut select = own_projects(user_id);
    if let Some(status) = &filter.status {
        select = select.filter(Column::Status.eq(status.clone()));
    }
    if let Some(text) = filter.search.as_deref().filter(|t| !t.is_empty()) {
        let pattern = format!("%{}%", escape_like(&text.to_lowercase()));
        let like = |col: Column| {
            Func::lower(Expr::col(col)).like(LikeExpr::new(pattern.clone()).escape('\\'))
        };
        select = select.filter(
            Condition::any()
                .add(like(Column::Name))
                .add(like(Column::Description)),
        );
    }
    select
}

/// One page of the owner's live projects under `filter`.
pub async fn page_projects_own(
    db: &impl ConnectionTrait,
    user_id: &str,
    filter: &ProjectFilter,
    order: ProjectOrder,
    args: &PageArgs,
) -> Result<Page<Project>, StoreError> {
    let keyset = order.keyset();
    let rows = keyset
        .apply(filtered_projects(user_id, filter), args)?
        .all(db)
        .await?;
    Ok(Keyset::<projects::Column>::page(args, rows))
}

pub async fn count_projects_own(
    db: &impl ConnectionTrait,
    user_id: &str,
    filter: &ProjectFilter,
) -> Result<u64, StoreError> {
    Ok(filtered_projects(user_id, filter).count(db).await?)
}

// ---------------------------------------------------------------------------------------------
// Uploads (read only: the uploads area owns them)

/// The text extracted from the owner's COMPLETED upload `id`: `Ok(None)` when the upload is not
/// theirs, missing or not completed; `Ok(Some(None))` when it has no text.
pub async fn upload_text_own(
    db: &impl ConnectionTrait,
    user_id: &str,
    id: &str,
) -> Result<Option<Option<String>>, StoreError> {
    let row = uploads::Entity::find()
        .filter(uploads::Column::Id.eq(id))
        .filter(uploads::Column::UserId.eq(user_id))
        .filter(uploads::Column::Status.eq("COMPLETED"))
        .one(db)
        .await?;
    Ok(row.map(|u| u.extracted_text))
}

// ---------------------------------------------------------------------------------------------
// Runs

/// A run table's shared reads and writes; `$extra` adds the table's own filter conditions.
macro_rules! runs {
    ($module:ident, $entity:ident, $name:literal, $extra:path) => {
        pub mod $module {
            use super::*;
            pub use crate::entity::$entity::{ActiveModel, Column, Entity, Model as Row};

            /// Newest first, by the `(user_id, created_at, id)` index.
            pub const KEYSET: Keyset<Column> = Keyset {
                name: concat!($name, ".created_at.desc"),
                at: Column::CreatedAt,
                id: Column::Id,
                descending: true,
            };

            fn own(user_id: &str) -> Select<Entity> {
                Entity::find().filter(Column::UserId.eq(user_id))
            }

            /// The row `id`, whoever owns it (for the job that fills it).
            pub async fn find(
                db: &impl ConnectionTrait,
                id: &str,
            ) -> Result<Option<Row>, StoreError> {
                Ok(Entity::find_by_id(id.to_owned()).one(db).await?)
            }

            /// The owner's row `id`.
            pub async fn find_own(
                db: &impl ConnectionTrait,
                user_id: &str,
                id: &str,
            ) -> Result<Option<Row>, StoreError> {
                Ok(own(user_id).filter(Column::Id.eq(id)).one(db).await?)
            }

            /// The owner's rows among `ids`, in one statement.
            pub async fn own_by_ids(
                db: &impl ConnectionTrait,
                user_id: &str,
                ids: &[String],
            ) -> Result<Vec<Row>, StoreError> {
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                Ok(own(user_id)
                    .filter(Column::Id.is_in(ids.iter().cloned()))
                    .all(db)
                    .await?)
            }

            fn filtered(backend: DbBackend, user_id: &str, filter: &RunFilter) -> Select<Entity> {
                let mut cond = Condition::all().add(Column::UserId.eq(user_id));
                if let Some(status) = &filter.status {
                    cond = cond.add(Column::Status.eq(status.clone()));
                }
                if let Some(project) = &filter.project_id {
                    cond = cond.add(Column::ProjectId.eq(project.clone()));
                }
                Entity::find().filter(cond.add($extra(backend, filter)))
            }

            /// One page of the owner's rows under `filter`, newest first.
            pub async fn page_own(
                db: &impl ConnectionTrait,
                user_id: &str,
                filter: &RunFilter,
                args: &PageArgs,
            ) -> Result<Page<Row>, StoreError> {
                let rows = KEYSET
                    .apply(filtered(db.get_database_backend(), user_id, filter), args)?
                    .all(db)
                    .await?;
                Ok(Keyset::<Column>::page(args, rows))
            }

            pub async fn count_own(
                db: &impl ConnectionTrait,
                user_id: &str,
                filter: &RunFilter,
            ) -> Result<u64, StoreError> {
                Ok(filtered(db.get_database_backend(), user_id, filter)
                    .count(db)
                    .await?)
            }

            /// One page per project (of `user_id`'s rows), in one statement.
            pub async fn pages_for_projects(
                db: &impl ConnectionTrait,
                user_id: &str,
                project_ids: &[String],
                args: &PageArgs,
            ) -> Result<HashMap<String, Page<Row>>, StoreError> {
                crate::cursor::batch::pages_by_parent(
                    db,
                    own(user_id),
                    Column::ProjectId,
                    project_ids,
                    &KEYSET,
                    args,
                    |r: &Row| r.project_id.as_deref().unwrap_or_default(),
                )
                .await
            }

            /// How many of `user_id`'s rows each project holds, in one statement.
            pub async fn counts_for_projects(
                db: &impl ConnectionTrait,
                user_id: &str,
                project_ids: &[String],
            ) -> Result<HashMap<String, u64>, StoreError> {
                crate::rows::counts_by_parent(db, own(user_id), Column::ProjectId, project_ids)
                    .await
            }

            /// Moves the row to `status` (and stamps it); false when it does not exist.
            pub async fn set_status(
                db: &impl ConnectionTrait,
                id: &str,
                status: &str,
            ) -> Result<bool, StoreError> {
                let res = Entity::update_many()
                    .col_expr(Column::Status, Expr::value(status))
                    .col_expr(Column::UpdatedAt, Expr::value(time::now()))
                    .filter(Column::Id.eq(id))
                    .exec(db)
                    .await?;
                Ok(res.rows_affected > 0)
            }

            /// Marks a queued run PROCESSING (a run already PROCESSING stays so); false when it
            /// is neither, e.g. cancelled meanwhile.
            pub async fn mark_processing(
                db: &impl ConnectionTrait,
                id: &str,
            ) -> Result<bool, StoreError> {
                let res = Entity::update_many()
                    .col_expr(Column::Status, Expr::value("PROCESSING"))
                    .col_expr(Column::UpdatedAt, Expr::value(time::now()))
                    .filter(Column::Id.eq(id))
                    .filter(Column::Status.is_in(["PENDING", "PROCESSING"]))
                    .exec(db)
                    .await?;
                Ok(res.rows_affected > 0)
            }

            /// Writes a run's outcome: its status, confidence, processing time, metadata and the
            /// table's own result `columns`.
            pub async fn write_outcome(
                db: &impl ConnectionTrait,
                id: &str,
                outcome: Outcome<Column>,
            ) -> Result<bool, StoreError> {
                let mut update = Entity::update_many()
                    .col_expr(Column::Status, Expr::value(outcome.status))
                    .col_expr(Column::Confidence, Expr::value(outcome.confidence))
                    .col_expr(Column::ProcessingTime, Expr::value(outcome.processing_time))
                    .col_expr(Column::Metadata, Expr::value(outcome.metadata))
                    .col_expr(Column::UpdatedAt, Expr::value(time::now()))
                    .filter(Column::Id.eq(id));
                for (column, value) in outcome.columns {
                    update = update.col_expr(column, Expr::value(value));
                }
                Ok(update.exec(db).await?.rows_affected > 0)
            }

            /// Clears the project of the rows filed under `project_id` (its soft delete).
            pub async fn clear_project(
                db: &impl ConnectionTrait,
                project_id: &str,
            ) -> Result<u64, StoreError> {
                let res = Entity::update_many()
                    .col_expr(Column::ProjectId, Expr::value(Option::<String>::None))
                    .filter(Column::ProjectId.eq(project_id))
                    .exec(db)
                    .await?;
                Ok(res.rows_affected)
            }
        }
    };
}

/// What a finished (or failed) run writes.
#[derive(Debug, Clone)]
pub struct Outcome<C> {
    pub status: String,
    pub confidence: Option<f64>,
    pub processing_time: Option<i32>,
    pub metadata: Option<serde_json::Value>,
    pub columns: Vec<(C, sea_orm::Value)>,
}

fn no_extra(_: DbBackend, _: &RunFilter) -> Condition {
    Condition::all()
}

fn analysis_extra(_: DbBackend, filter: &RunFilter) -> Condition {
    let mut cond = Condition::all();
    if let Some(kind) = &filter.kind {
        cond = cond.add(crate::entity::analyses::Column::Type.eq(kind.clone()));
    }
    cond
}

/// The contract type, and the seed's JSON-path query: `risk_assessment.overallRisk` at least the
/// threshold, read with `json_extract` on SQLite and `->>` on PostgreSQL.
fn contract_extra(backend: DbBackend, filter: &RunFilter) -> Condition {
    let mut cond = Condition::all();
    if let Some(kind) = &filter.kind {
        cond = cond.add(crate::entity::contract_analyses::Column::ContractType.eq(kind.clone()));
    }
    if let Some(min) = filter.min_overall_risk {
        cond = cond.add(match backend {
            DbBackend::Postgres => Expr::cust_with_values(
                r#"("contract_analyses"."risk_assessment" ->> 'overallRisk')::double precision >= $1"#,
                [min],
            ),
            _ => Expr::cust_with_values(
                r#"CAST(json_extract("contract_analyses"."risk_assessment", '$.overallRisk') AS REAL) >= ?"#,
                [min],
            ),
        });
    }
    cond
}

runs!(analyses, analyses, "analyses", analysis_extra);
runs!(
    contracts,
    contract_analyses,
    "contract_analyses",
    contract_extra
);
runs!(
    localizations,
    localization_analyses,
    "localization_analyses",
    no_extra
);
runs!(
    behaviors,
    customer_behavior_analyses,
    "customer_behavior_analyses",
    no_extra
);
runs!(
    compliance,
    compliance_monitoring,
    "compliance_monitoring",
    no_extra
);
runs!(learning_paths, learning_paths, "learning_paths", no_extra);

/// The common columns of a new run.
#[derive(Debug, Clone, Default)]
pub struct NewRun {
    pub user_id: String,
    pub project_id: Option<String>,
    pub metadata: Option<serde_json::Value>,
}

pub async fn create_analysis(
    db: &impl ConnectionTrait,
    run: NewRun,
    kind: &str,
    input: String,
    model: Option<String>,
) -> Result<analyses::Row, StoreError> {
    let now = time::now();
    Ok(analyses::ActiveModel {
        id: Set(ids::new_id()),
        r#type: Set(kind.to_owned()),
        input: Set(input),
        result: Set(None),
        confidence: Set(None),
        status: Set("PENDING".to_owned()),
        user_id: Set(run.user_id),
        project_id: Set(run.project_id),
        model: Set(model),
        processing_time: Set(None),
        metadata: Set(run.metadata),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?)
}

pub async fn create_contract(
    db: &impl ConnectionTrait,
    run: NewRun,
    title: String,
    contract_type: &str,
    file_url: Option<String>,
    text: String,
) -> Result<contracts::Row, StoreError> {
    let now = time::now();
    Ok(contracts::ActiveModel {
        id: Set(ids::new_id()),
        user_id: Set(run.user_id),
        project_id: Set(run.project_id),
        contract_title: Set(title),
        contract_type: Set(contract_type.to_owned()),
        file_url: Set(file_url),
        extracted_text: Set(Some(text)),
        risk_assessment: Set(None),
        clauses: Set(None),
        plain_language: Set(None),
        compliance_check: Set(None),
        recommendations: Set(None),
        confidence: Set(None),
        processing_time: Set(None),
        status: Set("PENDING".to_owned()),
        metadata: Set(run.metadata),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?)
}

pub async fn create_localization(
    db: &impl ConnectionTrait,
    run: NewRun,
    product_name: String,
    target_market: String,
    product_desc: Option<String>,
    product_images: Vec<String>,
) -> Result<localizations::Row, StoreError> {
    let now = time::now();
    Ok(localizations::ActiveModel {
        id: Set(ids::new_id()),
        user_id: Set(run.user_id),
        project_id: Set(run.project_id),
        product_name: Set(product_name),
        target_market: Set(target_market),
        product_images: Set(Some(serde_json::json!(product_images))),
        product_desc: Set(product_desc),
        cultural_analysis: Set(None),
        visual_adaptation: Set(None),
        market_strategy: Set(None),
        compliance_check: Set(None),
        competitor_analysis: Set(None),
        confidence: Set(None),
        processing_time: Set(None),
        status: Set("PENDING".to_owned()),
        metadata: Set(run.metadata),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?)
}

pub async fn create_behavior(
    db: &impl ConnectionTrait,
    run: NewRun,
    customer_segment: Option<String>,
    data_source: serde_json::Value,
) -> Result<behaviors::Row, StoreError> {
    let now = time::now();
    Ok(behaviors::ActiveModel {
        id: Set(ids::new_id()),
        user_id: Set(run.user_id),
        project_id: Set(run.project_id),
        customer_segment: Set(customer_segment),
        data_source: Set(Some(data_source)),
        behavior_prediction: Set(None),
        sentiment_analysis: Set(None),
        journey_mapping: Set(None),
        recommendations: Set(None),
        conversion_probability: Set(None),
        churn_risk: Set(None),
        confidence: Set(None),
        processing_time: Set(None),
        status: Set("PENDING".to_owned()),
        metadata: Set(run.metadata),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?)
}

pub async fn create_compliance(
    db: &impl ConnectionTrait,
    run: NewRun,
    business_type: String,
    jurisdiction: String,
    regulations: Vec<String>,
) -> Result<compliance::Row, StoreError> {
    let now = time::now();
    Ok(compliance::ActiveModel {
        id: Set(ids::new_id()),
        user_id: Set(run.user_id),
        project_id: Set(run.project_id),
        business_type: Set(business_type),
        jurisdiction: Set(jurisdiction),
        regulations: Set(Some(serde_json::json!(regulations))),
        risk_assessment: Set(None),
        document_reviews: Set(None),
        action_plan: Set(None),
        audit_preparation: Set(None),
        training_materials: Set(None),
        next_review_date: Set(None),
        confidence: Set(None),
        processing_time: Set(None),
        status: Set("PENDING".to_owned()),
        metadata: Set(run.metadata),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?)
}

pub async fn create_learning_path(
    db: &impl ConnectionTrait,
    run: NewRun,
    title: Option<String>,
    user_profile: serde_json::Value,
) -> Result<learning_paths::Row, StoreError> {
    let now = time::now();
    Ok(learning_paths::ActiveModel {
        id: Set(ids::new_id()),
        user_id: Set(Some(run.user_id)),
        project_id: Set(run.project_id),
        title: Set(title),
        description: Set(None),
        user_profile: Set(Some(user_profile)),
        skill_assessment: Set(None),
        learning_style: Set(None),
        generated_path: Set(None),
        progress_tracking: Set(None),
        certifications: Set(None),
        recommendations: Set(None),
        estimated_completion: Set(None),
        confidence: Set(None),
        processing_time: Set(None),
        status: Set("PENDING".to_owned()),
        metadata: Set(run.metadata),
        created_at: Set(now),
        updated_at: Set(now),
        // A generated path, not one of the curated course sequences.
        curated: Set(false),
        author_id: Set(None),
        published_at: Set(None),
    }
    .insert(db)
    .await?)
}
