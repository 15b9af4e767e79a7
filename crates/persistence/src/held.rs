//! One pooled connection held for a run of statements ([`Db::hold`](crate::Db::hold)).
//!
//! Why: sqlx tests every connection as it goes back to its pool, always (a `Sync` message and
//! its answer on PostgreSQL; a hop to the connection's thread and back on SQLite). A read of
//! three statements through the pool pays three such tests, and on the small nested read under
//! 16 clients they were 7% of the server's CPU (issue 8), besides the database's own share. A
//! planned read runs its levels one after the other on one held connection and pays one.
//!
//! A held connection runs the statements SeaORM builds exactly as SeaORM runs them on the pool
//! (the same sqlx query, the same binding of values, the same rows), and counts them in the pool's
//! statistics. It is for reads that run in sequence: statements sent at once take turns on it.

use std::time::Instant;

use futures::lock::Mutex;
use sea_orm::sqlx::pool::PoolConnection;
use sea_orm::sqlx::{self, Postgres, Sqlite};
use sea_orm::{
    ConnAcquireErr, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, ExecResult, QueryResult,
    RuntimeErr, Statement, Values,
};
use sea_query_sqlx::SqlxValues;

use crate::StoreError;
use crate::db::Recorder;

/// `body` with `c` bound to the held connection of whichever driver it is (the body is the same
/// code, typed once per driver).
macro_rules! on_driver {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            Conn::Postgres($c) => $body,
            Conn::Sqlite($c) => $body,
        }
    };
}

/// A connection taken from the pool, given back when this is dropped.
pub struct Held {
    conn: Mutex<Conn>,
    backend: DbBackend,
    recorder: Recorder,
}

enum Conn {
    Postgres(PoolConnection<Postgres>),
    Sqlite(PoolConnection<Sqlite>),
}

impl Held {
    pub(crate) async fn acquire(
        pool: &DatabaseConnection,
        recorder: Recorder,
    ) -> Result<Self, StoreError> {
        let backend = pool.get_database_backend();
        let conn = match backend {
            DbBackend::Postgres => Conn::Postgres(
                pool.get_postgres_connection_pool()
                    .acquire()
                    .await
                    .map_err(acquire_error)?,
            ),
            _ => Conn::Sqlite(
                pool.get_sqlite_connection_pool()
                    .acquire()
                    .await
                    .map_err(acquire_error)?,
            ),
        };
        Ok(Self {
            conn: Mutex::new(conn),
            backend,
            recorder,
        })
    }

    /// Runs `stmt` as SeaORM runs it on the pool (all its rows, or only the first when `one`),
    /// recording it as the pool's statements are.
    async fn fetch(&self, stmt: &Statement, one: bool) -> Result<Vec<QueryResult>, DbErr> {
        let mut conn = self.conn.lock().await;
        let started = Instant::now();
        let rows = on_driver!(&mut *conn, |c| if one {
            let row = query(stmt).fetch_optional(&mut **c).await;
            row.map(|row| row.into_iter().map(QueryResult::from).collect())
        } else {
            let rows = query(stmt).fetch_all(&mut **c).await;
            rows.map(|rows| rows.into_iter().map(QueryResult::from).collect())
        });
        self.recorder
            .record(&stmt.sql, started.elapsed(), rows.is_err());
        rows.map_err(|e| DbErr::Query(RuntimeErr::SqlxError(e.into())))
    }

    /// Runs `stmt` for its effect; unprepared (one or more statements as text, nothing bound)
    /// when `unprepared`, as SeaORM's `execute_unprepared` does.
    async fn execute(&self, stmt: &Statement, unprepared: bool) -> Result<ExecResult, DbErr> {
        let mut conn = self.conn.lock().await;
        let started = Instant::now();
        let done = on_driver!(&mut *conn, |c| if unprepared {
            let raw = sqlx::raw_sql(sqlx::AssertSqlSafe(stmt.sql.clone()));
            raw.execute(&mut **c).await.map(ExecResult::from)
        } else {
            query(stmt).execute(&mut **c).await.map(ExecResult::from)
        });
        self.recorder
            .record(&stmt.sql, started.elapsed(), done.is_err());
        done.map_err(|e| DbErr::Exec(RuntimeErr::SqlxError(e.into())))
    }
}

/// `stmt` as a sqlx query, with its values bound as SeaORM binds them.
fn query<DB>(stmt: &Statement) -> sqlx::query::Query<'_, DB, SqlxValues>
where
    DB: sqlx::Database,
    SqlxValues: sqlx::IntoArguments<DB>,
{
    let values = stmt.values.clone().unwrap_or(Values(Vec::new()));
    sqlx::query_with(sqlx::AssertSqlSafe(stmt.sql.as_str()), SqlxValues(values))
}

fn acquire_error(e: sqlx::Error) -> StoreError {
    StoreError::from(match e {
        sqlx::Error::PoolTimedOut => DbErr::ConnectionAcquire(ConnAcquireErr::Timeout),
        sqlx::Error::PoolClosed => DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed),
        e => DbErr::Conn(RuntimeErr::SqlxError(e.into())),
    })
}

#[async_trait::async_trait]
impl ConnectionTrait for Held {
    fn get_database_backend(&self) -> DbBackend {
        self.backend
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.execute(&stmt, false).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.execute(&Statement::from_string(self.backend, sql), true)
            .await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        Ok(self.fetch(&stmt, true).await?.into_iter().next())
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.fetch(&stmt, false).await
    }
}
