//! The catalogue: personas and rooms, and which rooms suit which personas. Readable by anyone,
//! signed in or not.

pub mod graphql;
pub mod loaders;
pub mod service;

pub use service::CatalogueService;
