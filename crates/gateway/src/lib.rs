#![doc = include_str!("../README.md")]
// The schema merges some twenty areas' Query and Mutation objects; the compiler follows their
// nested resolver futures deeper than its default limit of 128.
#![recursion_limit = "256"]
//! The gateway is laid out by area (`accounts`, `conversations`, `chat`, `catalogue`, `journals`,
//! `practice`, `research`): each area has a `service.rs` (its use cases: access checks, validation, transactions, events), a
//! `graphql.rs` (its types and thin resolvers) and, where it batches reads, a `loaders.rs`.
//! `http` is the transport, `platform` the shared machinery, `graphql` merges the areas.

pub mod accounts;
pub mod analytics;
pub mod app;
pub mod audit;
pub mod billing;
pub mod catalogue;
pub mod chat;
pub mod cli;
pub mod conversations;
pub mod education;
pub mod error;
pub mod finance;
pub mod graphql;
pub mod http;
pub mod journals;
pub mod marketplace;
pub mod notifications;
pub mod platform;
pub mod posts;
pub mod practice;
pub mod profiles;
pub mod research;
pub mod safety;
pub mod uploads;
pub mod workspace;
