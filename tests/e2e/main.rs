//! End-to-end tests: each module exercises one area through GraphQL over HTTP and WebSocket, on
//! SQLite and on PostgreSQL (see `colloquy_tests::e2e!`). One test binary keeps link time down.

mod access;
mod accounts;
mod chat;
mod conventions;
mod conversations;
mod identity;
mod playground;
mod queries;
mod schema;
mod secrets;
mod seeds;
mod transport;
