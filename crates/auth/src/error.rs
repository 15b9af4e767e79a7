//! The crate's one error type.
//!
//! Variants carry what an operator needs in the log (a source error, a key id, a provider's
//! OAuth error code) and never a secret: no password, token, key or ciphertext ends up in a
//! message. The gateway maps each variant to an API error code; its `Display` text is for logs,
//! not for clients.

use reqwest::StatusCode;

/// Boxed source error of an HTTP exchange with an OAuth provider.
pub type BoxedSource = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The operating system's random number generator failed.
    #[error("the operating system's random number generator failed")]
    Random(#[source] rand::rand_core::OsError),

    /// argon2 could not hash (bad parameters or an input beyond its limits).
    #[error("password hashing failed")]
    Hashing(#[source] argon2::password_hash::Error),

    /// A stored password or PIN hash is not a PHC string this crate can verify.
    #[error("stored password hash is malformed")]
    MalformedHash(#[source] argon2::password_hash::Error),

    /// A PIN is not 4 to 12 ASCII digits.
    #[error("a PIN must be 4 to 12 digits")]
    InvalidPin,

    /// The master key ring text (`id:base64key,...`) cannot be used; the reason names the
    /// problem, never the key material.
    #[error("invalid master key ring: {0}")]
    InvalidKeyRing(String),

    /// A sealed secret names a key id the ring does not hold.
    #[error("no master key with id `{0}`")]
    UnknownKeyId(String),

    /// Encrypting a secret failed.
    #[error("encryption failed")]
    Encryption,

    /// A sealed secret failed authentication: wrong key, wrong key id or context, tampered or
    /// truncated ciphertext, or not base64.
    #[error("decryption failed")]
    Decryption,

    /// An OAuth provider configuration holds an unusable URL.
    #[error("OAuth provider `{provider}`: invalid {field}")]
    OAuthConfig {
        /// The provider id.
        provider: String,
        /// The configuration field at fault (`auth_url`, `token_url`, ...).
        field: &'static str,
        /// Why the URL was refused.
        #[source]
        source: url::ParseError,
    },

    /// The HTTP client for OAuth requests could not be built.
    #[error("building the OAuth HTTP client failed")]
    HttpClient(#[source] reqwest::Error),

    /// The provider's token endpoint refused the code exchange with an OAuth error
    /// (`invalid_grant` for a wrong, reused or expired code or a wrong PKCE verifier).
    #[error("OAuth provider `{provider}` refused the code exchange: {error}")]
    TokenRejected {
        /// The provider id.
        provider: String,
        /// The OAuth error code the provider returned.
        error: String,
    },

    /// The token endpoint could not be reached or answered something that is not a token
    /// response.
    #[error("OAuth provider `{provider}`: token request failed")]
    TokenRequest {
        /// The provider id.
        provider: String,
        /// The underlying transport or parse error.
        #[source]
        source: BoxedSource,
    },

    /// The userinfo endpoint could not be reached or its body could not be read.
    #[error("OAuth provider `{provider}`: profile request failed")]
    ProfileRequest {
        /// The provider id.
        provider: String,
        /// The underlying transport error.
        #[source]
        source: reqwest::Error,
    },

    /// The userinfo endpoint answered with a non-success status (401 for a bad token).
    #[error("OAuth provider `{provider}`: profile request answered {status}")]
    ProfileStatus {
        /// The provider id.
        provider: String,
        /// The HTTP status received.
        status: StatusCode,
    },

    /// The userinfo body does not hold a usable profile.
    #[error("OAuth provider `{provider}`: malformed profile: {reason}")]
    ProfileMalformed {
        /// The provider id.
        provider: String,
        /// What is missing or wrong.
        reason: String,
    },
}
