#![doc = include_str!("../README.md")]
//! The gateway is laid out by area (`accounts`, `conversations`, `chat`, `catalogue`, `journals`,
//! `practice`, `research`): each area has a `service.rs` (its use cases: access checks, validation, transactions, events), a
//! `graphql.rs` (its types and thin resolvers) and, where it batches reads, a `loaders.rs`.
//! `http` is the transport, `platform` the shared machinery, `graphql` merges the areas.

pub mod accounts;
pub mod app;
pub mod audit;
pub mod catalogue;
pub mod chat;
pub mod cli;
pub mod conversations;
pub mod error;
pub mod graphql;
pub mod http;
pub mod journals;
pub mod marketplace;
pub mod notifications;
pub mod platform;
pub mod practice;
pub mod research;
pub mod safety;
