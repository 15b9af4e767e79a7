//! Provider configuration: endpoints, client credentials, scopes and profile shape.

use std::fmt;

/// How a provider's userinfo response is read into an [`ExternalProfile`](super::ExternalProfile).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileMapping {
    /// Google's OpenID Connect userinfo: `sub`, `email`, `email_verified`, `name`, `picture`.
    Google,
    /// GitHub's `GET /user`: numeric `id`, `login`, `name`, `email`, `avatar_url`; the verified
    /// primary email comes from `GET /user/emails` when [`OAuthProviderConfig::emails_url`] is
    /// set.
    GitHub,
    /// Any OpenID Connect userinfo endpoint (`sub`, `email`, `email_verified`, `name` or
    /// `preferred_username`, `picture`); `id` stands in for a missing `sub` on plain OAuth
    /// servers.
    Generic,
}

/// How the client authenticates to the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// HTTP Basic with the client id and secret (`client_secret_basic`), the method RFC 6749
    /// requires every server to support.
    Basic,
    /// `client_id` and `client_secret` as form fields (`client_secret_post`), which GitHub and
    /// Google document.
    RequestBody,
}

/// One OAuth 2.0 provider as the server is configured for it.
#[derive(Clone)]
pub struct OAuthProviderConfig {
    /// Stable provider name, stored with external identities (`google`, `github`, ...).
    pub id: String,
    /// The client id registered with the provider.
    pub client_id: String,
    /// The client secret; `None` for a public client that relies on PKCE alone.
    pub client_secret: Option<String>,
    /// Authorization endpoint the browser is sent to.
    pub auth_url: String,
    /// Token endpoint the code is exchanged at.
    pub token_url: String,
    /// Endpoint returning the signed-in user's profile for the access token.
    pub userinfo_url: String,
    /// GitHub only: endpoint listing the user's emails with their verification state.
    pub emails_url: Option<String>,
    /// Scopes requested at authorization.
    pub scopes: Vec<String>,
    /// Shape of the userinfo response.
    pub profile: ProfileMapping,
    /// How the client authenticates at the token endpoint.
    pub client_auth: ClientAuth,
}

impl OAuthProviderConfig {
    /// Google, with its published endpoints and the `openid email profile` scopes.
    pub fn google(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        OAuthProviderConfig {
            id: "google".to_owned(),
            client_id: client_id.into(),
            client_secret: Some(client_secret.into()),
            auth_url: "https://accounts.google.com/o/oauth2/v2/auth".to_owned(),
            token_url: "https://oauth2.googleapis.com/token".to_owned(),
            userinfo_url: "https://openidconnect.googleapis.com/v1/userinfo".to_owned(),
            emails_url: None,
            scopes: owned(&["openid", "email", "profile"]),
            profile: ProfileMapping::Google,
            client_auth: ClientAuth::RequestBody,
        }
    }

    /// GitHub (OAuth app or GitHub app), with its published endpoints and the `read:user
    /// user:email` scopes, the second being what lets [`ProfileMapping::GitHub`] see which
    /// email is verified.
    pub fn github(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        OAuthProviderConfig {
            id: "github".to_owned(),
            client_id: client_id.into(),
            client_secret: Some(client_secret.into()),
            auth_url: "https://github.com/login/oauth/authorize".to_owned(),
            token_url: "https://github.com/login/oauth/access_token".to_owned(),
            userinfo_url: "https://api.github.com/user".to_owned(),
            emails_url: Some("https://api.github.com/user/emails".to_owned()),
            scopes: owned(&["read:user", "user:email"]),
            profile: ProfileMapping::GitHub,
            client_auth: ClientAuth::RequestBody,
        }
    }

    /// Any OpenID Connect or OAuth 2.0 server, with the `openid email profile` scopes (change
    /// them with [`OAuthProviderConfig::with_scopes`]) and HTTP Basic client authentication.
    pub fn generic(
        id: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: Option<String>,
        auth_url: impl Into<String>,
        token_url: impl Into<String>,
        userinfo_url: impl Into<String>,
    ) -> Self {
        OAuthProviderConfig {
            id: id.into(),
            client_id: client_id.into(),
            client_secret,
            auth_url: auth_url.into(),
            token_url: token_url.into(),
            userinfo_url: userinfo_url.into(),
            emails_url: None,
            scopes: owned(&["openid", "email", "profile"]),
            profile: ProfileMapping::Generic,
            client_auth: ClientAuth::Basic,
        }
    }

    /// The same configuration requesting `scopes` instead.
    pub fn with_scopes<S: Into<String>>(mut self, scopes: impl IntoIterator<Item = S>) -> Self {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }
}

impl fmt::Debug for OAuthProviderConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthProviderConfig")
            .field("id", &self.id)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("auth_url", &self.auth_url)
            .field("token_url", &self.token_url)
            .field("userinfo_url", &self.userinfo_url)
            .field("emails_url", &self.emails_url)
            .field("scopes", &self.scopes)
            .field("profile", &self.profile)
            .field("client_auth", &self.client_auth)
            .finish()
    }
}

fn owned(scopes: &[&str]) -> Vec<String> {
    scopes.iter().map(|s| (*s).to_owned()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_point_at_the_real_endpoints() {
        let google = OAuthProviderConfig::google("id", "secret");
        assert_eq!(google.id, "google");
        assert_eq!(google.profile, ProfileMapping::Google);
        assert!(google.auth_url.starts_with("https://accounts.google.com/"));
        assert!(google.scopes.contains(&"email".to_owned()));

        let github = OAuthProviderConfig::github("id", "secret");
        assert_eq!(github.id, "github");
        assert_eq!(github.profile, ProfileMapping::GitHub);
        assert_eq!(github.userinfo_url, "https://api.github.com/user");
        assert!(github.scopes.contains(&"user:email".to_owned()));

        let generic = OAuthProviderConfig::generic(
            "keycloak",
            "id",
            None,
            "https://sso.example/auth",
            "https://sso.example/token",
            "https://sso.example/userinfo",
        )
        .with_scopes(["openid", "email"]);
        assert_eq!(generic.profile, ProfileMapping::Generic);
        assert_eq!(generic.scopes, ["openid", "email"]);
    }

    #[test]
    fn debug_redacts_the_client_secret() {
        let shown = format!("{:?}", OAuthProviderConfig::github("id", "hunter2"));
        assert!(!shown.contains("hunter2"));
        assert!(shown.contains("<redacted>"));
    }
}
