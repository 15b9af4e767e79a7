#![doc = include_str!("../README.md")]
pub mod entity;

pub mod analytics;
pub mod api_keys;
pub mod audit;
pub mod budgets;
pub mod catalogue;
pub mod cells;
pub mod contacts;
pub mod conversations;
pub mod cursor;
mod db;
pub mod deleted;
pub mod disclaimers;
pub mod education;
mod error;
pub mod events;
mod held;
pub mod identities;
pub mod jobs;
pub mod journals;
pub mod ledger;
pub mod limits;
pub mod marketplace;
pub mod messages;
pub mod notification_reads;
pub mod notifications;
pub mod oauth_states;
pub mod payments;
pub mod posts;
pub mod practice;
pub mod profiles;
pub mod research;
pub mod rows;
pub mod safety;
pub mod security;
pub mod sessions;
pub mod stored;
pub mod subscriptions;
pub mod tokens;
pub mod uploads;
pub mod usage;
pub mod users;
pub mod workspace;

pub use db::{
    Db, DbConfig, MigrationState, SQL_SECONDS_BUCKETS, SqlStats, StatementDone,
    set_request_id_source, set_statement_observer,
};
pub use error::StoreError;
pub use held::Held;
pub use sea_orm;

/// A page of rows read with a keyset cursor, plus whether more rows lie beyond each end.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub has_next_page: bool,
    pub has_previous_page: bool,
}

impl<T> Page<T> {
    pub fn empty() -> Self {
        Self {
            items: Vec::new(),
            has_next_page: false,
            has_previous_page: false,
        }
    }
}
