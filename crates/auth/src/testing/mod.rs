//! Test doubles for the crate's external services (feature `testing`).
//!
//! [`FakeOAuthServer`] runs a local authorization server so tests go through the real
//! [`OAuthClient`](crate::OAuthClient) and HTTP, never the internet:
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use auth::testing::{FakeOAuthServer, FakeUser};
//! use auth::{OAuthClient, ProfileMapping};
//!
//! let fake = FakeOAuthServer::start().await?;
//! fake.set_user(FakeUser::new(7, "grace").with_email("grace@example.com", true));
//! let client = OAuthClient::new(fake.config(ProfileMapping::Google), "http://app/callback")?;
//! let authorization = client.authorize();
//! let callback = fake.approve(authorization.url.as_str()).await?;
//! let token = client.exchange(&callback.code, &authorization.pkce_verifier).await?;
//! let profile = client.fetch_profile(&token).await?;
//! assert_eq!(profile.external_id, "7");
//! # Ok(())
//! # }
//! ```

mod fake_oauth;

pub use fake_oauth::{
    FAKE_CLIENT_ID, FAKE_CLIENT_SECRET, FakeCallback, FakeOAuthError, FakeOAuthServer, FakeUser,
    RecordedRequest,
};
