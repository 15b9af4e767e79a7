#![doc = include_str!("../README.md")]

mod error;
pub mod oauth;
pub mod password;
pub mod secrets;
#[cfg(feature = "testing")]
pub mod testing;
pub mod tokens;

pub use error::{AuthError, BoxedSource};
pub use oauth::{
    AccessToken, Authorization, ClientAuth, ExternalProfile, OAuthClient, OAuthProviderConfig,
    ProfileMapping,
};
pub use password::{
    dummy_verify, hash_password, hash_pin, needs_rehash, verify_password, verify_pin,
};
pub use secrets::{KeyRing, MasterKey, Sealed, last4};
pub use tokens::{IssuedToken, TokenKind, constant_time_eq, hash_token};
