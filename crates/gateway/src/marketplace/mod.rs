//! The job marketplace (Azora): the skills catalogue, the skills users hold (with levels), jobs
//! employers post (draft → open → closed, with the skills they ask for), applications
//! (SUBMITTED → REVIEWING → INTERVIEW → OFFERED / REJECTED, or WITHDRAWN by the applicant, each
//! move notifying the applicant live), and how well the caller's skills match a job.

pub mod graphql;
pub mod loaders;
pub mod seed;
pub mod service;

pub use service::MarketplaceService;
