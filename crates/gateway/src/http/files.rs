//! `GET /files/{id}?expires=…&sig=…`: downloads an uploaded file through the signed link its
//! `FileUpload.downloadUrl` gave its owner. The link is the credential (it works without a
//! bearer token, so a browser can follow it): a link that was tampered with answers 403, an
//! expired one 403, a file that is gone (or never finished) 404.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::AppState;
use crate::uploads::service::DownloadRefusal;

#[derive(Deserialize)]
pub(super) struct Signed {
    expires: Option<i64>,
    sig: Option<String>,
}

pub(super) async fn download(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(signed): Query<Signed>,
) -> Response {
    let (Some(expires), Some(sig)) = (signed.expires, signed.sig) else {
        return (StatusCode::FORBIDDEN, "this link is not signed").into_response();
    };
    match state.services.uploads.download(&id, expires, &sig).await {
        Ok(file) => {
            let disposition = format!(
                "attachment; filename=\"{}\"",
                file.name
                    .chars()
                    .map(
                        |c| if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                            c
                        } else {
                            '_'
                        }
                    )
                    .collect::<String>()
            );
            let mut response = axum::body::Body::from_stream(file.content).into_response();
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(file.size));
            if let Ok(v) = HeaderValue::from_str(&file.mime_type) {
                headers.insert(header::CONTENT_TYPE, v);
            }
            if let Ok(v) = HeaderValue::from_str(&disposition) {
                headers.insert(header::CONTENT_DISPOSITION, v);
            }
            headers.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            headers.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, no-store"),
            );
            response
        }
        Err(Ok(DownloadRefusal::BadSignature)) => {
            (StatusCode::FORBIDDEN, "this link is not valid").into_response()
        }
        Err(Ok(DownloadRefusal::Expired)) => {
            (StatusCode::FORBIDDEN, "this link has expired").into_response()
        }
        Err(Ok(DownloadRefusal::NotFound)) => (StatusCode::NOT_FOUND, "not found").into_response(),
        Err(Err(error)) => {
            tracing::error!(?error, "a download failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}
