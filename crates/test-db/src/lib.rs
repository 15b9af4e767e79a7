//! The one way tests get a database. SQLite: a file in a temporary directory. PostgreSQL: a
//! database on the server of `TEST_DATABASE_URL`, either empty ([`TestDb::empty`], for tests that
//! migrate themselves) or `CREATE`d from a template that is migrated once per test process
//! ([`TestDb::from_template`]), so each test pays for a file copy, not for the migrations. Either
//! is dropped when the test ends.
//!
//! Without `TEST_DATABASE_URL` the PostgreSQL runs are skipped with one printed line; with
//! `COLLOQUY_REQUIRE_POSTGRES=1` a missing URL or an unreachable server fails them instead, so a
//! CI run can never pass without having run them.
//!
//! [`backend_tests!`] turns one async test body taking a [`Backend`] into a test per backend.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::HashMap;
use std::future::Future;
use std::io::Write;
use std::sync::{Arc, Mutex, Once, PoisonError};

use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use tokio::sync::OnceCell;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs an async body `|backend: Backend| async move { ... }` as two tests, `sqlite` and
/// `postgres`, in a module named after the test. A body that needs PostgreSQL gets its database
/// through [`TestDb`], which skips or fails as configured.
#[macro_export]
macro_rules! backend_tests {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                ($body)($crate::Backend::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                ($body)($crate::Backend::Postgres).await;
            }
        }
    };
}

/// Whether PostgreSQL runs must happen (`COLLOQUY_REQUIRE_POSTGRES=1`).
pub fn postgres_required() -> bool {
    std::env::var("COLLOQUY_REQUIRE_POSTGRES").is_ok_and(|v| v == "1")
}

static SKIP_NOTICE: Once = Once::new();

/// `TEST_DATABASE_URL`, or None after printing once that PostgreSQL runs are skipped. Panics
/// when PostgreSQL is required and not configured.
pub fn postgres_url() -> Option<String> {
    match std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
    {
        Some(url) => Some(url),
        None => {
            assert!(
                !postgres_required(),
                "COLLOQUY_REQUIRE_POSTGRES=1 but TEST_DATABASE_URL is not set"
            );
            SKIP_NOTICE.call_once(|| {
                // Written past libtest's capture on purpose: one visible line per run.
                let _ = writeln!(
                    std::io::stderr(),
                    "note: PostgreSQL test runs skipped: TEST_DATABASE_URL is not set"
                );
            });
            None
        }
    }
}

/// The URL of database `name` on the server of `url` (query parameters kept).
pub fn with_database(url: &str, name: &str) -> String {
    let mut u = url::Url::parse(url).expect("TEST_DATABASE_URL is a URL");
    u.set_path(&format!("/{name}"));
    u.to_string()
}

async fn admin(url: &str) -> DatabaseConnection {
    Database::connect(url)
        .await
        .expect("connect to TEST_DATABASE_URL (is PostgreSQL running?)")
}

/// Templates made ready in this process, by name.
fn templates() -> &'static Mutex<HashMap<String, Arc<OnceCell<()>>>> {
    static READY: std::sync::OnceLock<Mutex<HashMap<String, Arc<OnceCell<()>>>>> =
        std::sync::OnceLock::new();
    READY.get_or_init(|| Mutex::new(HashMap::new()))
}

/// (Re)creates template `name` and runs `migrate` on its URL, once per process. A PostgreSQL
/// advisory lock keeps two test processes from rebuilding it at the same moment.
async fn ensure_template<F, Fut>(admin_url: &str, name: &str, migrate: F)
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = ()>,
{
    let cell = Arc::clone(
        templates()
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(name.to_owned())
            .or_default(),
    );
    cell.get_or_init(|| async {
        let conn = admin(admin_url).await;
        conn.execute_unprepared("SELECT pg_advisory_lock(727274)")
            .await
            .expect("advisory lock");
        conn.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await
            .expect("drop template");
        conn.execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create template");
        migrate(with_database(admin_url, name)).await;
        conn.execute_unprepared("SELECT pg_advisory_unlock(727274)")
            .await
            .expect("advisory unlock");
        conn.close().await.ok();
    })
    .await;
}

/// A database of its own for one test.
pub struct TestDb {
    pub url: String,
    kind: Kind,
}

enum Kind {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

impl TestDb {
    /// A fresh, empty database (no migrations), or None when `backend` is PostgreSQL and it is
    /// not configured (and not required).
    pub async fn empty(backend: Backend) -> Option<Self> {
        Self::create(backend, None).await
    }

    /// A fresh database created from template `template` (a name that must change whenever what
    /// `migrate` builds changes), which `migrate` builds once per process from its URL. On SQLite
    /// the file starts empty and `migrate` is not called: SQLite tests migrate their own file.
    pub async fn from_template<F, Fut>(backend: Backend, template: &str, migrate: F) -> Option<Self>
    where
        F: FnOnce(String) -> Fut,
        Fut: Future<Output = ()>,
    {
        if backend == Backend::Postgres
            && let Some(admin_url) = postgres_url()
        {
            ensure_template(&admin_url, template, migrate).await;
        }
        Self::create(backend, Some(template)).await
    }

    async fn create(backend: Backend, template: Option<&str>) -> Option<Self> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temporary directory");
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
                Some(Self {
                    url,
                    kind: Kind::Sqlite(dir),
                })
            }
            Backend::Postgres => {
                let admin_url = postgres_url()?;
                let name = format!("colloquy_test_{}", cuid2::create_id());
                let conn = admin(&admin_url).await;
                let create = match template {
                    Some(t) => format!("CREATE DATABASE {name} TEMPLATE {t}"),
                    None => format!("CREATE DATABASE {name}"),
                };
                conn.execute_unprepared(&create)
                    .await
                    .expect("create the test database");
                conn.close().await.ok();
                Some(Self {
                    url: with_database(&admin_url, &name),
                    kind: Kind::Postgres { admin_url, name },
                })
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Kind::Postgres { admin_url, name } = &self.kind {
            let (admin_url, name) = (admin_url.clone(), name.clone());
            // Drop runs inside the test's runtime; a thread with its own runtime can block on it.
            let _ = std::thread::spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                rt.block_on(async move {
                    let conn = admin(&admin_url).await;
                    let _ = conn
                        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                });
            })
            .join();
        }
    }
}
