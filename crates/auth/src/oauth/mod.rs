//! Sign-in with an external provider: OAuth 2.0 authorization code flow with PKCE (S256).
//!
//! One sign-in, as the gateway drives it:
//! 1. [`OAuthClient::authorize`] gives the provider URL, a random `state` and a PKCE verifier;
//!    the caller remembers them (the gateway keeps a hash of the state in its database, with the
//!    guest user, if one is signed in), and the browser is redirected to the URL.
//! 2. The provider redirects back with `code` and `state`. The caller finds the sign-in (once;
//!    an unknown or expired `state` is a refused sign-in, which is the CSRF check) and checks
//!    the provider matches the callback's.
//! 3. [`OAuthClient::exchange`] trades the code and verifier for an access token, and
//!    [`OAuthClient::fetch_profile`] reads who signed in as an [`ExternalProfile`], keyed by
//!    `(provider, external_id)`.
//!
//! Conventions: the provider's access token is used once and never stored; requests go through
//! a `reqwest` client that does not follow redirects; only a verified email
//! ([`ExternalProfile::email_verified`]) may match an existing account.

mod client;
mod profile;
mod provider;

pub use client::{AccessToken, Authorization, OAuthClient};
pub use profile::ExternalProfile;
pub use provider::{ClientAuth, OAuthProviderConfig, ProfileMapping};
