//! A local S3-compatible object store for tests: the REST wire format `object_store`'s S3 client
//! speaks (path-style `/{bucket}/{key}`; PUT, GET, HEAD and DELETE of objects; the multipart
//! upload calls), keeping objects in memory. Every request must carry a valid AWS Signature
//! Version 4 made with the configured credentials, as a real S3 server checks: a request signed
//! with another secret, or whose body does not match its signed hash, is refused with S3's own
//! `SignatureDoesNotMatch` / `XAmzContentSHA256Mismatch` errors.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

pub const ACCESS_KEY: &str = "AKIACOLLOQUYTEST";
pub const SECRET_KEY: &str = "colloquy-test-secret-access-key";
pub const REGION: &str = "us-east-1";

#[derive(Default)]
struct Objects {
    /// `bucket/key` → content.
    objects: BTreeMap<String, Bytes>,
    /// Upload id → its parts by number.
    uploads: HashMap<String, BTreeMap<u32, Bytes>>,
    /// Requests refused for their signature.
    refused: usize,
    /// Multipart uploads completed.
    multipart_completed: usize,
    /// How long each object or part PUT takes (a slow store).
    put_delay: std::time::Duration,
}

/// The running store; dropping it stops nothing (the test process ends it).
#[derive(Clone)]
pub struct FakeS3 {
    pub addr: SocketAddr,
    state: Arc<Mutex<Objects>>,
}

impl FakeS3 {
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(Objects::default()));
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { addr, state }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The `object_store` S3 settings that point a client at this store.
    pub fn options(&self) -> Vec<(String, String)> {
        [
            ("aws_endpoint", self.endpoint()),
            ("aws_allow_http", "true".to_owned()),
            ("aws_access_key_id", ACCESS_KEY.to_owned()),
            ("aws_secret_access_key", SECRET_KEY.to_owned()),
            ("aws_region", REGION.to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// Every stored object's `bucket/key`.
    pub fn keys(&self) -> Vec<String> {
        self.lock().objects.keys().cloned().collect()
    }

    pub fn object(&self, bucket_key: &str) -> Option<Bytes> {
        self.lock().objects.get(bucket_key).cloned()
    }

    /// Makes every object or part PUT take `delay` before it is answered.
    pub fn set_put_delay(&self, delay: std::time::Duration) {
        self.lock().put_delay = delay;
    }

    /// How many multipart uploads were completed.
    pub fn multipart_completed(&self) -> usize {
        self.lock().multipart_completed
    }

    /// How many requests were refused for a bad signature.
    pub fn refused(&self) -> usize {
        self.lock().refused
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Objects> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn xml_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/xml")],
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>"
        ),
    )
        .into_response()
}

fn etag(bytes: &[u8]) -> String {
    format!("\"{}\"", hex::encode(&Sha256::digest(bytes)[..16]))
}

async fn handle(State(state): State<Arc<Mutex<Objects>>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, 64 * 1024 * 1024).await {
        Ok(b) => b,
        Err(_) => return xml_error(StatusCode::BAD_REQUEST, "IncompleteBody", "body"),
    };
    let path = parts.uri.path().to_owned();
    let raw_query = parts.uri.query().unwrap_or("").to_owned();
    if let Err((code, message)) = verify(&parts.method, &path, &raw_query, &parts.headers, &body) {
        state.lock().unwrap_or_else(PoisonError::into_inner).refused += 1;
        return xml_error(StatusCode::FORBIDDEN, code, &message);
    }
    let query: HashMap<String, String> = url::form_urlencoded::parse(raw_query.as_bytes())
        .into_owned()
        .collect();
    let key = match percent_decode(path.trim_start_matches('/')) {
        Some(k) if k.contains('/') => k,
        _ => {
            return xml_error(
                StatusCode::BAD_REQUEST,
                "InvalidURI",
                "expected /bucket/key",
            );
        }
    };
    if parts.method == Method::PUT {
        let delay = state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .put_delay;
        tokio::time::sleep(delay).await;
    }
    let mut s = state.lock().unwrap_or_else(PoisonError::into_inner);
    match parts.method {
        Method::PUT => {
            if let (Some(n), Some(id)) = (query.get("partNumber"), query.get("uploadId")) {
                let Some(upload) = s.uploads.get_mut(id) else {
                    return xml_error(StatusCode::NOT_FOUND, "NoSuchUpload", id);
                };
                let tag = etag(&body);
                upload.insert(n.parse().unwrap_or(0), body);
                return (StatusCode::OK, [(header::ETAG, tag)]).into_response();
            }
            let tag = etag(&body);
            s.objects.insert(key, body);
            (StatusCode::OK, [(header::ETAG, tag)]).into_response()
        }
        Method::POST if query.contains_key("uploads") => {
            let id = format!("upload-{}", s.uploads.len() + 1);
            s.uploads.insert(id.clone(), BTreeMap::new());
            let (bucket, object) = key.split_once('/').unwrap_or_default();
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/xml")],
                format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<InitiateMultipartUploadResult><Bucket>{bucket}</Bucket><Key>{object}</Key><UploadId>{id}</UploadId></InitiateMultipartUploadResult>"
                ),
            )
                .into_response()
        }
        Method::POST if query.contains_key("uploadId") => {
            let Some(parts) = s.uploads.remove(&query["uploadId"]) else {
                return xml_error(StatusCode::NOT_FOUND, "NoSuchUpload", &query["uploadId"]);
            };
            let whole: Vec<u8> = parts.into_values().flat_map(|b| b.to_vec()).collect();
            s.multipart_completed += 1;
            let tag = etag(&whole);
            s.objects.insert(key.clone(), whole.into());
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/xml")],
                format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CompleteMultipartUploadResult><Key>{key}</Key><ETag>{}</ETag></CompleteMultipartUploadResult>",
                    tag.replace('"', "&quot;")
                ),
            )
                .into_response()
        }
        Method::GET | Method::HEAD => {
            let Some(bytes) = s.objects.get(&key).cloned() else {
                return xml_error(StatusCode::NOT_FOUND, "NoSuchKey", &key);
            };
            let headers = [
                (header::ETAG, etag(&bytes)),
                (
                    header::LAST_MODIFIED,
                    "Wed, 02 Dec 2026 12:00:00 GMT".to_owned(),
                ),
                (header::CONTENT_LENGTH, bytes.len().to_string()),
                (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            ];
            if parts.method == Method::HEAD {
                (StatusCode::OK, headers).into_response()
            } else {
                (StatusCode::OK, headers, bytes).into_response()
            }
        }
        Method::DELETE => {
            if let Some(id) = query.get("uploadId") {
                s.uploads.remove(id);
            } else {
                s.objects.remove(&key);
            }
            StatusCode::NO_CONTENT.into_response()
        }
        _ => xml_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            parts.method.as_str(),
        ),
    }
}

fn percent_decode(s: &str) -> Option<String> {
    url::form_urlencoded::parse(format!("k={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
}

type HmacSha256 = Hmac<Sha256>;

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(key).expect("any key length");
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// Checks the request's AWS Signature Version 4 (the `Authorization` header form) against the
/// test credentials, and its body against the signed payload hash.
fn verify(
    method: &Method,
    path: &str,
    raw_query: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), (&'static str, String)> {
    let denied = |m: &str| ("SignatureDoesNotMatch", m.to_owned());
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let auth = header("authorization").ok_or_else(|| denied("no Authorization header"))?;
    let fields = auth
        .strip_prefix("AWS4-HMAC-SHA256 ")
        .ok_or_else(|| denied("not AWS4-HMAC-SHA256"))?;
    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for part in fields.split(',') {
        match part.trim().split_once('=') {
            Some(("Credential", v)) => credential = Some(v),
            Some(("SignedHeaders", v)) => signed_headers = Some(v),
            Some(("Signature", v)) => signature = Some(v),
            _ => {}
        }
    }
    let (credential, signed_headers, signature) = match (credential, signed_headers, signature) {
        (Some(c), Some(h), Some(s)) => (c, h, s),
        _ => return Err(denied("incomplete Authorization header")),
    };
    let mut scope = credential.splitn(2, '/');
    if scope.next() != Some(ACCESS_KEY) {
        return Err(("InvalidAccessKeyId", credential.to_owned()));
    }
    let scope = scope.next().unwrap_or_default();
    let date = scope.split('/').next().unwrap_or_default();
    let amz_date = header("x-amz-date").ok_or_else(|| denied("no x-amz-date"))?;
    let payload_hash = header("x-amz-content-sha256").unwrap_or("UNSIGNED-PAYLOAD");
    if payload_hash != "UNSIGNED-PAYLOAD" && payload_hash != hex::encode(Sha256::digest(body)) {
        return Err((
            "XAmzContentSHA256Mismatch",
            "the body is not what was signed".into(),
        ));
    }

    let mut query: Vec<(String, String)> = raw_query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (k.to_owned(), v.to_owned())
        })
        .collect();
    query.sort();
    let canonical_query = query
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let mut canonical_headers = String::new();
    for name in signed_headers.split(';') {
        let value = header(name).ok_or_else(|| denied("a signed header is missing"))?;
        canonical_headers.push_str(&format!("{name}:{value}\n"));
    }
    let canonical = format!(
        "{method}\n{path}\n{canonical_query}\n{canonical_headers}\n{signed_headers}\n{payload_hash}"
    );
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let mut key = hmac(format!("AWS4{SECRET_KEY}").as_bytes(), date);
    for part in [REGION, "s3", "aws4_request"] {
        key = hmac(&key, part);
    }
    if hex::encode(hmac(&key, &to_sign)) != signature {
        return Err(denied("the signature does not match"));
    }
    Ok(())
}
