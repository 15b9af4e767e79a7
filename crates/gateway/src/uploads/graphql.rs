//! Uploads over GraphQL: `uploadFile` (a GraphQL multipart request), `uploads`, `upload(id)`,
//! `deleteUpload`. Every upload is its owner's alone. (The type is `FileUpload`: `Upload` is
//! the multipart spec's scalar for the file being sent.)

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::connection::{Connection, EmptyFields};
use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject, Subscription, Upload};
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};

use super::service::{self, IncomingFile, UploadFilter, UploadService};
use crate::error::{ApiError, ApiResult};
use crate::graphql::connection::{connection, cursor, page_args};
use crate::graphql::context::ContextExt;
use crate::graphql::ids::{self, Kind};
use crate::graphql::pages::{CountKey, count};

fn uploads<'a>(ctx: &'a Context<'_>) -> ApiResult<&'a UploadService> {
    Ok(&ctx.services()?.uploads)
}

/// Where an upload is in its life.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadStatus {
    /// Stored; waiting for its turn to be processed.
    Pending,
    /// Its type and text are being read.
    Processing,
    /// Stored and processed: it can be downloaded.
    Completed,
    /// It could not be stored or read (nothing is kept of it).
    Failed,
    /// Deleted by its owner (the record stays, the file is gone).
    Deleted,
}

impl UploadStatus {
    fn parse(s: &str) -> Self {
        match s {
            "PENDING" => UploadStatus::Pending,
            "PROCESSING" => UploadStatus::Processing,
            "COMPLETED" => UploadStatus::Completed,
            "DELETED" => UploadStatus::Deleted,
            _ => UploadStatus::Failed,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            UploadStatus::Pending => "PENDING",
            UploadStatus::Processing => "PROCESSING",
            UploadStatus::Completed => "COMPLETED",
            UploadStatus::Failed => "FAILED",
            UploadStatus::Deleted => "DELETED",
        }
    }
}

/// A file you uploaded, with its processing status and the text read from it.
#[derive(Clone)]
pub struct FileUpload(pub Arc<service::Upload>);

impl From<service::Upload> for FileUpload {
    fn from(u: service::Upload) -> Self {
        FileUpload(Arc::new(u))
    }
}

#[Object]
impl FileUpload {
    pub async fn id(&self) -> ID {
        ids::encode(Kind::FileUpload, &self.0.id)
    }
    /// The name it was uploaded with.
    async fn filename(&self) -> &str {
        &self.0.original_name
    }
    /// Bytes.
    async fn size(&self) -> i64 {
        self.0.size
    }
    /// The media type read from the content (never the one the client claimed);
    /// `application/octet-stream` until the upload is processed.
    async fn mime_type(&self) -> &str {
        &self.0.mime_type
    }
    async fn status(&self) -> UploadStatus {
        UploadStatus::parse(&self.0.status)
    }
    /// Hex SHA-256 of the content.
    async fn sha256(&self) -> Option<&str> {
        self.0.sha256.as_deref()
    }
    /// The text of a document (plain text, Markdown, PDF); null for other types.
    async fn extracted_text(&self) -> Option<&str> {
        self.0.extracted_text.as_deref()
    }
    /// The project it is filed under, if any.
    async fn project_id(&self) -> Option<ID> {
        self.0
            .project_id
            .as_deref()
            .map(|id| ids::encode(Kind::Project, id))
    }
    /// A link that downloads the file without signing in, for a limited time
    /// (COLLOQUY_UPLOAD_URL_TTL_SECS); null unless the upload is COMPLETED.
    async fn download_url(&self, ctx: &Context<'_>) -> ApiResult<Option<String>> {
        Ok(uploads(ctx)?.download_url(&self.0))
    }
    async fn processed_at(&self) -> Option<DateTime<Utc>> {
        self.0.processed_at
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// The caller's uploads among `ids` (database ids), for `node(id:)`.
pub async fn uploads_by_ids(
    ctx: &Context<'_>,
    ids: &[String],
) -> ApiResult<HashMap<String, FileUpload>> {
    let caller = ctx.request()?.caller.as_ref();
    let rows = uploads(ctx)?.find_many(caller, ids).await?;
    Ok(rows
        .into_iter()
        .map(|u| (u.id.clone(), FileUpload::from(u)))
        .collect())
}

/// Narrows your uploads; conditions combine with AND.
#[derive(InputObject, Default)]
pub struct UploadFilterInput {
    /// Uploads in this status (DELETED ones are listed only when asked for).
    pub status: Option<UploadStatus>,
    pub project_id: Option<ID>,
}

/// `totalCount` of a list of uploads: the caller's under the list's filter, or one project's
/// (`Project.uploads`, counted for every project of a level at once).
pub enum UploadTotal {
    Filter(UploadFilter),
    /// A project's live uploads: its id and its owner's.
    Project(String, String),
}

#[Object]
impl UploadTotal {
    async fn total_count(&self, ctx: &Context<'_>) -> ApiResult<u64> {
        match self {
            UploadTotal::Filter(filter) => {
                let caller = ctx.request()?.require()?;
                uploads(ctx)?.count(caller, filter).await
            }
            UploadTotal::Project(project, owner) => {
                let key = CountKey {
                    parent: project.clone(),
                    filter: Arc::new(owner.clone()),
                };
                count(&ctx.loaders()?.workspace.uploads, key).await
            }
        }
    }
}

pub type FileUploadConnection = Connection<String, FileUpload, UploadTotal, EmptyFields>;

#[derive(Default)]
pub struct UploadQuery;

#[Object]
impl UploadQuery {
    /// Your uploads, newest first.
    #[graphql(complexity = "first.or(last).unwrap_or(20).max(0) as usize * child_complexity + 1")]
    async fn uploads(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<UploadFilterInput>,
    ) -> ApiResult<FileUploadConnection> {
        let args = page_args(first, after, last, before)?;
        let f = filter.unwrap_or_default();
        let filter = UploadFilter {
            status: f.status.map(|s| s.as_str().to_owned()),
            project_id: ids::decode_opt(f.project_id.as_ref(), Kind::Project, "projectId")?,
            include_deleted: false,
        };
        let caller = ctx.request()?.require()?;
        let page = uploads(ctx)?.uploads(caller, &filter, &args).await?;
        let name = UploadService::ordering();
        Ok(connection(
            page,
            UploadTotal::Filter(filter),
            |u| cursor(name, u.created_at, &u.id),
            FileUpload::from,
        ))
    }

    /// One of your uploads; null for anything else, exactly as for one that does not exist.
    async fn upload(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Option<FileUpload>> {
        let Some(id) = ids::decode_lookup(&id, Kind::FileUpload, "id")? else {
            return Ok(None);
        };
        let caller = ctx.request()?.caller.as_ref();
        Ok(uploads(ctx)?.find(caller, &id).await?.map(FileUpload::from))
    }
}

#[derive(InputObject)]
pub struct UploadFileInput {
    /// The file, sent as a GraphQL multipart request (`multipart/form-data`).
    pub file: Upload,
    /// One of your projects to file it under.
    pub project_id: Option<ID>,
}

#[derive(SimpleObject)]
pub struct UploadFilePayload {
    pub upload: FileUpload,
}

#[derive(InputObject)]
pub struct DeleteUploadInput {
    pub id: ID,
}

#[derive(SimpleObject)]
pub struct DeleteUploadPayload {
    pub deleted_upload_id: ID,
}

#[derive(Default)]
pub struct UploadMutation;

#[Object]
impl UploadMutation {
    /// Uploads a file (at most COLLOQUY_MAX_UPLOAD_BYTES, and within your plan's monthly upload
    /// allowance) and returns it PENDING. It is then processed in the background: its type is
    /// read from its content and the text of plain text, Markdown and PDF files is extracted for
    /// analyses to read; follow it with `uploadUpdated(id)` or poll `upload(id)` until it is
    /// COMPLETED (or FAILED).
    async fn upload_file(
        &self,
        ctx: &Context<'_>,
        input: UploadFileInput,
    ) -> ApiResult<UploadFilePayload> {
        let project_id = ids::decode_opt(input.project_id.as_ref(), Kind::Project, "projectId")?;
        let caller = ctx.request()?.require()?;
        let value = input
            .file
            .value(ctx)
            .map_err(|_| ApiError::bad_input("file", "is not a file of this request"))?;
        let size = value
            .content
            .metadata()
            .map_err(|e| {
                ApiError::internal(anyhow::anyhow!("cannot read the spooled upload: {e}"))
            })?
            .len();
        let file = IncomingFile {
            name: value.filename,
            size,
            content: value.content,
        };
        let row = uploads(ctx)?.upload(caller, file, project_id).await?;
        Ok(UploadFilePayload { upload: row.into() })
    }

    /// Deletes one of your uploads: the file is removed, the record stays as DELETED.
    async fn delete_upload(
        &self,
        ctx: &Context<'_>,
        input: DeleteUploadInput,
    ) -> ApiResult<DeleteUploadPayload> {
        let id = ids::decode(&input.id, Kind::FileUpload, "id")?;
        let caller = ctx.request()?.require()?;
        uploads(ctx)?.delete(caller, &id).await?;
        Ok(DeleteUploadPayload {
            deleted_upload_id: ids::encode(Kind::FileUpload, &id),
        })
    }
}

#[derive(Default)]
pub struct UploadSubscription;

#[Subscription]
impl UploadSubscription {
    /// One of your uploads each time its status changes (PENDING, PROCESSING, then COMPLETED or
    /// FAILED; DELETED), on any server instance. `upload(id)` answers the same when polled.
    async fn upload_updated(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> Result<impl Stream<Item = ApiResult<FileUpload>> + use<>, ApiError> {
        let id = ids::decode(&id, Kind::FileUpload, "id")?;
        let caller = ctx.request()?.require()?;
        let stream = uploads(ctx)?.upload_updated(caller, &id).await?;
        Ok(stream.map(|r| r.map(FileUpload::from)))
    }
}
