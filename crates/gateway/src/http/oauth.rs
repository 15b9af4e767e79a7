//! The browser side of OAuth sign-in.
//!
//! - `GET /auth/{provider}/start` sends the browser to the provider (302). Sent with
//!   `Authorization: Bearer <token>`, the sign-in links the identity to that account (a guest's
//!   data is kept or merged); a token that is not valid is ignored (a plain sign-in starts, and
//!   the response carries `x-colloquy-auth: invalid-token`). With `Accept: application/json` it
//!   answers `{"url": ...}` instead of redirecting; the `startOAuth` mutation does the same over
//!   GraphQL.
//! - `GET /auth/{provider}/callback?code=...&state=...` finishes the sign-in. With
//!   `Accept: application/json`, or when `COLLOQUY_OAUTH_SUCCESS_URL` is unset, it answers JSON:
//!   `{"token", "expiresAt", "user": {"id", "email", "role"}, "linked", "mergedGuestId"}`, with
//!   global ids as the GraphQL API gives them (`graphql::ids`).
//!   Otherwise it redirects to `COLLOQUY_OAUTH_SUCCESS_URL#token=<token>&expires_at=<time>`: the
//!   fragment never reaches a server log. Failures answer a GraphQL-style error body with a
//!   matching status (400 for a bad or replayed `state`).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::caller::{error_response, origin, resolve};
use crate::error::ApiError;
use crate::graphql::ids::{self, Kind};

fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json"))
}

fn status_of(error: &ApiError) -> StatusCode {
    match error.code() {
        "BAD_USER_INPUT" => StatusCode::BAD_REQUEST,
        "UNAUTHENTICATED" => StatusCode::UNAUTHORIZED,
        "FORBIDDEN" => StatusCode::FORBIDDEN,
        "NOT_FOUND" => StatusCode::NOT_FOUND,
        "CONFLICT" => StatusCode::CONFLICT,
        "RATE_LIMITED" => StatusCode::TOO_MANY_REQUESTS,
        "PROVIDER_ERROR" => StatusCode::BAD_GATEWAY,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn failure(error: ApiError) -> Response {
    error_response(status_of(&error), error)
}

pub async fn start(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    headers: HeaderMap,
) -> Response {
    let services = &state.services;
    let who = match resolve(services, &headers).await {
        Ok(who) => who,
        Err(e) => return failure(e),
    };
    let response = match services
        .accounts
        .start_oauth(&provider, who.caller.as_ref().map(|c| &c.actor))
        .await
    {
        Ok(started) if wants_json(&headers) => {
            axum::Json(json!({ "url": started.url })).into_response()
        }
        Ok(started) => Redirect::to(&started.url).into_response(),
        Err(e) => failure(e),
    };
    who.mark(response)
}

#[derive(Deserialize)]
pub struct CallbackParams {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

pub async fn callback(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(params): Query<CallbackParams>,
) -> Response {
    if params.error.is_some() {
        return failure(ApiError::bad_input(
            "error",
            "the sign-in was refused at the provider",
        ));
    }
    let (Some(code), Some(oauth_state)) = (params.code, params.state) else {
        return failure(ApiError::bad_input("state", "code and state are required"));
    };
    let services = &state.services;
    let outcome = match services
        .accounts
        .finish_oauth(&provider, &code, &oauth_state, origin(&headers, addr))
        .await
    {
        Ok(o) => o,
        Err(e) => return failure(e),
    };
    let signed_in = &outcome.signed_in;
    match &services.config.auth.oauth_success_url {
        Some(url) if !wants_json(&headers) => {
            let fragment: String = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("token", &signed_in.token)
                .append_pair("expires_at", &signed_in.expires_at.to_rfc3339())
                .finish();
            Redirect::to(&format!("{url}#{fragment}")).into_response()
        }
        _ => axum::Json(json!({
            "token": signed_in.token,
            "expiresAt": signed_in.expires_at,
            "user": {
                "id": ids::encode(Kind::User, &signed_in.user.id),
                "email": signed_in.user.email,
                "role": signed_in.user.role.as_str(),
            },
            "linked": outcome.linked,
            "mergedGuestId": outcome
                .merged_guest_id
                .as_deref()
                .map(|id| ids::encode(Kind::User, id)),
        }))
        .into_response(),
    }
}
