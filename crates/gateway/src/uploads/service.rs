//! The uploads area's use cases. An upload is its owner's alone: anyone else gets NOT_FOUND from
//! a mutation and null from a look-up, exactly as for one that does not exist.
//!
//! `upload` checks the size against `COLLOQUY_MAX_UPLOAD_BYTES` before anything is read or
//! written, then the plan's monthly upload bytes (counted in the transaction that records the
//! upload as PENDING); the bytes go to the object store, the upload becomes PROCESSING, its text
//! is extracted (plain text, Markdown, PDF) and it ends COMPLETED, or FAILED with its object
//! removed and its bytes given back to the allowance, so a failed upload leaves no orphan
//! object. `delete` marks the upload DELETED and removes its object.

use std::sync::Arc;

use core_domain::pagination::PageArgs;
use object_store::ObjectStore;
use object_store::path::Path as StorePath;
use persistence::StoreError;
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
use crate::platform::events::{ChangeEvent, EventBus};

pub use persistence::uploads::{Upload, UploadFilter};

/// A file as the transport received it (the multipart request's part, in memory).
pub struct IncomingFile {
    /// The name the client gave it.
    pub name: String,
    /// Its size in bytes, checked before anything else is done with it.
    pub size: u64,
    pub content: bytes::Bytes,
}

/// What a download hands the transport.
pub struct Download {
    pub bytes: bytes::Bytes,
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

pub struct UploadService {
    db: Db,
    store: Arc<dyn ObjectStore>,
    config: UploadsConfig,
    plans: Arc<Plans>,
    signer: UrlSigner,
    public_url: String,
    events: EventBus,
}

impl UploadService {
    pub fn new(
        db: Db,
        store: Arc<dyn ObjectStore>,
        config: UploadsConfig,
        plans: Arc<Plans>,
        signer: UrlSigner,
        public_url: String,
        events: EventBus,
    ) -> Self {
        Self {
            db,
            store,
            config,
            plans,
            signer,
            public_url,
            events,
        }
    }

    /// Stores a file for the caller (see the module's description for the steps).
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
        let bytes = file.content;
        if bytes.len() as u64 > max {
            return Err(ApiError::bad_input(
                "file",
                format!("files may be at most {max} bytes (COLLOQUY_MAX_UPLOAD_BYTES)"),
            ));
        }
        let size = i64::try_from(bytes.len()).unwrap_or(i64::MAX);
        let mime = files::sniff(&bytes, &name);
        let sha256 = files::sha256_hex(&bytes);
        let id = core_domain::ids::new_id();
        let key = format!("{user_id}/{id}.{}", files::extension(&mime));

        // The plan's period is settled before the transaction, whose first statement writes.
        billing::plan_of(self.db.conn(), &user_id).await?;
        let txn = begin(&self.db).await?;
        let row = uploads::create(
            &txn,
            NewUpload {
                id: id.clone(),
                user_id: user_id.clone(),
                project_id,
                filename: format!("{id}.{}", files::extension(&mime)),
                original_name: name,
                path: key.clone(),
                size,
                mime_type: mime.clone(),
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
            json!({ "name": row.original_name, "size": size, "mimeType": mime }),
        )
        .await?;
        txn.commit().await.map_err(StoreError::from)?;

        let path = StorePath::from(key.as_str());
        if let Err(error) = self.store.put(&path, bytes.clone().into()).await {
            tracing::error!(%error, upload_id = %id, "cannot store an upload");
            self.fail(&row, &path, "the file could not be stored")
                .await?;
            return Err(ApiError::internal(error));
        }
        uploads::set_status(self.db.conn(), &id, "PROCESSING", false, None).await?;
        let extract_mime = mime.clone();
        let extracted =
            tokio::task::spawn_blocking(move || files::extract_text(&bytes, &extract_mime))
                .await
                .map_err(ApiError::internal)?;
        match extracted {
            Ok(text) => {
                uploads::set_status(self.db.conn(), &id, "COMPLETED", true, text).await?;
            }
            Err(reason) => {
                tracing::info!(upload_id = %id, %reason, "an upload could not be processed");
                self.fail(&row, &path, &reason).await?;
            }
        }
        self.publish(&row);
        uploads::find_own(self.db.conn(), &user_id, &id)
            .await?
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("an upload vanished")))
    }

    /// Marks `row` FAILED, removes its object and gives its bytes back to the allowance.
    async fn fail(&self, row: &Upload, path: &StorePath, reason: &str) -> ApiResult<()> {
        match self.store.delete(path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(error) => {
                tracing::error!(%error, upload_id = %row.id, "cannot remove a failed upload's object");
            }
        }
        let txn = begin(&self.db).await?;
        uploads::set_status(&txn, &row.id, "FAILED", true, None).await?;
        billing::refund_upload(&txn, &row.user_id, row.size).await?;
        tracing::debug!(upload_id = %row.id, reason, "upload failed");
        txn.commit().await.map_err(StoreError::from)?;
        Ok(())
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
        match self.store.delete(&StorePath::from(row.path.as_str())).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(error) => {
                tracing::error!(%error, upload_id = %row.id, "cannot remove a deleted upload's object");
            }
        }
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
        let bytes = match got {
            Ok(g) => g.bytes().await.map_err(|e| Err(ApiError::internal(e)))?,
            Err(object_store::Error::NotFound { .. }) => {
                return Err(Ok(DownloadRefusal::NotFound));
            }
            Err(e) => return Err(Err(ApiError::internal(e))),
        };
        Ok(Download {
            bytes,
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
