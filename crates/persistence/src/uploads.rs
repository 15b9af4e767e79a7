//! Uploads (OptiMind): files a user stored, with their processing status, SHA-256 and the text
//! extracted from documents. Only ever read for their owner: every query here is scoped by
//! `user_id`. The bytes live in the object store under `path`; a DELETED upload keeps its row.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use core_domain::pagination::PageArgs;
use core_domain::time;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, Select, Set,
};

use crate::cursor::Keyset;
use crate::entity::projects;
use crate::entity::uploads::{self, Column, Entity};
use crate::{Page, StoreError};

pub use uploads::Model as Upload;

/// What a new upload holds (its bytes are written to the store after the row).
#[derive(Debug, Clone, Default)]
pub struct NewUpload {
    pub id: String,
    pub user_id: String,
    pub project_id: Option<String>,
    pub filename: String,
    pub original_name: String,
    pub path: String,
    pub size: i64,
    pub mime_type: String,
    pub sha256: String,
    pub metadata: Option<serde_json::Value>,
}

/// How the owner's uploads may be narrowed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct UploadFilter {
    pub status: Option<String>,
    pub project_id: Option<String>,
    /// Leave out DELETED uploads unless the status filter asks for them.
    pub include_deleted: bool,
}

/// Newest first, by the `(user_id, created_at, id)` index.
pub fn keyset() -> Keyset<Column> {
    Keyset {
        name: "uploads.created_at.desc",
        at: Column::CreatedAt,
        id: Column::Id,
        descending: true,
    }
}

pub async fn create(db: &impl ConnectionTrait, new: NewUpload) -> Result<Upload, StoreError> {
    let now = time::now();
    Ok(uploads::ActiveModel {
        id: Set(new.id),
        filename: Set(new.filename),
        original_name: Set(new.original_name),
        path: Set(new.path),
        size: Set(new.size),
        mime_type: Set(new.mime_type),
        status: Set("PENDING".to_owned()),
        user_id: Set(new.user_id),
        project_id: Set(new.project_id),
        metadata: Set(new.metadata),
        processed_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        sha256: Set(Some(new.sha256)),
        extracted_text: Set(None),
    }
    .insert(db)
    .await?)
}

/// Moves the upload to `status`; `processed` stamps `processed_at`, `text` stores extracted text.
pub async fn set_status(
    db: &impl ConnectionTrait,
    id: &str,
    status: &str,
    processed: bool,
    text: Option<String>,
) -> Result<(), StoreError> {
    let now = time::now();
    let mut update = Entity::update_many()
        .col_expr(Column::Status, Expr::value(status))
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .filter(Column::Id.eq(id));
    if processed {
        update = update.col_expr(Column::ProcessedAt, Expr::value(now));
    }
    if let Some(text) = text {
        update = update.col_expr(Column::ExtractedText, Expr::value(text));
    }
    update.exec(db).await?;
    Ok(())
}

/// Moves a PENDING upload to PROCESSING; false when it is not PENDING (processing already, or
/// deleted meanwhile).
pub async fn start_processing(db: &impl ConnectionTrait, id: &str) -> Result<bool, StoreError> {
    let res = Entity::update_many()
        .col_expr(Column::Status, Expr::value("PROCESSING"))
        .col_expr(Column::UpdatedAt, Expr::value(time::now()))
        .filter(Column::Id.eq(id))
        .filter(Column::Status.eq("PENDING"))
        .exec(db)
        .await?;
    Ok(res.rows_affected > 0)
}

/// Ends the processing of an upload still PENDING or PROCESSING: `status` (COMPLETED or FAILED),
/// stamped, with the type read from its content, the name it is stored as and its extracted text.
/// False when it left processing meanwhile (deleted).
pub async fn finish_processing(
    db: &impl ConnectionTrait,
    id: &str,
    status: &str,
    mime_type: Option<&str>,
    filename: Option<String>,
    text: Option<String>,
) -> Result<bool, StoreError> {
    let now = time::now();
    let mut update = Entity::update_many()
        .col_expr(Column::Status, Expr::value(status))
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .col_expr(Column::ProcessedAt, Expr::value(now))
        .col_expr(Column::ExtractedText, Expr::value(text))
        .filter(Column::Id.eq(id))
        .filter(Column::Status.is_in(["PENDING", "PROCESSING"]));
    if let Some(mime) = mime_type {
        update = update.col_expr(Column::MimeType, Expr::value(mime));
    }
    if let Some(name) = filename {
        update = update.col_expr(Column::Filename, Expr::value(name));
    }
    Ok(update.exec(db).await?.rows_affected > 0)
}

/// Marks the owner's upload DELETED; `None` when it is not theirs, missing or deleted already.
pub async fn mark_deleted(
    db: &impl ConnectionTrait,
    user_id: &str,
    id: &str,
) -> Result<Option<Upload>, StoreError> {
    let res = Entity::update_many()
        .col_expr(Column::Status, Expr::value("DELETED"))
        .col_expr(Column::UpdatedAt, Expr::value(time::now()))
        .filter(Column::Id.eq(id))
        .filter(Column::UserId.eq(user_id))
        .filter(Column::Status.ne("DELETED"))
        .exec(db)
        .await?;
    if res.rows_affected == 0 {
        return Ok(None);
    }
    find_own(db, user_id, id).await
}

/// Any upload by id (for the download route, which checks the signed owner itself).
pub async fn find(db: &impl ConnectionTrait, id: &str) -> Result<Option<Upload>, StoreError> {
    Ok(Entity::find_by_id(id.to_owned()).one(db).await?)
}

/// The owner's upload `id`; `None` for a missing upload or someone else's.
pub async fn find_own(
    db: &impl ConnectionTrait,
    user_id: &str,
    id: &str,
) -> Result<Option<Upload>, StoreError> {
    Ok(Entity::find()
        .filter(Column::Id.eq(id))
        .filter(Column::UserId.eq(user_id))
        .one(db)
        .await?)
}

/// The owner's uploads among `ids`, in one statement.
pub async fn own_by_ids(
    db: &impl ConnectionTrait,
    user_id: &str,
    ids: &[String],
) -> Result<Vec<Upload>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(Entity::find()
        .filter(Column::UserId.eq(user_id))
        .filter(Column::Id.is_in(ids.iter().cloned()))
        .all(db)
        .await?)
}

/// Whether `project_id` is a live project of `user_id`.
pub async fn owns_project(
    db: &impl ConnectionTrait,
    user_id: &str,
    project_id: &str,
) -> Result<bool, StoreError> {
    Ok(projects::Entity::find()
        .filter(projects::Column::Id.eq(project_id))
        .filter(projects::Column::UserId.eq(user_id))
        .filter(projects::Column::DeletedAt.is_null())
        .count(db)
        .await?
        > 0)
}

fn filtered(user_id: &str, filter: &UploadFilter) -> Select<Entity> {
    let mut cond = Condition::all().add(Column::UserId.eq(user_id));
    match &filter.status {
        Some(s) => cond = cond.add(Column::Status.eq(s.clone())),
        None if !filter.include_deleted => cond = cond.add(Column::Status.ne("DELETED")),
        None => {}
    }
    if let Some(p) = &filter.project_id {
        cond = cond.add(Column::ProjectId.eq(p.clone()));
    }
    Entity::find().filter(cond)
}

/// One page of the owner's uploads under `filter`, newest first.
pub async fn page_own(
    db: &impl ConnectionTrait,
    user_id: &str,
    filter: &UploadFilter,
    args: &PageArgs,
) -> Result<Page<Upload>, StoreError> {
    let rows = keyset()
        .apply(filtered(user_id, filter), args)?
        .all(db)
        .await?;
    Ok(Keyset::<Column>::page(args, rows))
}

/// How many uploads the owner has under `filter`.
pub async fn count_own(
    db: &impl ConnectionTrait,
    user_id: &str,
    filter: &UploadFilter,
) -> Result<u64, StoreError> {
    Ok(filtered(user_id, filter).count(db).await?)
}

/// The owner's live (not DELETED) uploads: what a project's list shows.
fn live(user_id: &str) -> Select<Entity> {
    Entity::find()
        .filter(Column::UserId.eq(user_id))
        .filter(Column::Status.ne("DELETED"))
}

/// One page of `user_id`'s live uploads per project, newest first, in one statement.
pub async fn pages_for_projects(
    db: &impl ConnectionTrait,
    user_id: &str,
    project_ids: &[String],
    args: &PageArgs,
) -> Result<HashMap<String, Page<Upload>>, StoreError> {
    crate::cursor::batch::pages_by_parent(
        db,
        live(user_id),
        Column::ProjectId,
        project_ids,
        &keyset(),
        args,
        |r: &Upload| r.project_id.as_deref().unwrap_or_default(),
    )
    .await
}

/// How many live uploads of `user_id` each project holds, in one statement.
pub async fn counts_for_projects(
    db: &impl ConnectionTrait,
    user_id: &str,
    project_ids: &[String],
) -> Result<HashMap<String, u64>, StoreError> {
    crate::rows::counts_by_parent(db, live(user_id), Column::ProjectId, project_ids).await
}

/// The timestamp a cursor for `row` carries.
pub fn cursor_at(row: &Upload) -> DateTime<Utc> {
    row.created_at
}
