//! The persistence layer's errors. Callers above map them once: `Db` becomes INTERNAL (logged,
//! never shown), `Conflict` becomes CONFLICT, `InvalidCursor` becomes BAD_USER_INPUT.

use core_domain::enums::UnknownVariant;
use sea_orm::{DbErr, SqlErr};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed or refused a statement.
    #[error("database error: {0}")]
    Db(DbErr),
    /// A unique constraint refused the write; the string names what clashed (e.g. "email").
    #[error("{0} already exists")]
    Conflict(&'static str),
    /// A pagination cursor that this server did not issue, or for another ordering.
    #[error("invalid cursor")]
    InvalidCursor,
    /// A stored value that the code does not understand (a bad enum spelling, say).
    #[error("corrupt row: {0}")]
    Corrupt(#[from] UnknownVariant),
    /// Migrations could not be applied or reverted.
    #[error("migration failed: {0}")]
    Migration(DbErr),
}

impl From<DbErr> for StoreError {
    fn from(e: DbErr) -> Self {
        StoreError::Db(e)
    }
}

impl StoreError {
    /// Maps a unique-constraint violation to `Conflict(what)`, anything else to `Db`.
    pub fn conflict_or_db(e: DbErr, what: &'static str) -> Self {
        match e.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => StoreError::Conflict(what),
            _ => StoreError::Db(e),
        }
    }
}
