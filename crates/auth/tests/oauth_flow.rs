//! The OAuth authorization code flow with PKCE, end to end over HTTP against the fake
//! authorization server, for each provider dialect.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use auth::testing::{FAKE_CLIENT_ID, FAKE_CLIENT_SECRET, FakeOAuthServer, FakeUser};
use auth::{AccessToken, AuthError, ExternalProfile, OAuthClient, ProfileMapping};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};

const CALLBACK: &str = "http://127.0.0.1:9/auth/oauth/callback";

async fn setup(mapping: ProfileMapping) -> (FakeOAuthServer, OAuthClient) {
    let fake = FakeOAuthServer::start().await.unwrap();
    let client = OAuthClient::new(fake.config(mapping), CALLBACK).unwrap();
    (fake, client)
}

/// Runs a whole sign-in and returns the profile.
async fn sign_in(fake: &FakeOAuthServer, client: &OAuthClient) -> ExternalProfile {
    let authorization = client.authorize();
    let callback = fake.approve(authorization.url.as_str()).await.unwrap();
    assert_eq!(callback.state, authorization.state);
    let token = client
        .exchange(&callback.code, &authorization.pkce_verifier)
        .await
        .unwrap();
    client.fetch_profile(&token).await.unwrap()
}

#[tokio::test]
async fn google_sign_in_maps_the_oidc_profile() {
    let (fake, client) = setup(ProfileMapping::Google).await;
    fake.set_user(
        FakeUser::new(110_169_484, "ada")
            .with_email("ada@example.com", true)
            .with_name("Ada Lovelace")
            .with_avatar("https://lh3.example/ada"),
    );
    let profile = sign_in(&fake, &client).await;
    assert_eq!(
        profile,
        ExternalProfile {
            provider: "google".into(),
            external_id: "110169484".into(),
            email: Some("ada@example.com".into()),
            email_verified: true,
            name: Some("Ada Lovelace".into()),
            avatar_url: Some("https://lh3.example/ada".into()),
        }
    );
}

#[tokio::test]
async fn the_wire_carries_pkce_s256_and_the_client_credentials() {
    let (fake, client) = setup(ProfileMapping::Google).await;
    let authorization = client.authorize();
    let callback = fake.approve(authorization.url.as_str()).await.unwrap();
    assert!(callback.url.as_str().starts_with(CALLBACK));
    let token = client
        .exchange(&callback.code, &authorization.pkce_verifier)
        .await
        .unwrap();
    client.fetch_profile(&token).await.unwrap();

    let authorize = &fake.requests_to("/google/authorize")[0];
    assert_eq!(authorize.param("code_challenge_method"), Some("S256"));
    let expected_challenge =
        URL_SAFE_NO_PAD.encode(Sha256::digest(authorization.pkce_verifier.as_bytes()));
    assert_eq!(
        authorize.param("code_challenge"),
        Some(expected_challenge.as_str())
    );
    assert_eq!(authorize.param("code_verifier"), None);

    let exchange = &fake.requests_to("/google/token")[0];
    assert_eq!(exchange.method, "POST");
    assert_eq!(exchange.param("grant_type"), Some("authorization_code"));
    assert_eq!(exchange.param("code"), Some(callback.code.as_str()));
    assert_eq!(
        exchange.param("code_verifier"),
        Some(authorization.pkce_verifier.as_str())
    );
    assert_eq!(exchange.param("redirect_uri"), Some(CALLBACK));
    // The Google preset posts its credentials in the body.
    assert_eq!(exchange.param("client_id"), Some(FAKE_CLIENT_ID));
    assert_eq!(exchange.param("client_secret"), Some(FAKE_CLIENT_SECRET));

    let userinfo = &fake.requests_to("/google/userinfo")[0];
    assert_eq!(
        userinfo.authorization.as_deref(),
        Some(format!("Bearer {}", token.secret()).as_str())
    );
}

#[tokio::test]
async fn generic_provider_authenticates_with_http_basic() {
    let (fake, client) = setup(ProfileMapping::Generic).await;
    fake.set_user(FakeUser::new(42, "grace").with_email("grace@example.org", false));
    let profile = sign_in(&fake, &client).await;
    assert_eq!(profile.provider, "oidc");
    assert_eq!(profile.external_id, "42");
    assert_eq!(profile.email.as_deref(), Some("grace@example.org"));
    assert!(!profile.email_verified);
    // No `name`: the generic mapping falls back to `preferred_username`.
    assert_eq!(profile.name.as_deref(), Some("grace"));
    assert_eq!(profile.avatar_url, None);

    let exchange = &fake.requests_to("/oidc/token")[0];
    let expected = format!(
        "Basic {}",
        STANDARD.encode(format!("{FAKE_CLIENT_ID}:{FAKE_CLIENT_SECRET}"))
    );
    assert_eq!(exchange.authorization.as_deref(), Some(expected.as_str()));
    assert_eq!(exchange.param("client_secret"), None);
}

#[tokio::test]
async fn github_sign_in_reads_the_numeric_id_and_the_verified_email() {
    let (fake, client) = setup(ProfileMapping::GitHub).await;
    fake.set_user(
        FakeUser::new(583_231, "octocat")
            .with_email("octocat@github.com", true)
            .with_avatar("https://avatars.githubusercontent.com/u/583231"),
    );
    let profile = sign_in(&fake, &client).await;
    assert_eq!(
        profile,
        ExternalProfile {
            provider: "github".into(),
            external_id: "583231".into(),
            email: Some("octocat@github.com".into()),
            email_verified: true,
            name: Some("octocat".into()),
            avatar_url: Some("https://avatars.githubusercontent.com/u/583231".into()),
        }
    );
    assert_eq!(fake.requests_to("/github/user/emails").len(), 1);
}

#[tokio::test]
async fn github_without_the_email_scope_keeps_the_public_email_unverified() {
    let fake = FakeOAuthServer::start().await.unwrap();
    let config = fake
        .config(ProfileMapping::GitHub)
        .with_scopes(["read:user"]);
    let client = OAuthClient::new(config, CALLBACK).unwrap();
    fake.set_user(FakeUser::new(9, "hidden").with_email("hidden@example.com", true));
    let profile = sign_in(&fake, &client).await;
    assert_eq!(profile.email.as_deref(), Some("hidden@example.com"));
    assert!(!profile.email_verified);
}

#[tokio::test]
async fn a_wrong_verifier_is_refused_and_burns_the_code() {
    for mapping in [
        ProfileMapping::Google,
        ProfileMapping::GitHub,
        ProfileMapping::Generic,
    ] {
        let (fake, client) = setup(mapping).await;
        let authorization = client.authorize();
        let other = client.authorize();
        let callback = fake.approve(authorization.url.as_str()).await.unwrap();

        let refused = client.exchange(&callback.code, &other.pkce_verifier).await;
        assert!(
            matches!(&refused, Err(AuthError::TokenRejected { error, .. }) if error == "invalid_grant"),
            "{mapping:?}: {refused:?}"
        );
        // The code was spent by the failed attempt: the right verifier no longer helps.
        let retried = client
            .exchange(&callback.code, &authorization.pkce_verifier)
            .await;
        assert!(
            matches!(&retried, Err(AuthError::TokenRejected { error, .. }) if error == "invalid_grant"),
            "{mapping:?}: {retried:?}"
        );
    }
}

#[tokio::test]
async fn a_code_works_once() {
    let (fake, client) = setup(ProfileMapping::Google).await;
    let authorization = client.authorize();
    let callback = fake.approve(authorization.url.as_str()).await.unwrap();
    client
        .exchange(&callback.code, &authorization.pkce_verifier)
        .await
        .unwrap();
    let again = client
        .exchange(&callback.code, &authorization.pkce_verifier)
        .await;
    assert!(matches!(again, Err(AuthError::TokenRejected { .. })));
}

#[tokio::test]
async fn wrong_client_secret_is_refused_as_invalid_client() {
    let fake = FakeOAuthServer::start().await.unwrap();
    for mapping in [ProfileMapping::Google, ProfileMapping::Generic] {
        let mut config = fake.config(mapping);
        config.client_secret = Some("wrong".into());
        let client = OAuthClient::new(config, CALLBACK).unwrap();
        let authorization = client.authorize();
        let callback = fake.approve(authorization.url.as_str()).await.unwrap();
        let refused = client
            .exchange(&callback.code, &authorization.pkce_verifier)
            .await;
        assert!(
            matches!(&refused, Err(AuthError::TokenRejected { error, .. }) if error == "invalid_client"),
            "{mapping:?}: {refused:?}"
        );
    }
}

#[tokio::test]
async fn a_mismatched_redirect_uri_is_refused() {
    let fake = FakeOAuthServer::start().await.unwrap();
    let starting = OAuthClient::new(fake.config(ProfileMapping::Google), CALLBACK).unwrap();
    let finishing = OAuthClient::new(
        fake.config(ProfileMapping::Google),
        "http://evil.example/cb",
    )
    .unwrap();
    let authorization = starting.authorize();
    let callback = fake.approve(authorization.url.as_str()).await.unwrap();
    let refused = finishing
        .exchange(&callback.code, &authorization.pkce_verifier)
        .await;
    assert!(matches!(refused, Err(AuthError::TokenRejected { .. })));
}

#[tokio::test]
async fn userinfo_refuses_an_unknown_token() {
    let (_fake, client) = setup(ProfileMapping::Google).await;
    let refused = client.fetch_profile(&AccessToken::new("forged")).await;
    assert!(
        matches!(&refused, Err(AuthError::ProfileStatus { status, .. }) if status.as_u16() == 401),
        "{refused:?}"
    );
}

#[tokio::test]
async fn an_unreachable_provider_is_a_request_error() {
    let fake = FakeOAuthServer::start().await.unwrap();
    let mut config = fake.config(ProfileMapping::Generic);
    // Port 9 (discard) on loopback: nothing listens there.
    config.token_url = "http://127.0.0.1:9/token".into();
    config.userinfo_url = "http://127.0.0.1:9/userinfo".into();
    let client = OAuthClient::new(config, CALLBACK).unwrap();
    assert!(matches!(
        client.exchange("code", "verifier").await,
        Err(AuthError::TokenRequest { .. })
    ));
    assert!(matches!(
        client.fetch_profile(&AccessToken::new("t")).await,
        Err(AuthError::ProfileRequest { .. })
    ));
}

#[tokio::test]
async fn the_fake_refuses_authorization_without_pkce() {
    let fake = FakeOAuthServer::start().await.unwrap();
    let url = format!(
        "{}/google/authorize?response_type=code&client_id={FAKE_CLIENT_ID}&state=s&redirect_uri={CALLBACK}",
        fake.base_url()
    );
    let refused = fake.approve(&url).await;
    assert!(
        matches!(&refused, Err(auth::testing::FakeOAuthError::Refused { status, .. }) if status.as_u16() == 400),
        "{refused:?}"
    );
}
