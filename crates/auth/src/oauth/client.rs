//! The authorization code flow with PKCE against one provider.

use std::fmt;
use std::time::Duration;

use oauth2::basic::{BasicClient, BasicErrorResponse};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    EndpointSet, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope,
    TokenResponse, TokenUrl,
};
use reqwest::header::{ACCEPT, HeaderValue};
use serde_json::Value;
use url::Url;

use super::profile::{apply_github_emails, map_profile};
use super::{ClientAuth, ExternalProfile, OAuthProviderConfig, ProfileMapping};
use crate::AuthError;

/// Whole-request timeout for calls to a provider: a sign-in that waits longer has failed.
const PROVIDER_TIMEOUT: Duration = Duration::from_secs(15);

type ConfiguredClient =
    BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// Where to send the browser, and what to remember until it comes back.
#[derive(Clone)]
pub struct Authorization {
    /// The provider's authorization URL, with client id, redirect URL, scopes, `state` and the
    /// S256 PKCE challenge.
    pub url: Url,
    /// The CSRF `state` the provider will echo to the callback; the key of the pending
    /// authorization.
    pub state: String,
    /// The PKCE verifier, secret until the code exchange.
    pub pkce_verifier: String,
}

impl fmt::Debug for Authorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authorization")
            .field("url", &self.url.as_str())
            .field("state", &self.state)
            .field("pkce_verifier", &"<redacted>")
            .finish()
    }
}

/// A provider access token; used once to fetch the profile, then dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken(String);

impl AccessToken {
    /// Wraps a token string.
    pub fn new(token: impl Into<String>) -> Self {
        AccessToken(token.into())
    }

    /// The token itself.
    pub fn secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken(<redacted>)")
    }
}

/// An OAuth 2.0 client for one provider and one redirect URL.
#[derive(Debug, Clone)]
pub struct OAuthClient {
    config: OAuthProviderConfig,
    inner: ConfiguredClient,
    http: reqwest::Client,
    userinfo_url: Url,
    emails_url: Option<Url>,
}

impl OAuthClient {
    /// A client for `config` whose callback is `redirect_url`, with its own HTTP client (see
    /// [`OAuthClient::http_client`]). URLs are validated here, so a bad configuration fails at
    /// start-up rather than at the first sign-in.
    pub fn new(config: OAuthProviderConfig, redirect_url: &str) -> Result<Self, AuthError> {
        OAuthClient::with_http_client(config, redirect_url, OAuthClient::http_client()?)
    }

    /// Like [`OAuthClient::new`], sharing an HTTP client between providers. The client must not
    /// follow redirects.
    pub fn with_http_client(
        config: OAuthProviderConfig,
        redirect_url: &str,
        http: reqwest::Client,
    ) -> Result<Self, AuthError> {
        let bad = |field: &'static str| {
            let provider = config.id.clone();
            move |source| AuthError::OAuthConfig {
                provider,
                field,
                source,
            }
        };
        let auth_url = AuthUrl::new(config.auth_url.clone()).map_err(bad("auth_url"))?;
        let token_url = TokenUrl::new(config.token_url.clone()).map_err(bad("token_url"))?;
        let redirect = RedirectUrl::new(redirect_url.to_owned()).map_err(bad("redirect_url"))?;
        let userinfo_url = Url::parse(&config.userinfo_url).map_err(bad("userinfo_url"))?;
        let emails_url = config
            .emails_url
            .as_deref()
            .map(Url::parse)
            .transpose()
            .map_err(bad("emails_url"))?;

        let mut inner = BasicClient::new(ClientId::new(config.client_id.clone()))
            .set_auth_uri(auth_url)
            .set_token_uri(token_url)
            .set_redirect_uri(redirect)
            .set_auth_type(match config.client_auth {
                ClientAuth::Basic => AuthType::BasicAuth,
                ClientAuth::RequestBody => AuthType::RequestBody,
            });
        if let Some(secret) = &config.client_secret {
            inner = inner.set_client_secret(ClientSecret::new(secret.clone()));
        }
        Ok(OAuthClient {
            config,
            inner,
            http,
            userinfo_url,
            emails_url,
        })
    }

    /// The HTTP client this crate uses for providers: no redirects (a token endpoint that
    /// redirects could otherwise steer the server's requests, and the code with them, anywhere),
    /// a timeout, and a `User-Agent`, which GitHub's API requires.
    pub fn http_client() -> Result<reqwest::Client, AuthError> {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(PROVIDER_TIMEOUT)
            .user_agent(concat!("colloquy/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(AuthError::HttpClient)
    }

    /// The provider's configuration.
    pub fn config(&self) -> &OAuthProviderConfig {
        &self.config
    }

    /// The provider id (`google`, `github`, ...).
    pub fn provider_id(&self) -> &str {
        &self.config.id
    }

    /// Starts a sign-in: a fresh random `state` and PKCE verifier, and the URL to send the
    /// browser to. Keep `state` and the verifier (see
    /// the caller's store of sign-ins in flight) until the callback.
    pub fn authorize(&self) -> Authorization {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state) = self
            .inner
            .authorize_url(CsrfToken::new_random)
            .add_scopes(self.config.scopes.iter().cloned().map(Scope::new))
            .set_pkce_challenge(challenge)
            .url();
        Authorization {
            url,
            state: state.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        }
    }

    /// Exchanges the callback's `code` and the stored PKCE verifier for an access token.
    ///
    /// [`AuthError::TokenRejected`] when the provider refuses (wrong, reused or expired code,
    /// wrong verifier, bad client credentials); [`AuthError::TokenRequest`] when it cannot be
    /// reached or answers nonsense.
    pub async fn exchange(
        &self,
        code: &str,
        pkce_verifier: &str,
    ) -> Result<AccessToken, AuthError> {
        let response = self
            .inner
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()))
            .request_async(&self.http)
            .await;
        match response {
            Ok(token) => Ok(AccessToken(token.access_token().secret().clone())),
            Err(RequestTokenError::ServerResponse(error)) => Err(self.rejected(&error)),
            Err(RequestTokenError::Parse(source, body)) => {
                // GitHub reports a refused exchange as `200 OK` with an error body, which the
                // token parser cannot read; it is still a refusal, not a broken provider.
                match serde_json::from_slice::<BasicErrorResponse>(&body) {
                    Ok(error) => Err(self.rejected(&error)),
                    Err(_) => Err(AuthError::TokenRequest {
                        provider: self.config.id.clone(),
                        source: Box::new(source),
                    }),
                }
            }
            Err(other) => Err(AuthError::TokenRequest {
                provider: self.config.id.clone(),
                source: Box::new(other),
            }),
        }
    }

    /// The signed-in user's profile, read with the access token.
    pub async fn fetch_profile(&self, token: &AccessToken) -> Result<ExternalProfile, AuthError> {
        let body = self.get_json(&self.userinfo_url, token).await?;
        let mut profile =
            map_profile(&self.config.id, self.config.profile, &body).map_err(|reason| {
                AuthError::ProfileMalformed {
                    provider: self.config.id.clone(),
                    reason,
                }
            })?;
        if let (ProfileMapping::GitHub, Some(emails_url)) = (self.config.profile, &self.emails_url)
        {
            // Without the `user:email` scope GitHub refuses this list; the profile then keeps
            // its public email, unverified, rather than failing the sign-in.
            match self.get_json(emails_url, token).await {
                Ok(emails) => apply_github_emails(&mut profile, &emails),
                Err(error) => tracing::debug!(
                    provider = %self.config.id,
                    error = %error,
                    "email list unavailable; keeping the public email unverified"
                ),
            }
        }
        Ok(profile)
    }

    async fn get_json(&self, url: &Url, token: &AccessToken) -> Result<Value, AuthError> {
        let request_failed = |source| AuthError::ProfileRequest {
            provider: self.config.id.clone(),
            source,
        };
        let response = self
            .http
            .get(url.clone())
            .bearer_auth(token.secret())
            .header(ACCEPT, HeaderValue::from_static("application/json"))
            .send()
            .await
            .map_err(request_failed)?;
        let status = response.status();
        if !status.is_success() {
            return Err(AuthError::ProfileStatus {
                provider: self.config.id.clone(),
                status,
            });
        }
        let bytes = response.bytes().await.map_err(request_failed)?;
        serde_json::from_slice(&bytes).map_err(|_| AuthError::ProfileMalformed {
            provider: self.config.id.clone(),
            reason: "userinfo is not JSON".to_owned(),
        })
    }

    fn rejected(&self, error: &BasicErrorResponse) -> AuthError {
        AuthError::TokenRejected {
            provider: self.config.id.clone(),
            error: error.error().to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(config: OAuthProviderConfig) -> OAuthClient {
        OAuthClient::new(config, "https://app.example/auth/callback").unwrap()
    }

    #[test]
    fn authorization_url_carries_pkce_state_and_scopes() {
        let client = client(OAuthProviderConfig::google("cid", "secret"));
        let auth = client.authorize();
        let query: std::collections::HashMap<_, _> = auth.url.query_pairs().into_owned().collect();
        assert_eq!(query["response_type"], "code");
        assert_eq!(query["client_id"], "cid");
        assert_eq!(query["redirect_uri"], "https://app.example/auth/callback");
        assert_eq!(query["scope"], "openid email profile");
        assert_eq!(query["state"], auth.state);
        assert_eq!(query["code_challenge_method"], "S256");
        assert_eq!(
            query["code_challenge"],
            PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(
                auth.pkce_verifier.clone()
            ))
            .as_str()
        );
        assert!(!query.contains_key("client_secret"));
        assert!(!auth.url.as_str().contains(&auth.pkce_verifier));
    }

    #[test]
    fn every_authorization_is_fresh() {
        let client = client(OAuthProviderConfig::github("cid", "secret"));
        let a = client.authorize();
        let b = client.authorize();
        assert_ne!(a.state, b.state);
        assert_ne!(a.pkce_verifier, b.pkce_verifier);
        assert!(a.pkce_verifier.len() >= 43);
    }

    #[test]
    fn bad_urls_fail_at_construction_naming_the_field() {
        let mut config = OAuthProviderConfig::generic(
            "sso",
            "cid",
            None,
            "https://sso.example/auth",
            "not a url",
            "https://sso.example/userinfo",
        );
        assert!(matches!(
            OAuthClient::new(config.clone(), "https://app.example/cb"),
            Err(AuthError::OAuthConfig {
                field: "token_url",
                ..
            })
        ));
        config.token_url = "https://sso.example/token".into();
        assert!(matches!(
            OAuthClient::new(config.clone(), "/relative"),
            Err(AuthError::OAuthConfig {
                field: "redirect_url",
                ..
            })
        ));
        config.emails_url = Some("::".into());
        assert!(matches!(
            OAuthClient::new(config, "https://app.example/cb"),
            Err(AuthError::OAuthConfig {
                field: "emails_url",
                ..
            })
        ));
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let client = client(OAuthProviderConfig::google("cid", "topsecret"));
        let auth = client.authorize();
        let shown = format!("{client:?} {auth:?} {:?}", AccessToken::new("tok123"));
        assert!(!shown.contains("topsecret"), "{shown}");
        assert!(!shown.contains(&auth.pkce_verifier));
        assert!(!shown.contains("tok123"));
    }
}
