//! Who is calling: the bearer token of a request (or of a WebSocket's `connection_init`) becomes
//! a [`Caller`], and errors outside GraphQL execution are written as GraphQL error bodies.
//!
//! Over HTTP (POST, GET and SSE) a token that is sent but not valid (expired, revoked, signed out,
//! mistyped) does not lock its holder out: the request runs anonymously, so `login`, `register`,
//! `startGuestSession` and the public fields still work, fields that need a caller answer
//! UNAUTHENTICATED, and the response carries `x-colloquy-auth: invalid-token` ([`AUTH_WARNING`])
//! so the client knows to drop the token. Such requests are rate-limited by address, like anonymous
//! ones. A WebSocket is stricter: graphql-transport-ws closes it with 4403.

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
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

/// The response header that says a bearer token was sent, found invalid and ignored.
pub const AUTH_WARNING: HeaderName = HeaderName::from_static("x-colloquy-auth");
/// [`AUTH_WARNING`]'s value.
pub const INVALID_TOKEN: HeaderValue = HeaderValue::from_static("invalid-token");

/// Who an HTTP request runs as.
pub(crate) struct Resolved {
    pub caller: Option<Caller>,
    /// A token was sent and is not valid; the request runs anonymously.
    pub token_rejected: bool,
}

impl Resolved {
    /// Adds [`AUTH_WARNING`] to `response` when the token was ignored.
    pub fn mark(&self, mut response: Response) -> Response {
        if self.token_rejected {
            response.headers_mut().insert(AUTH_WARNING, INVALID_TOKEN);
        }
        response
    }
}

/// The caller of an HTTP request: a valid token's, or none (anonymous) when there is no token or
/// it is not valid (then `token_rejected`). Only a failure to check the token is an error.
pub(crate) async fn resolve(
    services: &Services,
    headers: &HeaderMap,
) -> Result<Resolved, ApiError> {
    match caller_from(services, bearer(headers)).await {
        Ok(caller) => Ok(Resolved {
            caller,
            token_rejected: false,
        }),
        Err(ApiError::Unauthenticated) => Ok(Resolved {
            caller: None,
            token_rejected: true,
        }),
        Err(e) => Err(e),
    }
}

/// Turns the bearer token into a caller; a token that is sent but not valid is UNAUTHENTICATED
/// (the WebSocket refuses it; HTTP requests go through [`resolve`], which ignores it).
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
