//! End-to-end tests: each module exercises one area through GraphQL over HTTP and WebSocket, on
//! SQLite and on PostgreSQL (see `colloquy_tests::e2e!`). One test binary keeps link time down.

mod access;
mod accounts;
mod audit;
mod budgets;
mod chat;
mod conventions;
mod conversations;
mod cors;
mod followers;
mod hostile;
mod http_spec;
mod identity;
mod limits;
mod mail;
mod marketplace;
mod notifications;
mod numira;
mod playground;
mod practice;
mod queries;
mod readme;
mod research;
mod revocation;
mod safety;
mod schema;
mod secrets;
mod seeds;
mod sse;
mod stale_tokens;
mod transport;
mod ws_protocol;
