//! Education (Azora): courses written by educators (DRAFT → PUBLISHED → ARCHIVED) with ordered
//! modules, enrolments with per-module progress, assessments (quizzes and exams graded
//! automatically, assignments by the course's educator), and the proof-of-knowledge reward a
//! passed assessment mints once (through the finance area).

pub mod graphql;
pub mod loaders;
pub mod seed;
pub mod service;

pub use service::EducationService;
