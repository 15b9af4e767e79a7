//! Who is calling: the bearer token of a request (or of a WebSocket's `connection_init`) becomes
//! a [`Caller`], and errors outside GraphQL execution are written as GraphQL error bodies.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::accounts::Caller;
use crate::error::ApiError;
use crate::graphql::context::{Origin, Services};

pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// A GraphQL error response outside of execution (bad token, rate limit, GET mutation).
pub(crate) fn error_response(status: StatusCode, error: ApiError) -> Response {
    let retry_after = match &error {
        ApiError::RateLimited { retry_after } => Some(retry_after.as_secs().max(1)),
        _ => None,
    };
    let err: async_graphql::Error = error.into();
    let server_error = err.into_server_error(async_graphql::Pos::default());
    let body = serde_json::json!({ "errors": [ {
        "message": server_error.message,
        "extensions": server_error.extensions,
    } ] });
    let mut response = (status, axum::Json(body)).into_response();
    if let Some(secs) = retry_after
        && let Ok(v) = HeaderValue::from_str(&secs.to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    response
}

/// Turns the bearer token into a caller. A token that is sent but not valid is refused rather
/// than silently treated as anonymous, so a client knows to sign in again.
pub(crate) async fn caller_from(
    services: &Services,
    token: Option<&str>,
) -> Result<Option<Caller>, ApiError> {
    let Some(token) = token else { return Ok(None) };
    match services.accounts.authenticate(token).await? {
        Some(caller) => Ok(Some(caller)),
        None => Err(ApiError::Unauthenticated),
    }
}

/// Where a request came from, for sessions and per-address limits.
pub(crate) fn origin(headers: &HeaderMap, addr: std::net::SocketAddr) -> Origin {
    Origin {
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(256).collect()),
        ip_address: Some(addr.ip().to_string()),
    }
}
