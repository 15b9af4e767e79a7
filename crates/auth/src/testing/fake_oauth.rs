//! A local OAuth 2.0 authorization server speaking the Google, GitHub and generic OIDC dialects.
//!
//! It is strict the way real providers are: the token endpoint checks the grant type, the
//! client credentials, that the code exists and is unused, that `redirect_uri` matches the one
//! at `/authorize`, and that the S256 of `code_verifier` equals the `code_challenge` seen there;
//! userinfo checks the bearer token. A code is consumed by any exchange attempt that names it.
//!
//! Routes, under `base_url()`, per dialect (`google`, `github`, `oidc`):
//! `GET /{dialect}/authorize`, `POST /{dialect}/token`, `GET /google/userinfo`,
//! `GET /oidc/userinfo`, `GET /github/user`, `GET /github/user/emails` (403 without the
//! `user:email` scope, like GitHub). GitHub's token endpoint reports errors as `200 OK` with an
//! error body, as github.com does.

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use url::Url;

use crate::oauth::{OAuthProviderConfig, ProfileMapping};

/// The client id the fake server accepts; [`FakeOAuthServer::config`] uses it.
pub const FAKE_CLIENT_ID: &str = "colloquy-test-client";
/// The client secret the fake server accepts; [`FakeOAuthServer::config`] uses it.
pub const FAKE_CLIENT_SECRET: &str = "colloquy-test-secret";

/// Largest request body the fake server reads.
const BODY_LIMIT: usize = 64 * 1024;

/// The account that approves authorizations at the fake provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeUser {
    /// Numeric id: GitHub's `id`, and as text the OIDC `sub`.
    pub id: u64,
    /// GitHub login and OIDC `preferred_username`.
    pub login: String,
    /// Email shown by userinfo (and GitHub's primary email).
    pub email: Option<String>,
    /// Whether the provider reports `email` as verified.
    pub email_verified: bool,
    /// Display name.
    pub name: Option<String>,
    /// Picture URL (`picture` / `avatar_url`).
    pub avatar_url: Option<String>,
}

impl FakeUser {
    /// A user with only an id and a login.
    pub fn new(id: u64, login: impl Into<String>) -> Self {
        FakeUser {
            id,
            login: login.into(),
            email: None,
            email_verified: false,
            name: None,
            avatar_url: None,
        }
    }

    /// The same user with an email, verified or not.
    pub fn with_email(mut self, email: impl Into<String>, verified: bool) -> Self {
        self.email = Some(email.into());
        self.email_verified = verified;
        self
    }

    /// The same user with a display name.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The same user with a picture URL.
    pub fn with_avatar(mut self, url: impl Into<String>) -> Self {
        self.avatar_url = Some(url.into());
        self
    }
}

impl Default for FakeUser {
    /// Ada, with a verified email, a name and a picture.
    fn default() -> Self {
        FakeUser::new(1815, "ada")
            .with_email("ada@example.com", true)
            .with_name("Ada Lovelace")
            .with_avatar("https://avatars.example/ada.png")
    }
}

/// One request the fake server received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// Path without the query (`/google/token`).
    pub path: String,
    /// Decoded query parameters, in order.
    pub query: Vec<(String, String)>,
    /// Decoded form fields of a form body, in order.
    pub form: Vec<(String, String)>,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
}

impl RecordedRequest {
    /// The first query parameter or form field named `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .chain(&self.form)
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// Where the fake provider sent the browser back to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeCallback {
    /// The full redirect (`redirect_uri?code=...&state=...`): what a test hands to the
    /// application's callback route.
    pub url: Url,
    /// The authorization code.
    pub code: String,
    /// The echoed `state`.
    pub state: String,
}

/// Why [`FakeOAuthServer::approve`] found no callback.
#[derive(Debug, thiserror::Error)]
pub enum FakeOAuthError {
    /// The authorization URL could not be requested.
    #[error("requesting the authorization URL failed")]
    Request(#[from] reqwest::Error),
    /// The fake server refused the authorization request (bad client id, no PKCE, ...).
    #[error("authorization refused with {status}: {body}")]
    Refused {
        /// Status of the refusal.
        status: StatusCode,
        /// Its body, which says what was wrong.
        body: String,
    },
    /// The redirect did not carry a code and state.
    #[error("the authorization response was not a redirect with code and state")]
    NoCallback,
}

/// A running fake authorization server; stops when dropped.
pub struct FakeOAuthServer {
    base_url: String,
    shared: Shared,
    browser: reqwest::Client,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for FakeOAuthServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeOAuthServer")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl Drop for FakeOAuthServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeOAuthServer {
    /// Starts the server on an ephemeral local port, approving as [`FakeUser::default`].
    pub async fn start() -> io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let base_url = format!("http://{}", listener.local_addr()?);
        let shared: Shared = Arc::new(Mutex::new(ServerState {
            user: FakeUser::default(),
            ..ServerState::default()
        }));
        let router = Router::new()
            .route("/{dialect}/authorize", get(authorize))
            .route("/{dialect}/token", post(token))
            .route("/{dialect}/userinfo", get(oidc_userinfo))
            .route("/github/user", get(github_user))
            .route("/github/user/emails", get(github_emails))
            .layer(middleware::from_fn_with_state(shared.clone(), record))
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, router).await {
                tracing::error!(%error, "fake OAuth server stopped");
            }
        });
        let browser = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(io::Error::other)?;
        Ok(FakeOAuthServer {
            base_url,
            shared,
            browser,
            task,
        })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// A provider configuration pointing at this server: the Google or GitHub preset with its
    /// id, scopes and client authentication but local endpoints, or a generic OIDC provider
    /// with id `oidc`. All use [`FAKE_CLIENT_ID`] and [`FAKE_CLIENT_SECRET`].
    pub fn config(&self, mapping: ProfileMapping) -> OAuthProviderConfig {
        let base = &self.base_url;
        match mapping {
            ProfileMapping::Google => OAuthProviderConfig {
                auth_url: format!("{base}/google/authorize"),
                token_url: format!("{base}/google/token"),
                userinfo_url: format!("{base}/google/userinfo"),
                ..OAuthProviderConfig::google(FAKE_CLIENT_ID, FAKE_CLIENT_SECRET)
            },
            ProfileMapping::GitHub => OAuthProviderConfig {
                auth_url: format!("{base}/github/authorize"),
                token_url: format!("{base}/github/token"),
                userinfo_url: format!("{base}/github/user"),
                emails_url: Some(format!("{base}/github/user/emails")),
                ..OAuthProviderConfig::github(FAKE_CLIENT_ID, FAKE_CLIENT_SECRET)
            },
            ProfileMapping::Generic => OAuthProviderConfig::generic(
                "oidc",
                FAKE_CLIENT_ID,
                Some(FAKE_CLIENT_SECRET.to_owned()),
                format!("{base}/oidc/authorize"),
                format!("{base}/oidc/token"),
                format!("{base}/oidc/userinfo"),
            ),
        }
    }

    /// The account that approves the next authorizations. Codes already issued keep the user
    /// they were issued for.
    pub fn set_user(&self, user: FakeUser) {
        lock(&self.shared).user = user;
    }

    /// Plays the browser: opens `authorization_url` at this server, which approves as the
    /// current user and redirects; returns that redirect. Open the returned URL against the
    /// application to finish the sign-in.
    pub async fn approve(&self, authorization_url: &str) -> Result<FakeCallback, FakeOAuthError> {
        let response = self.browser.get(authorization_url).send().await?;
        let status = response.status();
        if !status.is_redirection() {
            let body = response.text().await.unwrap_or_default();
            return Err(FakeOAuthError::Refused { status, body });
        }
        let url = response
            .headers()
            .get(header::LOCATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|location| Url::parse(location).ok())
            .ok_or(FakeOAuthError::NoCallback)?;
        let param = |name: &str| {
            url.query_pairs()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.into_owned())
        };
        let (Some(code), Some(state)) = (param("code"), param("state")) else {
            return Err(FakeOAuthError::NoCallback);
        };
        Ok(FakeCallback { url, code, state })
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared).requests.clone()
    }

    /// The requests received at `path` (`/google/token`), oldest first.
    pub fn requests_to(&self, path: &str) -> Vec<RecordedRequest> {
        lock(&self.shared)
            .requests
            .iter()
            .filter(|request| request.path == path)
            .cloned()
            .collect()
    }
}

type Shared = Arc<Mutex<ServerState>>;

#[derive(Default)]
struct ServerState {
    user: FakeUser,
    codes: HashMap<String, Grant>,
    tokens: HashMap<String, Grant>,
    requests: Vec<RecordedRequest>,
    issued: u64,
}

/// What a code, then its access token, was issued for.
#[derive(Clone)]
struct Grant {
    dialect: String,
    redirect_uri: String,
    code_challenge: String,
    scope: String,
    user: FakeUser,
}

fn lock(shared: &Shared) -> MutexGuard<'_, ServerState> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

fn next_secret(state: &mut ServerState, prefix: &str) -> String {
    state.issued += 1;
    let nonce: u64 = rand::random();
    format!("{prefix}{}_{nonce:016x}", state.issued)
}

async fn record(State(shared): State<Shared>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, BODY_LIMIT).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    let is_form = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/x-www-form-urlencoded"));
    let form = if is_form {
        url::form_urlencoded::parse(&bytes).into_owned().collect()
    } else {
        Vec::new()
    };
    let query = parts
        .uri
        .query()
        .map(|query| {
            url::form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    lock(&shared).requests.push(RecordedRequest {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query,
        form,
        authorization: parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned),
    });
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

fn is_dialect(dialect: &str) -> bool {
    matches!(dialect, "google" | "github" | "oidc")
}

async fn authorize(
    State(shared): State<Shared>,
    Path(dialect): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let get = |name: &str| params.get(name).map(String::as_str).unwrap_or_default();
    let problem = if !is_dialect(&dialect) {
        Some("unknown provider")
    } else if get("response_type") != "code" {
        Some("response_type must be code")
    } else if get("client_id") != FAKE_CLIENT_ID {
        Some("unknown client_id")
    } else if get("state").is_empty() {
        Some("state is required")
    } else if get("code_challenge_method") != "S256" || get("code_challenge").is_empty() {
        Some("PKCE with S256 is required")
    } else {
        None
    };
    let redirect = Url::parse(get("redirect_uri"));
    let (None, Ok(mut redirect)) = (problem, redirect) else {
        let reason = problem.unwrap_or("redirect_uri must be an absolute URL");
        return (StatusCode::BAD_REQUEST, reason).into_response();
    };

    let mut state = lock(&shared);
    let code = next_secret(&mut state, "fake_code_");
    let grant = Grant {
        dialect,
        redirect_uri: get("redirect_uri").to_owned(),
        code_challenge: get("code_challenge").to_owned(),
        scope: get("scope").to_owned(),
        user: state.user.clone(),
    };
    state.codes.insert(code.clone(), grant);
    redirect
        .query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", get("state"));
    (
        StatusCode::FOUND,
        [(header::LOCATION, redirect.to_string())],
    )
        .into_response()
}

async fn token(
    State(shared): State<Shared>,
    Path(dialect): Path<String>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<HashMap<String, String>>,
) -> Response {
    let refuse = |status: StatusCode, error: &str| {
        // github.com answers refused exchanges with 200 and an error body.
        let status = if dialect == "github" {
            StatusCode::OK
        } else {
            status
        };
        (status, Json(json!({ "error": error }))).into_response()
    };
    let get = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();

    if !is_dialect(&dialect) {
        return StatusCode::NOT_FOUND.into_response();
    }
    if get("grant_type") != "authorization_code" {
        return refuse(StatusCode::BAD_REQUEST, "unsupported_grant_type");
    }
    let (client_id, client_secret) = match basic_credentials(&headers) {
        Some(credentials) => credentials,
        None => (get("client_id").to_owned(), get("client_secret").to_owned()),
    };
    if client_id != FAKE_CLIENT_ID || client_secret != FAKE_CLIENT_SECRET {
        return refuse(StatusCode::UNAUTHORIZED, "invalid_client");
    }

    let mut state = lock(&shared);
    let Some(grant) = state.codes.remove(get("code")) else {
        return refuse(StatusCode::BAD_REQUEST, "invalid_grant");
    };
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(get("code_verifier").as_bytes()));
    if grant.dialect != dialect
        || grant.redirect_uri != get("redirect_uri")
        || get("code_verifier").is_empty()
        || challenge != grant.code_challenge
    {
        return refuse(StatusCode::BAD_REQUEST, "invalid_grant");
    }
    let access_token = next_secret(&mut state, "fake_at_");
    let scope = grant.scope.clone();
    state.tokens.insert(access_token.clone(), grant);
    let body = if dialect == "github" {
        json!({ "access_token": access_token, "token_type": "bearer", "scope": scope })
    } else {
        json!({
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": 3599,
            "scope": scope,
        })
    };
    Json(body).into_response()
}

/// Client id and secret from `Authorization: Basic`, form-urldecoded as RFC 6749 §2.3.1 says.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unescape = |part: &str| -> String {
        url::form_urlencoded::parse(format!("v={part}").as_bytes())
            .next()
            .map(|(_, value)| value.into_owned())
            .unwrap_or_default()
    };
    Some((unescape(id), unescape(secret)))
}

/// The grant behind a valid `Authorization: Bearer` token issued for `dialect`.
fn bearer_grant(shared: &Shared, headers: &HeaderMap, dialect: &str) -> Option<Grant> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    lock(shared)
        .tokens
        .get(token.trim())
        .filter(|grant| grant.dialect == dialect)
        .cloned()
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer error=\"invalid_token\"")],
        Json(json!({ "error": "invalid_token" })),
    )
        .into_response()
}

async fn oidc_userinfo(
    State(shared): State<Shared>,
    Path(dialect): Path<String>,
    headers: HeaderMap,
) -> Response {
    if dialect != "google" && dialect != "oidc" {
        return StatusCode::NOT_FOUND.into_response();
    }
    let Some(grant) = bearer_grant(&shared, &headers, &dialect) else {
        return unauthorized();
    };
    let user = grant.user;
    let mut body = json!({ "sub": user.id.to_string() });
    if let Some(email) = &user.email {
        body["email"] = json!(email);
        body["email_verified"] = json!(user.email_verified);
    }
    if let Some(name) = &user.name {
        body["name"] = json!(name);
    }
    if let Some(picture) = &user.avatar_url {
        body["picture"] = json!(picture);
    }
    if dialect == "oidc" {
        body["preferred_username"] = json!(user.login);
    }
    Json(body).into_response()
}

async fn github_user(State(shared): State<Shared>, headers: HeaderMap) -> Response {
    let Some(grant) = bearer_grant(&shared, &headers, "github") else {
        return unauthorized();
    };
    let user = grant.user;
    let body: Value = json!({
        "login": user.login,
        "id": user.id,
        "name": user.name,
        "email": user.email,
        "avatar_url": user.avatar_url,
    });
    Json(body).into_response()
}

async fn github_emails(State(shared): State<Shared>, headers: HeaderMap) -> Response {
    let Some(grant) = bearer_grant(&shared, &headers, "github") else {
        return unauthorized();
    };
    if !grant
        .scope
        .split([' ', ','])
        .any(|scope| scope == "user:email")
    {
        return (
            StatusCode::FORBIDDEN,
            Json(json!({ "message": "Resource not accessible by integration" })),
        )
            .into_response();
    }
    let emails: Vec<Value> = grant
        .user
        .email
        .iter()
        .map(|email| {
            json!({
                "email": email,
                "primary": true,
                "verified": grant.user.email_verified,
                "visibility": "public",
            })
        })
        .collect();
    Json(emails).into_response()
}
