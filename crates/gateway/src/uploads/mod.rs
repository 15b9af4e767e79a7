//! Uploads (OptiMind): files users upload over the GraphQL multipart request, kept in an object
//! store (a local directory, or S3), typed from their content, with their text extracted from
//! plain text, Markdown and PDF, and downloaded through expiring signed links (`/files/{id}`).

pub mod files;
pub mod graphql;
pub mod service;

pub use service::UploadService;
