//! What happens to an uploaded file's bytes: the store they go to (`object_store`: a local
//! directory by default, S3 by configuration), their type sniffed from the content, the text
//! extracted from documents, and the signed URLs they are downloaded through.

use std::sync::Arc;

use anyhow::Context as _;
use hmac::{Hmac, Mac};
use object_store::ObjectStore;
use sha2::{Digest, Sha256};

use crate::platform::config::UploadsConfig;

/// The store configured by `COLLOQUY_UPLOAD_STORE` (`s3://bucket[/prefix]`, with the standard
/// `AWS_*` variables), else the local directory `COLLOQUY_UPLOAD_DIR` (created when missing).
pub fn store(config: &UploadsConfig) -> anyhow::Result<Arc<dyn ObjectStore>> {
    if let Some(url) = &config.store {
        let rest = url.strip_prefix("s3://").with_context(|| {
            format!("COLLOQUY_UPLOAD_STORE={url:?}: expected s3://bucket[/prefix]")
        })?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let mut builder = object_store::aws::AmazonS3Builder::from_env().with_bucket_name(bucket);
        for (key, value) in &config.s3_options.0 {
            let key: object_store::aws::AmazonS3ConfigKey = key
                .parse()
                .with_context(|| format!("{key:?} is not an S3 store setting"))?;
            builder = builder.with_config(key, value);
        }
        let s3 = builder
            .build()
            .context("cannot configure the S3 upload store from the AWS_* variables")?;
        let prefix = prefix.trim_matches('/');
        if prefix.is_empty() {
            return Ok(Arc::new(s3));
        }
        return Ok(Arc::new(object_store::prefix::PrefixStore::new(
            s3,
            prefix.to_owned(),
        )));
    }
    std::fs::create_dir_all(&config.dir).with_context(|| {
        format!(
            "cannot create the upload directory {}",
            config.dir.display()
        )
    })?;
    let local = object_store::local::LocalFileSystem::new_with_prefix(&config.dir)
        .with_context(|| format!("cannot use {} for uploads", config.dir.display()))?;
    Ok(Arc::new(local))
}

/// The media type of `bytes`, from their content: a known binary signature (PDF, images,
/// archives, ...), else text when they are UTF-8 (Markdown for a `.md`/`.markdown` name), else
/// `application/octet-stream`. What the client claimed is never used.
pub fn sniff(bytes: &[u8], name: &str) -> String {
    if let Some(kind) = infer::get(bytes) {
        return kind.mime_type().to_owned();
    }
    if std::str::from_utf8(bytes).is_ok() {
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".md") || lower.ends_with(".markdown") {
            return "text/markdown".into();
        }
        return "text/plain".into();
    }
    "application/octet-stream".into()
}

/// The extension a stored file gets for its sniffed type.
pub fn extension(mime: &str) -> &'static str {
    match mime {
        "application/pdf" => "pdf",
        "text/markdown" => "md",
        "text/plain" => "txt",
        "image/png" => "png",
        "image/jpeg" => "jpg",
        "image/gif" => "gif",
        "image/webp" => "webp",
        "application/zip" => "zip",
        _ => "bin",
    }
}

/// Longest extracted text kept, in characters.
const MAX_TEXT: usize = 1_000_000;

/// The text of a document: plain text and Markdown as they are, a PDF's pages' text; `Ok(None)`
/// for types that hold no text to extract. `Err` says why a document could not be read.
pub fn extract_text(bytes: &[u8], mime: &str) -> Result<Option<String>, String> {
    let text = match mime {
        "text/plain" | "text/markdown" => std::str::from_utf8(bytes)
            .map_err(|e| e.to_string())?
            .trim_start_matches('\u{feff}')
            .to_owned(),
        "application/pdf" => {
            let doc =
                lopdf::Document::load_mem(bytes).map_err(|e| format!("not a readable PDF: {e}"))?;
            let pages: Vec<u32> = doc.get_pages().keys().copied().collect();
            doc.extract_text(&pages)
                .map_err(|e| format!("cannot extract the PDF's text: {e}"))?
        }
        _ => return Ok(None),
    };
    Ok(Some(text.chars().take(MAX_TEXT).collect()))
}

/// How much of a file is read at a time.
const READ_BLOCK: usize = 256 * 1024;

/// The size of the parts a large file is stored in, and the largest file stored with one request:
/// S3's smallest part (every part but the last must be at least 5 MiB).
pub const PART_BYTES: usize = 5 * 1024 * 1024;

/// The hex SHA-256 of a file's content, read from its start in blocks.
pub async fn sha256_file(file: &mut tokio::fs::File) -> std::io::Result<String> {
    use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _};
    file.rewind().await?;
    let mut hash = Sha256::new();
    let mut block = vec![0; READ_BLOCK];
    loop {
        let n = file.read(&mut block).await?;
        if n == 0 {
            return Ok(hex::encode(hash.finalize()));
        }
        hash.update(&block[..n]);
    }
}

/// Stores a file of `size` bytes at `path`: with one request when it fits in a part, else as a
/// multipart upload streamed from the file with at most two parts in flight, so memory stays a
/// few parts whatever the file's size. A multipart upload that fails is aborted (no partial
/// object is left).
pub async fn put_file(
    store: &dyn ObjectStore,
    path: &object_store::path::Path,
    file: &mut tokio::fs::File,
    size: u64,
) -> object_store::Result<()> {
    use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _};
    let io = |e: std::io::Error| object_store::Error::Generic {
        store: "upload",
        source: Box::new(e),
    };
    file.rewind().await.map_err(io)?;
    if size <= PART_BYTES as u64 {
        let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(PART_BYTES));
        file.read_to_end(&mut bytes).await.map_err(io)?;
        store.put(path, bytes.into()).await?;
        return Ok(());
    }
    let upload = store.put_multipart(path).await?;
    let mut writer = object_store::WriteMultipart::new_with_chunk_size(upload, PART_BYTES);
    let mut block = vec![0; READ_BLOCK];
    let sent = async {
        loop {
            let n = file.read(&mut block).await.map_err(io)?;
            if n == 0 {
                break;
            }
            writer.wait_for_capacity(2).await?;
            writer.write(&block[..n]);
        }
        writer.wait_for_capacity(0).await
    }
    .await;
    match sent {
        Ok(()) => writer.finish().await.map(drop),
        Err(error) => {
            if let Err(abort) = writer.abort().await {
                tracing::warn!(error = %abort, "cannot abort a failed multipart upload");
            }
            Err(error)
        }
    }
}

type HmacSha256 = Hmac<Sha256>;

/// Signs and checks download URLs: an HMAC-SHA256, under a key derived from the server's master
/// key ring, over the upload's id, its owner and the expiry, so a URL works only for that file,
/// until then, and only while the file is its owner's.
#[derive(Clone)]
pub struct UrlSigner {
    key: [u8; 32],
}

impl UrlSigner {
    /// A signer whose key is derived from `secret` (the master key ring's text): every instance
    /// with the same master key signs alike.
    pub fn new(secret: &str) -> Self {
        let mut h = Sha256::new();
        h.update(b"colloquy upload download url v1\0");
        h.update(secret.as_bytes());
        Self {
            key: h.finalize().into(),
        }
    }

    fn mac(&self, id: &str, owner_id: &str, expires: i64) -> HmacSha256 {
        // Any key length is valid for HMAC.
        let mut mac = match HmacSha256::new_from_slice(&self.key) {
            Ok(m) => m,
            Err(_) => unreachable!("HMAC takes keys of any length"),
        };
        mac.update(format!("{id}\n{owner_id}\n{expires}").as_bytes());
        mac
    }

    /// The signature of a URL for `id` of `owner_id` that expires at `expires` (Unix seconds).
    pub fn sign(&self, id: &str, owner_id: &str, expires: i64) -> String {
        hex::encode(self.mac(id, owner_id, expires).finalize().into_bytes())
    }

    /// Whether `sig` is the signature of exactly this id, owner and expiry (constant time).
    pub fn verify(&self, id: &str, owner_id: &str, expires: i64, sig: &str) -> bool {
        let Ok(bytes) = hex::decode(sig) else {
            return false;
        };
        self.mac(id, owner_id, expires).verify_slice(&bytes).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_bind_id_owner_and_expiry() {
        let s = UrlSigner::new("k1:secret");
        let sig = s.sign("u1", "ada", 100);
        assert!(s.verify("u1", "ada", 100, &sig));
        assert!(!s.verify("u2", "ada", 100, &sig));
        assert!(!s.verify("u1", "bob", 100, &sig));
        assert!(!s.verify("u1", "ada", 101, &sig));
        assert!(!s.verify("u1", "ada", 100, "zz"));
        assert!(!UrlSigner::new("other").verify("u1", "ada", 100, &sig));
    }

    #[test]
    fn types_come_from_the_content() {
        assert_eq!(sniff(b"%PDF-1.4\n...", "x.txt"), "application/pdf");
        assert_eq!(sniff(b"# Title\n", "notes.md"), "text/markdown");
        assert_eq!(sniff(b"plain words", "notes.pdf"), "text/plain");
        assert_eq!(
            sniff(&[0xff, 0xfe, 0x00, 0x81], "a.txt"),
            "application/octet-stream"
        );
        assert_eq!(
            extract_text(b"\xef\xbb\xbfhello", "text/plain")
                .ok()
                .flatten()
                .as_deref(),
            Some("hello")
        );
        assert!(extract_text(b"%PDF-1.4 broken", "application/pdf").is_err());
    }
}
