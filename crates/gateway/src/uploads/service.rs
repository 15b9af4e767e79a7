//! The uploads area's use cases. An upload is its owner's alone: anyone else gets NOT_FOUND from
//! a mutation and null from a look-up, exactly as for one that does not exist.
//!
//! `upload` checks the size against `COLLOQUY_MAX_UPLOAD_BYTES` before anything is read or
//! written, then the plan's monthly upload bytes (counted in the transaction that records the
//! upload as PENDING and queues its processing job, held by the request); the bytes go to the
//! object store, the job is handed to the workers and the request returns the PENDING upload.
//! The job (`platform::jobs`, kind [`UPLOAD_JOB`], on any instance) makes it PROCESSING, sniffs
//! its type, extracts its text (plain text, Markdown, PDF) and ends it COMPLETED, or FAILED with
//! its object removed and its bytes given back to the allowance, so a failed upload leaves no
//! orphan object. Every status change is published (`uploadUpdated`); the job's writes are made
//! under its lease, so an upload stranded by a dead server is processed again, once. `delete`
//! marks the upload DELETED, cancels its job and removes its object.

use std::sync::Arc;

use async_trait::async_trait;
use core_domain::pagination::PageArgs;
use futures::{Stream, StreamExt as _};
use object_store::ObjectStore;
use object_store::path::Path as StorePath;
use persistence::StoreError;
use persistence::jobs::{self, Job, Lease};
use persistence::uploads::{self, NewUpload};
use persistence::{Db, Page};
use serde_json::json;

use super::files::{self, UrlSigner};
use crate::accounts::Caller;
use crate::billing::plans::Plans;
use crate::billing::service as billing;
use crate::billing::service::begin;
use crate::error::{ApiError, ApiResult};
use crate::platform::audit;
use crate::platform::config::UploadsConfig;
use crate::platform::events::{ChangeEvent, EventBus, Wanted};
use crate::platform::jobs::{JobContext, JobHandler, JobOutcome, JobQueue};

pub use persistence::uploads::{Upload, UploadFilter};

/// A file as the transport received it: the multipart request's part, spooled to a temporary
/// file (removed when this is dropped).
pub struct IncomingFile {
    /// The name the client gave it.
    pub name: String,
    /// Its size in bytes, checked before anything else is done with it.
    pub size: u64,
    pub content: std::fs::File,
}

/// What a download hands the transport: the object's content as it streams from the store.
pub struct Download {
    pub content: futures::stream::BoxStream<'static, object_store::Result<bytes::Bytes>>,
    /// The content's length in bytes.
    pub size: u64,
    pub mime_type: String,
    pub name: String,
}

/// Why a download link was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum DownloadRefusal {
    /// The link is not valid for this file (tampered with, or for another owner).
    BadSignature,
    Expired,
    /// No such file, or it is deleted or failed.
    NotFound,
}

/// Longest file name kept.
const MAX_NAME: usize = 255;

/// The job kind that processes an upload.
pub const UPLOAD_JOB: &str = "upload";

/// An upload's type until its job has read it.
const UNKNOWN_TYPE: &str = "application/octet-stream";

pub struct UploadService {
    db: Db,
    store: Arc<dyn ObjectStore>,
    config: UploadsConfig,
    plans: Arc<Plans>,
    signer: UrlSigner,
    public_url: String,
    events: EventBus,
    queue: Arc<JobQueue>,
}

impl UploadService {
    #[expect(
        clippy::too_many_arguments,
        reason = "built once, in app::state, from the pieces it owns"
    )]
    pub fn new(
        db: Db,
        store: Arc<dyn ObjectStore>,
        config: UploadsConfig,
        plans: Arc<Plans>,
        signer: UrlSigner,
        public_url: String,
        events: EventBus,
        queue: Arc<JobQueue>,
    ) -> Self {
        Self {
            db,
            store,
            config,
            plans,
            signer,
            public_url,
            events,
            queue,
        }
    }

    /// Stores a file for the caller (see the module's description for the steps) and returns it
    /// PENDING: its processing is a job.
    pub async fn upload(
        &self,
        caller: &Caller,
        file: IncomingFile,
        project_id: Option<String>,
    ) -> ApiResult<Upload> {
        let max = self.config.max_bytes;
        if file.size > max {
            return Err(ApiError::bad_input(
                "file",
                format!(
                    "is {} bytes: files may be at most {max} bytes (COLLOQUY_MAX_UPLOAD_BYTES)",
                    file.size
                ),
            ));
        }
        if file.size == 0 {
            return Err(ApiError::bad_input("file", "is empty"));
        }
        let name = clean_name(&file.name);
        let user_id = caller.actor.user_id.clone();
        if let Some(p) = &project_id
            && !uploads::owns_project(self.db.conn(), &user_id, p).await?
        {
            return Err(ApiError::NotFound);
        }
        let mut content = tokio::fs::File::from_std(file.content);
        let size = i64::try_from(file.size).unwrap_or(i64::MAX);
        let sha256 = files::sha256_file(&mut content)
            .await
            .map_err(ApiError::internal)?;
        let id = core_domain::ids::new_id();
        // The key carries no extension: the type is only known once the job has read the file.
        let key = format!("{user_id}/{id}");

        // The plan's period is settled before the transaction, whose first statement writes.
        billing::plan_of(self.db.conn(), &user_id).await?;
        let txn = begin(&self.db).await?;
        let row = uploads::create(
            &txn,
            NewUpload {
                id: id.clone(),
                user_id: user_id.clone(),
                project_id,
                filename: id.clone(),
                original_name: name,
                path: key.clone(),
                size,
                mime_type: UNKNOWN_TYPE.to_owned(),
                sha256,
                metadata: None,
            },
        )
        .await?;
        billing::charge_upload(&txn, &self.plans, &user_id, size).await?;
        audit::record(
            &txn,
            Some(&user_id),
            "upload.created",
            "FileUpload",
            &row.id,
            json!({ "name": row.original_name, "size": size }),
        )
        .await?;
        // The job is queued with the row but held by this request until the bytes are stored
        // (the hold renewed meanwhile): should this server die before, the hold expires and a worker finds no bytes and fails
        // the upload, so no row is left PENDING for ever and no object without a row.
        let lease = self
            .queue
            .enqueue_held(&txn, UPLOAD_JOB, &id, Some(&user_id))
            .await?;
        txn.commit().await.map_err(StoreError::from)?;

        let path = StorePath::from(key.as_str());
        // Renewed while the bytes travel, so a slow store never looks like a dead server.
        let holding = self.queue.keep_alive(&lease);
        let stored = files::put_file(self.store.as_ref(), &path, &mut content, file.size).await;
        drop(holding);
        if let Err(error) = stored {
            tracing::error!(%error, upload_id = %id, "cannot store an upload");
            self.fail(&row, &lease, "the file could not be stored")
                .await?;
            return Err(ApiError::internal(error));
        }
        if !self.queue.release(&lease).await? {
            match uploads::find(self.db.conn(), &id).await? {
                // Deleted while its bytes were being stored (the delete cancelled the job and
                // found no object yet): what was stored goes too.
                Some(now) if now.status == "DELETED" => self.remove_object(&now).await,
                _ => {
                    tracing::warn!(upload_id = %id, "an upload's job was taken over before its bytes were stored");
                }
            }
        }
        self.publish(&row);
        Ok(row)
    }

    /// Processes the upload `job` names (see [`JobHandler`] below): reads its bytes back from
    /// the store, sniffs their type, extracts their text, and ends it COMPLETED or FAILED under
    /// the job's lease.
    async fn process(&self, job: &Job, context: &JobContext) -> ApiResult<JobOutcome> {
        let lease = &context.lease;
        let Some(row) = uploads::find(self.db.conn(), &job.subject_id).await? else {
            jobs::finish(
                self.db.conn(),
                lease,
                jobs::FAILED,
                Some("the upload no longer exists"),
            )
            .await?;
            return Ok(JobOutcome::Finished);
        };
        if !matches!(row.status.as_str(), "PENDING" | "PROCESSING") {
            // Deleted (or finished) meanwhile: nothing left to do.
            jobs::finish(self.db.conn(), lease, jobs::DONE, None).await?;
            return Ok(JobOutcome::Finished);
        }
        if uploads::start_processing(self.db.conn(), &row.id).await? {
            self.publish(&row);
        }
        let path = StorePath::from(row.path.as_str());
        let bytes = match self.store.get(&path).await {
            Ok(got) => got.bytes().await.map_err(ApiError::internal)?,
            Err(object_store::Error::NotFound { .. }) => {
                self.fail(&row, lease, "the file's bytes were never stored")
                    .await?;
                return Ok(JobOutcome::Finished);
            }
            Err(error) => return Err(ApiError::internal(error)),
        };
        let mime = files::sniff(&bytes, &row.original_name);
        let extract_mime = mime.clone();
        let extracted =
            tokio::task::spawn_blocking(move || files::extract_text(&bytes, &extract_mime))
                .await
                .map_err(ApiError::internal)?;
        let text = match extracted {
            Ok(text) => text,
            Err(reason) => {
                tracing::info!(upload_id = %row.id, %reason, "an upload could not be processed");
                self.fail(&row, lease, &reason).await?;
                return Ok(JobOutcome::Finished);
            }
        };
        let txn = begin(&self.db).await?;
        if !jobs::finish(&txn, lease, jobs::DONE, None).await? {
            // Taken over (this worker was too slow): the new holder finishes it.
            txn.rollback().await.map_err(StoreError::from)?;
            return Ok(JobOutcome::Finished);
        }
        let filename = format!("{}.{}", row.id, files::extension(&mime));
        if uploads::finish_processing(
            &txn,
            &row.id,
            "COMPLETED",
            Some(&mime),
            Some(filename),
            text,
        )
        .await?
        {
            audit::record(
                &txn,
                Some(&row.user_id),
                "upload.completed",
                "FileUpload",
                &row.id,
                json!({ "mimeType": mime, "jobId": job.id }),
            )
            .await?;
        }
        txn.commit().await.map_err(StoreError::from)?;
        self.publish(&row);
        Ok(JobOutcome::Finished)
    }

    /// Ends `row`'s processing FAILED under `lease`: its object removed, its bytes given back to
    /// the allowance, the failure audited. Nothing is done when the lease was lost (the job's new
    /// holder decides).
    async fn fail(&self, row: &Upload, lease: &Lease, reason: &str) -> ApiResult<()> {
        let txn = begin(&self.db).await?;
        if !jobs::finish(&txn, lease, jobs::FAILED, Some(reason)).await? {
            txn.rollback().await.map_err(StoreError::from)?;
            return Ok(());
        }
        // Removed before the failure is committed: a crash in between retries the job, which
        // then finds no bytes and fails the upload again, leaving no orphan object.
        self.remove_object(row).await;
        if uploads::finish_processing(&txn, &row.id, "FAILED", None, None, None).await? {
            billing::refund_upload(&txn, &row.user_id, row.size).await?;
            audit::record(
                &txn,
                Some(&row.user_id),
                "upload.failed",
                "FileUpload",
                &row.id,
                json!({ "reason": reason, "jobId": lease.job_id }),
            )
            .await?;
        }
        tracing::debug!(upload_id = %row.id, reason, "upload failed");
        txn.commit().await.map_err(StoreError::from)?;
        self.publish(row);
        Ok(())
    }

    /// Removes `row`'s object, if any (a failure is logged: the row's status says it is gone).
    async fn remove_object(&self, row: &Upload) {
        match self.store.delete(&StorePath::from(row.path.as_str())).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(error) => {
                tracing::error!(%error, upload_id = %row.id, "cannot remove an upload's object");
            }
        }
    }

    /// Updates of the caller's upload `id` as its status changes, on any instance (NOT_FOUND
    /// for anyone else's).
    pub async fn upload_updated(
        &self,
        caller: &Caller,
        id: &str,
    ) -> ApiResult<impl Stream<Item = ApiResult<Upload>> + use<>> {
        // Subscribed before the first read, so no change between the two is missed.
        let changes = self
            .events
            .changes("upload", Wanted::Id(id.to_owned()), "uploadUpdated");
        if self.find(Some(caller), id).await?.is_none() {
            return Err(ApiError::NotFound);
        }
        let user = caller.actor.user_id.clone();
        let id = id.to_owned();
        let db = self.db.clone();
        Ok(async_stream::stream! {
            futures::pin_mut!(changes);
            while changes.next().await.is_some() {
                match uploads::find_own(db.conn(), &user, &id).await {
                    Ok(Some(row)) => yield Ok(row),
                    Ok(None) => break,
                    Err(e) => yield Err(ApiError::from(e)),
                }
            }
        })
    }

    fn publish(&self, row: &Upload) {
        self.events.publish_change(ChangeEvent {
            kind: "upload".into(),
            id: row.id.clone(),
            owner_id: Some(row.user_id.clone()),
        });
    }

    /// The caller's upload `id`, or `None` for a missing upload or anyone else's.
    pub async fn find(&self, caller: Option<&Caller>, id: &str) -> ApiResult<Option<Upload>> {
        let Some(caller) = caller else {
            return Ok(None);
        };
        Ok(uploads::find_own(self.db.conn(), &caller.actor.user_id, id).await?)
    }

    /// The caller's uploads among `ids`, for `node`/`nodes`.
    pub async fn find_many(
        &self,
        caller: Option<&Caller>,
        ids: &[String],
    ) -> ApiResult<Vec<Upload>> {
        let Some(caller) = caller else {
            return Ok(Vec::new());
        };
        Ok(uploads::own_by_ids(self.db.conn(), &caller.actor.user_id, ids).await?)
    }

    /// A page of the caller's uploads, newest first (DELETED ones only when asked for).
    pub async fn uploads(
        &self,
        caller: &Caller,
        filter: &UploadFilter,
        args: &PageArgs,
    ) -> ApiResult<Page<Upload>> {
        Ok(uploads::page_own(self.db.conn(), &caller.actor.user_id, filter, args).await?)
    }

    pub async fn count(&self, caller: &Caller, filter: &UploadFilter) -> ApiResult<u64> {
        Ok(uploads::count_own(self.db.conn(), &caller.actor.user_id, filter).await?)
    }

    /// The cursor name of the uploads list.
    pub fn ordering() -> &'static str {
        uploads::keyset().name
    }

    /// Marks the caller's upload DELETED and removes its object (NOT_FOUND for anyone else's,
    /// or one deleted already).
    pub async fn delete(&self, caller: &Caller, id: &str) -> ApiResult<Upload> {
        let user_id = &caller.actor.user_id;
        let txn = begin(&self.db).await?;
        let row = uploads::mark_deleted(&txn, user_id, id)
            .await?
            .ok_or(ApiError::NotFound)?;
        // A file still being processed is processed no further.
        jobs::cancel_active(&txn, id).await?;
        audit::record(
            &txn,
            Some(user_id),
            "upload.deleted",
            "FileUpload",
            &row.id,
            json!({ "name": row.original_name, "size": row.size }),
        )
        .await?;
        txn.commit().await.map_err(StoreError::from)?;
        self.remove_object(&row).await;
        self.publish(&row);
        Ok(row)
    }

    /// A download URL for `row` that works until `expires` (Unix seconds).
    pub fn url_until(&self, row: &Upload, expires: i64) -> String {
        let sig = self.signer.sign(&row.id, &row.user_id, expires);
        format!(
            "{}/files/{}?expires={expires}&sig={sig}",
            self.public_url, row.id
        )
    }

    /// A download URL for `row`, valid for `COLLOQUY_UPLOAD_URL_TTL_SECS`; None while the file
    /// has no stored bytes to serve (not COMPLETED).
    pub fn download_url(&self, row: &Upload) -> Option<String> {
        if row.status != "COMPLETED" {
            return None;
        }
        let ttl = i64::try_from(self.config.url_ttl.as_secs()).unwrap_or(i64::MAX);
        let expires = core_domain::time::now().timestamp().saturating_add(ttl);
        Some(self.url_until(row, expires))
    }

    /// The file a signed link names, if the link is genuine and unexpired and the file is there.
    pub async fn download(
        &self,
        id: &str,
        expires: i64,
        sig: &str,
    ) -> Result<Download, Result<DownloadRefusal, ApiError>> {
        let row = uploads::find(self.db.conn(), id)
            .await
            .map_err(|e| Err(ApiError::from(e)))?
            .ok_or(Ok(DownloadRefusal::NotFound))?;
        if !self.signer.verify(&row.id, &row.user_id, expires, sig) {
            return Err(Ok(DownloadRefusal::BadSignature));
        }
        if core_domain::time::now().timestamp() > expires {
            return Err(Ok(DownloadRefusal::Expired));
        }
        if row.status != "COMPLETED" {
            return Err(Ok(DownloadRefusal::NotFound));
        }
        let got = self.store.get(&StorePath::from(row.path.as_str())).await;
        let got = match got {
            Ok(g) => g,
            Err(object_store::Error::NotFound { .. }) => {
                return Err(Ok(DownloadRefusal::NotFound));
            }
            Err(e) => return Err(Err(ApiError::internal(e))),
        };
        Ok(Download {
            size: got.meta.size,
            content: got.into_stream(),
            mime_type: row.mime_type,
            name: row.original_name,
        })
    }
}

/// A file name as kept: its last path segment, without control characters, at most 255
/// characters; `file` when nothing is left.
fn clean_name(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_NAME)
        .collect();
    let cleaned = cleaned.trim().to_owned();
    if cleaned.is_empty() {
        "file".into()
    } else {
        cleaned
    }
}

/// The upload jobs: a failure worth retrying (the store unreachable) is retried with backoff;
/// on the last attempt the upload is failed instead.
#[async_trait]
impl JobHandler for UploadService {
    async fn run(&self, job: Job, context: JobContext) -> JobOutcome {
        match self.process(&job, &context).await {
            Ok(outcome) => outcome,
            Err(error) if context.final_attempt => {
                tracing::warn!(id = %job.id, error = %error.message(), "an upload job failed");
                let failed = match uploads::find(self.db.conn(), &job.subject_id).await {
                    Ok(Some(row)) => {
                        self.fail(&row, &context.lease, "the file could not be processed")
                            .await
                    }
                    Ok(None) => Ok(()),
                    Err(e) => Err(ApiError::from(e)),
                };
                if let Err(e) = failed {
                    tracing::error!(id = %job.id, error = %e.message(), "cannot record an upload's failure");
                }
                JobOutcome::Finished
            }
            Err(error) => JobOutcome::Retry(error.message()),
        }
    }
}
