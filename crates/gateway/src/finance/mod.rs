//! Finance (Azora): wallets per user and currency, the ledger behind every balance, transfers
//! between users, payments through a pluggable processor with refunds, and the proof-of-knowledge
//! mining rewards the education area mints through [`FinanceService::mint_reward`]. Every money
//! mutation is idempotent by the caller's key.

pub mod graphql;
pub mod loaders;
pub mod processor;
pub mod service;

pub use service::FinanceService;
