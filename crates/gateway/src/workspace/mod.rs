//! The workspace (OptiMind): projects, generic AI analyses of eight types and the five business
//! solutions (ContractWise, GlobalFit, BehaviorPredict, ComplianceGuard, SkillPath), whose runs
//! are durable jobs (`platform::jobs`) asking the model for structured output validated against
//! the JSON Schemas in `seeds/schemas/`. Only ever visible to their owner.

pub mod graphql;
pub mod kinds;
pub mod loaders;
mod runner;
pub mod seed;
pub mod service;

pub use service::WorkspaceService;
