//! Plans and metering (OptiMind subscriptions): the plans' entitlements (`plans`), every user's
//! subscription and its usage counters, and the plan's token budget that every AI call
//! reserves against (`service::plan_budget`).

pub mod graphql;
pub mod plans;
pub mod service;

pub use service::BillingService;
