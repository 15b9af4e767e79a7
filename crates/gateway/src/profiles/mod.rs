//! Profiles (Azora `UserProfile`): `updateMyProfile` (the caller's own name, avatar URL, bio,
//! headline, location, timezone, locale and preferences) and `User.profile`, read through a
//! loader (one statement per level).

pub mod graphql;
pub mod loaders;
pub mod service;

pub use service::ProfileService;
